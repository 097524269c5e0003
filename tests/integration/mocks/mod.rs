//! Forced AWS answers with aws-smithy-mocks, through the real SDK clients and their standard
//! retries: the world every test starts from (a succeeded copied deployment, a rule for each call
//! of the relink path); `retries` forces throttles, server errors and access denied; `rounds`
//! missing deployments, attach batching, partial attaches and newer deployments.

mod retries;
mod rounds;

use aws_sdk_autoscaling::operation::attach_load_balancer_target_groups::{
    AttachLoadBalancerTargetGroupsInput, AttachLoadBalancerTargetGroupsOutput,
};
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, LifecycleState};
use aws_sdk_codedeploy::operation::get_deployment::{GetDeploymentError, GetDeploymentOutput};
use aws_sdk_codedeploy::operation::list_deployments::ListDeploymentsOutput;
use aws_sdk_codedeploy::types::{
    AutoScalingGroup as AutoScalingGroup_, BlueGreenDeploymentConfiguration, ComputePlatform,
    DeploymentCreator, DeploymentGroupInfo, DeploymentInfo, DeploymentOption, DeploymentStatus,
    DeploymentStyle, DeploymentType, ElbInfo, GreenFleetProvisioningAction,
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
use codedeploy_relink::aws::pace::Pace;
use codedeploy_relink::aws::Clients;
use codedeploy_relink::domain::config::Config;
use codedeploy_relink::domain::config::ElbShare;
use codedeploy_relink::domain::report::Outcome;
use codedeploy_relink::usecases::invocation::{Caller, Relinker};
use codedeploy_relink::usecases::invocation::{InvocationError, Response};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEPLOYMENT: &str = "d-75I7MBT7C";
const GROUP: &str = "CodeDeploy_web-bg_d-75I7MBT7C";
const SNS_SUCCESS: &str = include_str!("../../../events/sns-deployment-success.json");
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

/// GetDeploymentGroup of web/web-bg: the settings `deployment` carries, naming `fleet`.
fn deployment_group(
    target_groups: usize,
    classic: &[&str],
    fleet: &str,
) -> aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput {
    let info = deployment(target_groups, classic)
        .deployment_info
        .expect("a deployment");
    aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput::builder()
        .deployment_group_info(
            DeploymentGroupInfo::builder()
                .application_name("web")
                .deployment_group_name("web-bg")
                .compute_platform(ComputePlatform::Server)
                .set_deployment_style(info.deployment_style)
                .set_blue_green_deployment_configuration(info.blue_green_deployment_configuration)
                .set_load_balancer_info(info.load_balancer_info)
                .auto_scaling_groups(AutoScalingGroup_::builder().name(fleet).build())
                .build(),
        )
        .build()
}

fn get_deployment_group(target_groups: usize, classic: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_codedeploy::Client::get_deployment_group)
        .then_output(move || deployment_group(target_groups, classic, GROUP))
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

/// BatchGetDeployments of the deployments the listing showed: each `(id, status, creator)`, of
/// web/web-bg, created after the replacement group's deployment.
fn batch_get_deployments(
    deployments: &'static [(&'static str, DeploymentStatus, DeploymentCreator)],
) -> Rule {
    mock!(aws_sdk_codedeploy::Client::batch_get_deployments).then_output(move || {
        let infos = deployments.iter().map(|(id, status, creator)| {
            DeploymentInfo::builder()
                .deployment_id(*id)
                .application_name("web")
                .deployment_group_name("web-bg")
                .status(status.clone())
                .creator(creator.clone())
                .create_time(aws_sdk_codedeploy::primitives::DateTime::from_secs(
                    2_000_000_000,
                ))
                .build()
        });
        aws_sdk_codedeploy::operation::batch_get_deployments::BatchGetDeploymentsOutput::builder()
            .set_deployments_info(Some(infos.collect()))
            .build()
    })
}

/// Clients answered by the rules, with the SDK's standard retries (3 attempts, near-zero backoff).
/// Elastic Load Balancing v2 and classic ELB answer the live-fleet round: the replacement group's
/// instance is registered everywhere; CodeDeploy's ListDeployments (after the test's own rules)
/// lists no newer deployment, and GetDeploymentGroup names the replacement group as web/web-bg's
/// fleet. STS has no rule: the Lambda knows its account from its ARN.
pub(crate) fn clients(codedeploy: &[&Rule], elbv2: &[&Rule], autoscaling: &[&Rule]) -> Clients {
    use aws_sdk_codedeploy::config::retry::RetryConfig;
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1));
    let (target_health, instance_health) = (describe_target_health(), describe_instance_health());
    let elbv2: Vec<&Rule> = elbv2.iter().copied().chain([&target_health]).collect();
    let newest = list_deployments(&[DEPLOYMENT]);
    let group = get_deployment_group(1, &[]);
    let codedeploy: Vec<&Rule> = codedeploy
        .iter()
        .copied()
        .chain([&newest, &group])
        .collect();
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
        before_change: None,
        account: Default::default(),
        target_groups: Default::default(),
        // The sequences here are about rounds and answers, not pace (the end-to-end and load
        // tests hold the shipped share): no waiting.
        elbv2_pace: Arc::new(Pace::new(UNPACED)),
        elb_pace: Arc::new(Pace::new(UNPACED)),
    }
}

/// A share no mock sequence reaches.
const UNPACED: ElbShare = ElbShare {
    per_second: 10_000,
    burst: 10_000,
};

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
    group: Rule,
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
            group: get_deployment_group(target_groups, classic),
            list: list_deployments(&[DEPLOYMENT]),
            describe_tg: describe_target_groups(),
            describe_asg: describe_group(),
            attach_tg: attach_target_groups(),
            attach_lb: attach_load_balancers(),
        }
    }

    /// The SNS success notification through the function.
    async fn invoke(&self) -> Invocation {
        self.invoke_with(&[]).await
    }

    /// The same, with more CodeDeploy rules.
    async fn invoke_with(&self, codedeploy: &[&Rule]) -> Invocation {
        let codedeploy: Vec<&Rule> = [&self.get, &self.group, &self.list]
            .into_iter()
            .chain(codedeploy.iter().copied())
            .collect();
        let clients = clients(
            &codedeploy,
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
