//! Throttles, server errors and access denied, forced through the SDK's standard retries.

use super::*;

#[tokio::test]
async fn throttling_then_success_is_retried_by_the_sdk() {
    let (status, body) = json_error(400, "ThrottlingException");
    let aws = Aws {
        get: mock!(aws_sdk_codedeploy::Client::get_deployment)
            .sequence()
            .http_status(status, body)
            .times(2)
            .output(|| deployment(1, &[]))
            .build(),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    assert_eq!(invocation.response.reports[0].outcome, Outcome::Relinked);
    assert_eq!(aws.get.num_calls(), 3);
    assert_eq!(aws.attach_tg.num_calls(), 1);
}

#[tokio::test]
async fn server_error_on_attach_then_success() {
    let (status, body) = query_error(503, "ServiceUnavailable", "try again");
    let aws = Aws {
        attach_tg: mock!(aws_sdk_autoscaling::Client::attach_load_balancer_target_groups)
            .sequence()
            .http_status(status, body)
            .output(|| AttachLoadBalancerTargetGroupsOutput::builder().build())
            .build(),
        ..Aws::deployment(2, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    assert_eq!(
        invocation.response.reports[0].target_groups.attached.len(),
        2
    );
    assert_eq!(aws.attach_tg.num_calls(), 2);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_fails_as_retryable() {
    let aws = Aws {
        describe_asg: failing(
            mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups),
            400,
            "Throttling",
            "Rate exceeded",
        ),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    let error = invocation.error.expect("the invocation must fail");
    assert_eq!(error.error_type(), "Relink.Retryable");
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.error_code.as_deref(), Some("Throttling"));
    assert_eq!(aws.describe_asg.num_calls(), 3, "the SDK's 3 attempts");
    assert_eq!(aws.attach_tg.num_calls(), 0);
}

#[tokio::test]
async fn access_denied_names_the_deployment_the_call_and_the_code() {
    let aws = Aws {
        attach_tg: failing(
            mock!(aws_sdk_autoscaling::Client::attach_load_balancer_target_groups),
            403,
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/relink/fn is not authorized to perform: autoscaling:AttachLoadBalancerTargetGroups",
        ),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    let error = invocation.error.expect("the invocation must fail");
    assert_eq!(error.error_type(), "Relink.Failed");
    let text = error.to_string();
    for needle in [
        DEPLOYMENT,
        GROUP,
        "AttachLoadBalancerTargetGroups",
        "AccessDenied",
        "not authorized",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert_eq!(aws.attach_tg.num_calls(), 1, "access denied is not retried");
    let report = &invocation.response.reports[0];
    assert_eq!(report.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(report.target_groups.missing, vec![tg_arn(&tg_name(0))]);
    assert!(report.target_groups.attached.is_empty());
}
