//! Forced AWS answers with aws-smithy-mocks, through the real SDK clients and their standard
//! retries: throttling, server errors, access denied, missing deployments and attach batching.

use aws_sdk_autoscaling::operation::attach_load_balancer_target_groups::{
    AttachLoadBalancerTargetGroupsInput, AttachLoadBalancerTargetGroupsOutput,
};
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, LifecycleState};
use aws_sdk_codedeploy::operation::get_deployment::{GetDeploymentError, GetDeploymentOutput};
use aws_sdk_codedeploy::operation::list_deployments::ListDeploymentsOutput;
use aws_sdk_codedeploy::types::{
    BlueGreenDeploymentConfiguration, ComputePlatform, DeploymentInfo, DeploymentOption,
    DeploymentStatus, DeploymentStyle, DeploymentType, ElbInfo, GreenFleetProvisioningAction,
    GreenFleetProvisioningOption, LoadBalancerInfo, TargetGroupInfo, TargetInstances,
};
use aws_sdk_elasticloadbalancing::operation::describe_instance_health::DescribeInstanceHealthOutput;
use aws_sdk_elasticloadbalancing::types::InstanceState;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetGroup, TargetHealth, TargetHealthDescription, TargetHealthStateEnum,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use codedeploy_relink::aws::Clients;
use codedeploy_relink::domain::config::Config;
use codedeploy_relink::domain::report::Outcome;
use codedeploy_relink::usecases::invocation::{Caller, Relinker};
use codedeploy_relink::usecases::invocation::{InvocationError, Response};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEPLOYMENT: &str = "d-75I7MBT7C";
const GROUP: &str = "CodeDeploy_web-bg_d-75I7MBT7C";
const SNS_SUCCESS: &str = include_str!("../../events/sns-deployment-success.json");
/// The function's own ARN, in the account and region of the sample events.
pub(crate) const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:relink";
/// The replacement group's one instance.
const INSTANCE: &str = "i-0123456789abcdef0";

fn tg_name(i: usize) -> String {
    format!("web-tg-{i}")
}

fn tg_arn(name: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/0123456789abcdef"
    )
}

/// A succeeded copied blue/green deployment listing `target_groups` target groups and the
/// classic load balancers `classic`.
fn deployment(target_groups: usize, classic: &[&str]) -> GetDeploymentOutput {
    let mut info = LoadBalancerInfo::builder();
    for i in 0..target_groups {
        info = info.target_group_info_list(TargetGroupInfo::builder().name(tg_name(i)).build());
    }
    for name in classic {
        info = info.elb_info_list(ElbInfo::builder().name(*name).build());
    }
    GetDeploymentOutput::builder()
        .deployment_info(
            DeploymentInfo::builder()
                .deployment_id(DEPLOYMENT)
                .application_name("web")
                .deployment_group_name("web-bg")
                .status(DeploymentStatus::Succeeded)
                .compute_platform(ComputePlatform::Server)
                .deployment_style(
                    DeploymentStyle::builder()
                        .deployment_type(DeploymentType::BlueGreen)
                        .deployment_option(DeploymentOption::WithTrafficControl)
                        .build(),
                )
                .blue_green_deployment_configuration(
                    BlueGreenDeploymentConfiguration::builder()
                        .green_fleet_provisioning_option(
                            GreenFleetProvisioningOption::builder()
                                .action(GreenFleetProvisioningAction::CopyAutoScalingGroup)
                                .build(),
                        )
                        .build(),
                )
                .target_instances(
                    TargetInstances::builder()
                        .auto_scaling_groups(GROUP)
                        .build(),
                )
                .load_balancer_info(info.build())
                .instance_termination_wait_time_started(true)
                .build(),
        )
        .build()
}

fn get_deployment(target_groups: usize, classic: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_codedeploy::Client::get_deployment)
        .then_output(move || deployment(target_groups, classic))
}

fn attach_load_balancers() -> Rule {
    mock!(aws_sdk_autoscaling::Client::attach_load_balancers).then_output(|| {
        aws_sdk_autoscaling::operation::attach_load_balancers::AttachLoadBalancersOutput::builder()
            .build()
    })
}

/// Answers DescribeTargetGroups with an ARN for every name asked.
fn describe_target_groups() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_compute_output(
        |input| {
            let groups = input.names().iter().map(|n| {
                TargetGroup::builder()
                    .target_group_name(n)
                    .target_group_arn(tg_arn(n))
                    .build()
            });
            DescribeTargetGroupsOutput::builder()
                .set_target_groups(Some(groups.collect()))
                .build()
        },
    )
}

fn group_output() -> DescribeAutoScalingGroupsOutput {
    DescribeAutoScalingGroupsOutput::builder()
        .auto_scaling_groups(
            AutoScalingGroup::builder()
                .auto_scaling_group_name(GROUP)
                .min_size(1)
                .max_size(4)
                .desired_capacity(2)
                .default_cooldown(300)
                .availability_zones("us-east-1a")
                .health_check_type("EC2")
                .created_time(aws_sdk_autoscaling::primitives::DateTime::from_secs(0))
                .instances(
                    Instance::builder()
                        .instance_id(INSTANCE)
                        .availability_zone("us-east-1a")
                        .lifecycle_state(LifecycleState::InService)
                        .health_status("Healthy")
                        .protected_from_scale_in(false)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn describe_group() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(group_output)
}

/// Every target group serves the replacement group's instance: CodeDeploy moved traffic to it.
fn describe_target_health() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_output(|| {
        DescribeTargetHealthOutput::builder()
            .target_health_descriptions(
                TargetHealthDescription::builder()
                    .target(TargetDescription::builder().id(INSTANCE).port(80).build())
                    .target_health(
                        TargetHealth::builder()
                            .state(TargetHealthStateEnum::Healthy)
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

/// Every classic load balancer serves the replacement group's instance.
fn describe_instance_health() -> Rule {
    mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health).then_output(|| {
        DescribeInstanceHealthOutput::builder()
            .instance_states(
                InstanceState::builder()
                    .instance_id(INSTANCE)
                    .state("InService")
                    .description("N/A")
                    .build(),
            )
            .build()
    })
}

fn attach_target_groups() -> Rule {
    mock!(aws_sdk_autoscaling::Client::attach_load_balancer_target_groups)
        .then_output(|| AttachLoadBalancerTargetGroupsOutput::builder().build())
}

/// ListDeployments of the deployment group: the deployments created since the replacement
/// group's that have started (`ids`).
fn list_deployments(ids: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_codedeploy::Client::list_deployments).then_output(move || {
        ListDeploymentsOutput::builder()
            .set_deployments(Some(ids.iter().map(|i| i.to_string()).collect()))
            .build()
    })
}

/// Clients answered by the rules, with the SDK's standard retries (3 attempts, near-zero backoff).
/// Elastic Load Balancing v2 and classic ELB answer the live-fleet round: the replacement group's
/// instance is registered everywhere; CodeDeploy's ListDeployments (after the test's own rules)
/// lists no newer deployment. STS has no rule: the Lambda knows its account from its ARN.
pub(crate) fn clients(codedeploy: &[&Rule], elbv2: &[&Rule], autoscaling: &[&Rule]) -> Clients {
    use aws_sdk_codedeploy::config::retry::RetryConfig;
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1));
    let (target_health, instance_health) = (describe_target_health(), describe_instance_health());
    let elbv2: Vec<&Rule> = elbv2.iter().copied().chain([&target_health]).collect();
    let newest = list_deployments(&[DEPLOYMENT]);
    let codedeploy: Vec<&Rule> = codedeploy.iter().copied().chain([&newest]).collect();
    Clients {
        region: Some("us-east-1".into()),
        codedeploy: mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, &codedeploy, |c| c
            .retry_config(retry.clone())),
        elbv2: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            &elbv2,
            |c| c.retry_config(retry.clone())
        ),
        elb: mock_client!(
            aws_sdk_elasticloadbalancing,
            RuleMode::MatchAny,
            [&instance_health],
            |c| c.retry_config(retry.clone())
        ),
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, autoscaling, |c| c
            .retry_config(retry.clone())),
        sts: mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[] as &[&Rule], |c| c
            .retry_config(retry.clone())),
        sqs: aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                .build(),
        ),
    }
}

/// How one invocation ended, as the Lambda edge answers it.
pub(crate) struct Invocation {
    pub response: Response,
    pub error: Option<InvocationError>,
}

/// One invocation, as the Lambda function runs it (decoded, handled, answered).
pub(crate) async fn invoke(relinker: &Relinker, payload: &serde_json::Value) -> Invocation {
    let (response, error) = relinker
        .invoke(payload, Caller::Function(FUNCTION_ARN))
        .await;
    Invocation { response, error }
}

/// The AWS a test talks to: a succeeded copied blue/green deployment and a rule answering every
/// call the relink path makes. A test replaces the rules it forces and asks each how often it was
/// called.
struct Aws {
    get: Rule,
    list: Rule,
    describe_tg: Rule,
    describe_asg: Rule,
    attach_tg: Rule,
    attach_lb: Rule,
}

impl Aws {
    /// A deployment listing `target_groups` target groups and the classic load balancers `classic`.
    fn deployment(target_groups: usize, classic: &'static [&'static str]) -> Self {
        Aws {
            get: get_deployment(target_groups, classic),
            list: list_deployments(&[DEPLOYMENT]),
            describe_tg: describe_target_groups(),
            describe_asg: describe_group(),
            attach_tg: attach_target_groups(),
            attach_lb: attach_load_balancers(),
        }
    }

    /// The SNS success notification through the function.
    async fn invoke(&self) -> Invocation {
        let clients = clients(
            &[&self.get, &self.list],
            &[&self.describe_tg],
            &[&self.describe_asg, &self.attach_tg, &self.attach_lb],
        );
        let payload: serde_json::Value = serde_json::from_str(SNS_SUCCESS).unwrap();
        invoke(&Relinker::new(clients, Config::default()), &payload).await
    }
}

fn json_error(status: u16, code: &str) -> (u16, Option<String>) {
    (
        status,
        Some(format!(
            r#"{{"__type":"{code}","message":"{code} from the mock"}}"#
        )),
    )
}

fn query_error(status: u16, code: &str, message: &str) -> (u16, Option<String>) {
    (
        status,
        Some(format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        )),
    )
}

/// A rule answering every call with this query-protocol error.
fn failing<I, O, E>(
    rule: aws_smithy_mocks::RuleBuilder<I, O, E>,
    status: u16,
    code: &str,
    message: &str,
) -> Rule
where
    I: Send + Sync + std::fmt::Debug + 'static,
    O: Send + Sync + std::fmt::Debug + 'static,
    E: Send + Sync + std::fmt::Debug + std::error::Error + 'static,
{
    let (status, body) = query_error(status, code, message);
    rule.sequence()
        .http_status(status, body)
        .repeatedly()
        .build()
}

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

#[tokio::test]
async fn twenty_three_target_groups_attach_in_calls_of_at_most_ten() {
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let record = seen.clone();
    let aws = Aws {
        attach_tg: mock!(aws_sdk_autoscaling::Client::attach_load_balancer_target_groups)
            .then_compute_output(move |input: &AttachLoadBalancerTargetGroupsInput| {
                record
                    .lock()
                    .unwrap()
                    .push(input.target_group_arns().to_vec());
                AttachLoadBalancerTargetGroupsOutput::builder().build()
            }),
        ..Aws::deployment(23, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);

    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| !c.is_empty() && c.len() <= 10),
        "{calls:?}"
    );
    let mut attached: Vec<String> = calls.into_iter().flatten().collect();
    attached.sort();
    let mut expected: Vec<String> = (0..23).map(|i| tg_arn(&tg_name(i))).collect();
    expected.sort();
    assert_eq!(attached, expected);
    assert_eq!(
        aws.describe_tg.num_calls(),
        2,
        "names are resolved 20 per call"
    );
}

#[tokio::test]
async fn missing_deployment_is_a_skip() {
    let aws = Aws {
        get: mock!(aws_sdk_codedeploy::Client::get_deployment).then_error(|| {
            GetDeploymentError::DeploymentDoesNotExistException(
                aws_sdk_codedeploy::types::error::DeploymentDoesNotExistException::builder()
                    .message("no such deployment")
                    .build(),
            )
        }),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none());
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::Skipped);
    assert_eq!(
        report.reason.map(|r| r.code()),
        Some("deployment_not_found")
    );
    assert_eq!(
        aws.describe_asg.num_calls() + aws.describe_tg.num_calls(),
        0
    );
}

#[tokio::test]
async fn one_failed_attach_kind_keeps_what_succeeded_in_the_report() {
    let aws = Aws {
        attach_lb: failing(
            mock!(aws_sdk_autoscaling::Client::attach_load_balancers),
            403,
            "AccessDenied",
            "not authorized to perform: autoscaling:AttachLoadBalancers",
        ),
        ..Aws::deployment(1, &["web-clb"])
    };
    let invocation = aws.invoke().await;
    let error = invocation.error.expect("the invocation must fail");
    assert!(error.to_string().contains("AttachLoadBalancers"), "{error}");
    let report = &invocation.response.reports[0];
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.target_groups.attached, vec![tg_arn(&tg_name(0))]);
    assert_eq!(report.load_balancers.missing, vec!["web-clb".to_owned()]);
    assert_eq!(aws.attach_tg.num_calls(), 1);
}

#[tokio::test]
async fn a_newer_started_deployment_supersedes_the_copy_and_nothing_is_attached() {
    let aws = Aws {
        list: list_deployments(&[DEPLOYMENT, "d-NEWER0001"]),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    let report = &invocation.response.reports[0];
    assert_eq!(report.reason.map(|r| r.code()), Some("superseded"));
    assert!(
        report.detail.as_deref().unwrap().contains("d-NEWER0001"),
        "{report:?}"
    );
    assert_eq!(aws.list.num_calls(), 1);
    assert_eq!(aws.attach_tg.num_calls(), 0);
}

#[tokio::test]
async fn a_newest_copy_check_that_fails_fails_the_job_and_attaches_nothing() {
    let (status, body) = json_error(400, "ThrottlingException");
    let aws = Aws {
        list: mock!(aws_sdk_codedeploy::Client::list_deployments)
            .sequence()
            .http_status(status, body)
            .repeatedly()
            .build(),
        ..Aws::deployment(1, &[])
    };
    let invocation = aws.invoke().await;
    let error = invocation.error.expect("the invocation must fail");
    assert_eq!(error.error_type(), "Relink.Retryable");
    assert!(error.to_string().contains("ListDeployments"), "{error}");
    assert_eq!(aws.list.num_calls(), 3, "the SDK's 3 attempts");
    assert_eq!(aws.attach_tg.num_calls(), 0);
}
