//! Faults injected into the emulator and the network, asserted on the outcome and on the exact
//! requests made.

use crate::emulator::Emulator;
use crate::mocks::invoke;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use codedeploy_relink::aws::Clients;
use codedeploy_relink::domain::config::Config;
use codedeploy_relink::domain::report::Outcome;
use codedeploy_relink::usecases::invocation::Relinker;
use serde_json::{json, Value};
use std::time::Duration;

const SUCCESS: &str = "events/sns-deployment-success.json";

fn base() -> Value {
    json!({"application": "web", "deployment_group": "web-bg", "deployment_id": "d-75I7MBT7C"})
}

fn with(mut spec: Value, extra: Value) -> Value {
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    spec
}

#[test]
fn classic_attach_denied_keeps_the_target_groups_and_a_replay_completes_the_rest() {
    let mut emulator = Emulator::start();
    let world = emulator.build(with(
        base(),
        json!({"target_groups": 2, "classic_load_balancers": 1}),
    ));
    emulator.reset_requests();
    emulator.fail("AttachLoadBalancers", 403, "AccessDenied", 1);

    let first = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(first.output.status.code(), Some(1));
    let report = first.report();
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["error_code"], "AccessDenied");
    assert!(
        report["detail"]
            .as_str()
            .unwrap()
            .contains("AttachLoadBalancers"),
        "{report}"
    );
    assert_eq!(
        report["target_groups"]["attached"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(report["load_balancers"]["missing"], json!(["web-bg-clb-1"]));
    assert!(
        first.stderr().contains("\nerror: ") && !first.stderr().contains("a retry may help"),
        "{}",
        first.stderr()
    );

    emulator.reset_requests();
    let replay = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(replay.success(), "{}", replay.stderr());
    let report = replay.report();
    assert_eq!(report["outcome"], "relinked");
    assert_eq!(
        report["target_groups"]["already_present"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        report["load_balancers"]["attached"],
        json!(["web-bg-clb-1"])
    );
    let requests = emulator.requests();
    assert_eq!(
        requests.get("autoscaling:AttachLoadBalancerTargetGroups"),
        None,
        "no duplicate mutation"
    );
    assert_eq!(requests["autoscaling:AttachLoadBalancers"], 1);
    let group = emulator.group(world["replacement_group"].as_str().unwrap());
    assert_eq!(group["load_balancer_names"], json!(["web-bg-clb-1"]));
}

#[test]
fn server_errors_are_retried_by_the_sdk() {
    let mut emulator = Emulator::start();
    emulator.build(base());
    emulator.reset_requests();
    emulator.fail("GetDeployment", 500, "InternalFailure", 2);
    emulator.fail("DescribeAutoScalingGroups", 400, "Throttling", 1);
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["outcome"], "relinked");
    let requests = emulator.requests();
    assert_eq!(
        requests["codedeploy:GetDeployment"], 3,
        "two failures, then success"
    );
    // Throttled, retried, and read again just before the attach.
    assert_eq!(requests["autoscaling:DescribeAutoScalingGroups"], 3);
}

#[test]
fn retries_are_configurable_with_aws_max_attempts() {
    let mut emulator = Emulator::start();
    emulator.build(base());
    emulator.reset_requests();
    emulator.fail("GetDeployment", 503, "ServiceUnavailable", 5);
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[("AWS_MAX_ATTEMPTS", "2")]);
    assert_eq!(run.output.status.code(), Some(1));
    let report = run.report();
    assert_eq!(report["error_code"], "ServiceUnavailable");
    assert!(
        run.stderr().contains("(a retry may help)"),
        "{}",
        run.stderr()
    );
    assert_eq!(emulator.requests()["codedeploy:GetDeployment"], 2);
}

#[tokio::test]
async fn a_call_that_never_answers_times_out_naming_the_call() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let _silent = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8).flatten() {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(codedeploy_relink::aws::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_codedeploy::config::Credentials::for_tests())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(300))
                .operation_timeout(Duration::from_millis(500))
                .build(),
        )
        .load()
        .await;
    let relinker = Relinker::new(Clients::new(&sdk), Config::default());
    let event: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let invocation = invoke(&relinker, &event).await;
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.error_code.as_deref(), Some("Timeout"));
    let error = invocation.error.expect("the invocation fails").to_string();
    assert!(
        error.contains("GetDeployment") && error.contains("d-75I7MBT7C"),
        "{error}"
    );
    assert!(error.contains("timeout"), "{error}");
}

#[test]
fn a_hundred_deployments_in_one_batch_are_all_linked_once() {
    let mut emulator = Emulator::start();
    let mut records = Vec::new();
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string("events/sqs-sns-success.json").unwrap())
            .unwrap();
    let template = sample["Records"][0].clone();
    let mut worlds = Vec::new();
    for i in 0..100 {
        let world = emulator.build(json!({"application": format!("app{i:03}"),
            "deployment_group": format!("g{i:03}-bg"), "target_groups": 1}));
        let mut envelope: Value = serde_json::from_str(template["body"].as_str().unwrap()).unwrap();
        let mut message: Value =
            serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        message["applicationName"] = world["application"].clone();
        message["deploymentGroupName"] = world["deployment_group"].clone();
        message["deploymentId"] = world["deployment_id"].clone();
        envelope["Message"] = json!(message.to_string());
        let mut record = template.clone();
        record["messageId"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
        record["body"] = json!(envelope.to_string());
        records.push(record);
        worlds.push(world);
    }
    emulator.reset_requests();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut file,
        json!({"Records": records}).to_string().as_bytes(),
    )
    .unwrap();
    // About batching, not pace: the load tests hold relink to its share of the ELB budget
    // (a hundred groups' target health at the CLI's 2 a second would take a minute).
    let run = emulator.relink(
        &["--json", "replay", file.path().to_str().unwrap()],
        &[("RELINK_ELB_SHARE", "10/40")],
    );
    assert!(run.success(), "{}", run.stderr());
    let response = run.response();
    assert_eq!(response["summary"]["batch_item_failures"], json!([]));
    let reports = response["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 100);
    assert!(
        reports.iter().all(|r| r["outcome"] == "relinked"),
        "{response}"
    );
    let requests = emulator.requests();
    assert_eq!(
        requests["autoscaling:AttachLoadBalancerTargetGroups"], 100,
        "exactly one attach per group"
    );
    assert_eq!(requests["codedeploy:GetDeployment"], 100);
    for world in &worlds {
        let group = emulator.group(world["replacement_group"].as_str().unwrap());
        assert_eq!(
            group["target_group_arns"].as_array().unwrap().len(),
            1,
            "{world}"
        );
    }
}

#[test]
fn a_large_event_reads_at_most_eight_deployments_at_a_time() {
    let mut emulator = Emulator::start();
    emulator.delay("GetDeployment", 0.1);
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let template = sample["Records"][0].clone();
    let records: Vec<Value> = (0..40)
        .map(|i| {
            let mut record = template.clone();
            let mut message: Value =
                serde_json::from_str(record["Sns"]["Message"].as_str().unwrap()).unwrap();
            message["deploymentId"] = json!(format!("d-{i:09}"));
            record["Sns"]["Message"] = json!(message.to_string());
            record
        })
        .collect();
    let file = crate::fixtures::event_file(&json!({ "Records": records }));
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(run.success(), "{}", run.stderr());
    let reports = run.response()["reports"].clone();
    assert_eq!(reports.as_array().unwrap().len(), 40);
    assert!(reports
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["reason"] == "deployment_not_found"));
    assert_eq!(
        emulator.peak_in_flight()["GetDeployment"],
        codedeploy_relink::aws::MAX_CONCURRENT_CALLS as u64
    );
}
