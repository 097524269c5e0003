//! Helpers shared by the end-to-end tests: request counts, event files, world facts.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

pub const SUCCESS: &str = "events/sns-deployment-success.json";
pub const GET: &str = "codedeploy:GetDeployment";
pub const LIST: &str = "codedeploy:ListDeployments";
pub const GET_GROUP: &str = "codedeploy:GetDeploymentGroup";
pub const DESCRIBE_TG: &str = "elasticloadbalancing:DescribeTargetGroups";
pub const DESCRIBE_ASG: &str = "autoscaling:DescribeAutoScalingGroups";
pub const TARGET_HEALTH: &str = "elasticloadbalancing:DescribeTargetHealth";
pub const INSTANCE_HEALTH: &str = "elasticloadbalancing:DescribeInstanceHealth";
pub const ATTACH_TG: &str = "autoscaling:AttachLoadBalancerTargetGroups";
pub const ATTACH_LB: &str = "autoscaling:AttachLoadBalancers";
pub const STS: &str = "sts:GetCallerIdentity";
/// The function ARN the local Runtime API hands the Lambda binary: the samples' account.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:codedeploy-relink";

pub fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Requests that change something (anything but Describe, Get and List calls).
pub fn mutating(requests: &BTreeMap<String, u64>) -> u64 {
    requests
        .iter()
        .filter(|(action, _)| {
            let action = action.split(':').nth(1).unwrap_or_default();
            !["Describe", "Get", "List", "BatchGet"]
                .iter()
                .any(|read| action.starts_with(read))
        })
        .map(|(_, n)| n)
        .sum()
}

pub fn strings(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    items.sort();
    items
}

/// The world's target group ARNs, sorted.
pub fn target_group_arns(world: &Value) -> Vec<String> {
    let mut arns: Vec<String> = world["target_groups"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    arns.sort();
    arns
}

/// An event file written for one test.
pub fn event_file(event: &Value) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(event.to_string().as_bytes()).unwrap();
    file
}

/// The SNS sample, its trigger message changed by `change`.
pub fn sns_event(change: impl FnOnce(&mut Value)) -> Value {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let sns = &mut event["Records"][0]["Sns"];
    let mut message: Value = serde_json::from_str(sns["Message"].as_str().unwrap()).unwrap();
    change(&mut message);
    sns["Message"] = json!(message.to_string());
    event
}

/// The SNS success notification of another deployment of web/web-bg.
pub fn success_of(deployment_id: &str) -> Value {
    sns_event(|m| m["deploymentId"] = json!(deployment_id))
}

/// An SNS event carrying each of `messages` (trigger messages) in a record of its own, built from
/// the SNS sample.
pub fn sns_records(messages: &[Value]) -> Value {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let record = event["Records"][0].clone();
    event["Records"] = messages
        .iter()
        .map(|message| {
            let mut record = record.clone();
            record["Sns"]["Message"] = json!(message.to_string());
            record
        })
        .collect();
    event
}

/// CodeDeploy's `InstanceSuccess` trigger for `instance` of `deployment_id` (from
/// events/sns-instance-success.json: no application or group names, the instance as an ARN).
pub fn instance_success_sns(deployment_id: &str, instance: &str) -> Value {
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string("events/sns-instance-success.json").unwrap())
            .unwrap();
    let mut message: Value =
        serde_json::from_str(sample["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message["deploymentId"] = json!(deployment_id);
    message["instanceId"] = json!(format!(
        "arn:aws:ec2:us-east-1:123456789012:instance/{instance}"
    ));
    sns_records(&[message])
}

/// EventBridge's instance state change `SUCCESS` for `instance` of `deployment_id` of
/// web/web-bg, in `region` (from events/eventbridge-instance-success.json).
pub fn instance_success_eventbridge(deployment_id: &str, instance: &str, region: &str) -> Value {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string("events/eventbridge-instance-success.json").unwrap(),
    )
    .unwrap();
    event["region"] = json!(region);
    event["detail"]["region"] = json!(region);
    event["detail"]["deploymentId"] = json!(deployment_id);
    event["detail"]["instanceId"] = json!(instance);
    event
}
