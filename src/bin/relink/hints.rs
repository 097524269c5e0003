//! Hints for the common failures: what to set or grant, chosen from the failed AWS operation and
//! its error code ([`AwsError`], or a report's `error_operation` and `error_code`), never from a
//! message's text.

use crate::AwsChoice;
use codedeploy_relink::domain::error::AwsError;
use codedeploy_relink::domain::report::Report;
use codedeploy_relink::usecases::dlq::StackQueueError;

/// A hint for the failure a report records, when it is a common one.
pub(crate) async fn hint_for_report(report: &Report, aws: AwsChoice<'_>) -> Option<String> {
    let code = report.error_code.as_deref()?;
    hint_where(report.error_operation.as_deref(), code, aws).await
}

/// The hint for `code`, naming where the calls went when the code is about an endpoint that did
/// not answer (only then is the configuration read again for it).
async fn hint_where(operation: Option<&str>, code: &str, aws: AwsChoice<'_>) -> Option<String> {
    let at = match code {
        "EndpointUnreachable" | "Timeout" => endpoint(aws).await,
        _ => String::new(),
    };
    hint(operation, code, &at)
}

/// Where relink's AWS calls go, for a hint about one that got no answer: the endpoint set by
/// AWS_ENDPOINT_URL or the profile, or AWS's own in the region.
async fn endpoint((region, profile): AwsChoice<'_>) -> String {
    let config = codedeploy_relink::aws::load_config(region, profile).await;
    match (config.endpoint_url(), config.region()) {
        (Some(url), _) => format!("{url} (AWS_ENDPOINT_URL or the profile's endpoint_url)"),
        (None, Some(region)) => {
            format!("AWS's endpoints in {region} (https://SERVICE.{region}.amazonaws.com)")
        }
        (None, None) => "AWS's endpoints".to_owned(),
    }
}

/// A hint for an error of the whole command: the first AWS call failure in its chain.
pub(crate) async fn hint_for_error(error: &anyhow::Error, aws: AwsChoice<'_>) -> Option<String> {
    let aws_error = error.chain().find_map(|cause| {
        // A transparent wrapper shows its AWS error's text but is not that error itself.
        cause
            .downcast_ref::<AwsError>()
            .or(match cause.downcast_ref::<StackQueueError>() {
                Some(StackQueueError::Aws(aws)) => Some(aws),
                _ => None,
            })
    })?;
    hint_where(Some(aws_error.operation), &aws_error.code, aws).await
}

/// Whether a failure with this code belongs to the whole process (no credentials, no region), not
/// to the deployment or group it was met on.
pub(crate) fn of_the_process(code: &str) -> bool {
    matches!(code, "NoCredentials" | "NoRegion")
}

/// A hint for `code` met by `operation`: missing credentials or region, access denied (with the
/// IAM action to grant), an endpoint that does not answer (naming `endpoint`).
pub(crate) fn hint(operation: Option<&str>, code: &str, endpoint: &str) -> Option<String> {
    Some(match code {
        "NoCredentials" => "set AWS_PROFILE (or --profile), or run `aws sso login`".into(),
        "NoRegion" => "set AWS_REGION or pass --region".into(),
        "EndpointUnreachable" | "Timeout" => format!(
            "no answer from {endpoint}: check the network, the proxy settings (HTTPS_PROXY) and AWS_ENDPOINT_URL; -v shows each attempt"
        ),
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError" => {
            match operation.and_then(|op| IAM_ACTIONS.iter().find(|(name, _)| *name == op)) {
                Some((op, service)) => format!("grant {service}:{op} to the credentials in use"),
                None => "grant the IAM action named in the error to the credentials in use".into(),
            }
        }
        _ => return None,
    })
}

/// The IAM service prefix of every AWS operation relink calls (the function, the sweep, the
/// audits, the dead-letter commands).
const IAM_ACTIONS: [(&str, &str); 27] = [
    ("GetDeployment", "codedeploy"),
    ("GetDeploymentGroup", "codedeploy"),
    ("BatchGetDeployments", "codedeploy"),
    ("ListDeployments", "codedeploy"),
    ("ListApplications", "codedeploy"),
    ("ListDeploymentGroups", "codedeploy"),
    ("BatchGetDeploymentGroups", "codedeploy"),
    ("DescribeAutoScalingGroups", "autoscaling"),
    ("AttachLoadBalancerTargetGroups", "autoscaling"),
    ("AttachLoadBalancers", "autoscaling"),
    ("DetachLoadBalancerTargetGroups", "autoscaling"),
    ("DetachLoadBalancers", "autoscaling"),
    ("DescribeAutoScalingInstances", "autoscaling"),
    ("ListDeploymentTargets", "codedeploy"),
    ("DescribeTargetGroups", "elasticloadbalancing"),
    ("DescribeTargetHealth", "elasticloadbalancing"),
    ("DescribeInstanceHealth", "elasticloadbalancing"),
    ("ListQueues", "sqs"),
    ("GetQueueUrl", "sqs"),
    ("ReceiveMessage", "sqs"),
    ("DeleteMessage", "sqs"),
    ("ChangeMessageVisibility", "sqs"),
    ("GetCallerIdentity", "sts"),
    ("AssumeRole", "sts"),
    ("ListAccounts", "organizations"),
    ("ListRegions", "account"),
    ("DescribeStacks", "cloudformation"),
];

#[cfg(test)]
mod tests {
    use super::*;

    const E: &str = "http://127.0.0.1:9";

    #[test]
    fn hints_come_from_the_operation_and_the_code() {
        assert!(hint(Some("GetDeployment"), "Timeout", E)
            .unwrap()
            .starts_with("no answer from http://127.0.0.1:9: "));
        assert!(hint(Some("GetDeployment"), "NoCredentials", E)
            .unwrap()
            .contains("AWS_PROFILE"));
        assert!(hint(None, "NoRegion", E).unwrap().contains("--region"));
        assert_eq!(
            hint(Some("AttachLoadBalancers"), "AccessDenied", E).unwrap(),
            "grant autoscaling:AttachLoadBalancers to the credentials in use"
        );
        assert_eq!(
            hint(Some("AssumeRole"), "AccessDenied", E).unwrap(),
            "grant sts:AssumeRole to the credentials in use"
        );
        assert_eq!(
            hint(Some("Unknown"), "AccessDenied", E).unwrap(),
            "grant the IAM action named in the error to the credentials in use"
        );
        // The text of a message never chooses the hint.
        assert_eq!(hint(Some("GetDeployment"), "TargetGroupNotFound", E), None);
        assert_eq!(hint(None, "Throttling", E), None);
    }

    #[test]
    fn every_operation_relink_calls_has_its_iam_action() {
        const VERBS: [&str; 10] = [
            "Get", "List", "Describe", "Batch", "Attach", "Detach", "Receive", "Delete", "Change",
            "Assume",
        ];
        let root = env!("CARGO_MANIFEST_DIR");
        let mut seen = 0;
        for folder in [
            "src/aws",
            "src/usecases",
            "src/usecases/audit",
            "src/usecases/relink",
        ] {
            for file in std::fs::read_dir(format!("{root}/{folder}")).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // Every quoted CamelCase name that starts with an AWS verb: an operation's name.
                for name in text.split('"').skip(1).step_by(2) {
                    let operation = name.chars().all(char::is_alphanumeric)
                        && VERBS.iter().any(|v| {
                            name.strip_prefix(v)
                                .is_some_and(|rest| rest.starts_with(char::is_uppercase))
                        });
                    if operation {
                        seen += 1;
                        assert!(
                            IAM_ACTIONS.iter().any(|(op, _)| *op == name),
                            "{name} ({}) has no IAM action in IAM_ACTIONS",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(
            seen >= 20,
            "only {seen} operation names found: the scan is broken"
        );
    }
}
