//! Why a deployment or group is left alone: the skip reasons (their codes are the metrics'
//! `Reason` dimension and the reports' `reason`) and a skip with its explanation.

use serde::{Deserialize, Serialize};

/// Why a deployment or group is left alone. Each is a normal outcome, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The plain-text message CodeDeploy sends when a trigger is created.
    TriggerTestMessage,
    /// An instance-level notification.
    InstanceNotification,
    /// `GetDeployment` does not know the deployment.
    DeploymentNotFound,
    /// The notification names another application or deployment group than the API reports.
    MessageMismatch,
    /// The deployment group is not in `RELINK_DEPLOYMENT_GROUPS`.
    NotAllowed,
    /// An AWS Lambda or Amazon ECS deployment.
    NotServerPlatform,
    /// An in-place deployment: no replacement group.
    InPlace,
    /// A blue/green deployment without a load balancer in the path.
    WithoutTrafficControl,
    /// A blue/green deployment onto existing instances (`DISCOVER_EXISTING`): nothing was copied.
    FleetNotCopied,
    /// The deployment failed; CodeDeploy keeps or puts traffic back on the original group.
    DeploymentFailed,
    /// The deployment was stopped.
    DeploymentStopped,
    /// The deployment is running and its load balancers do not serve the replacement group yet.
    TrafficNotShifted,
    /// The deployment is still rerouting traffic and some instances of its copy have not been
    /// routed to yet: attaching would register them ahead of CodeDeploy.
    Rerouting,
    /// CodeDeploy started the deployment by itself (a scale-out, a termination hook, an automatic
    /// update or a rollback): it copies no fleet.
    NoFleet,
    /// The deployment's status is one relink does not know: it is not taken as running.
    UnknownStatus,
    /// The deployment is running and `RELINK_ATTACH_WHEN=succeeded` waits for success.
    NotSucceededYet,
    /// The API lists no replacement group, or not the one CodeDeploy names for this deployment.
    UnexpectedReplacementGroup,
    /// The deployment group lists no target group and no classic load balancer.
    NoLoadBalancerInfo,
    /// The replacement group no longer exists or is being deleted.
    ReplacementGroupGone,
    /// The group is not the fleet its load balancers serve (a newer deployment moved traffic away,
    /// or an operator took it out): attaching would put its instances back into traffic.
    NotLive,
    /// A newer deployment of the deployment group that makes a fleet has started (or failed with
    /// traffic on its copy): the group is not its newest fleet.
    Superseded,
    /// Some of the missing load balancers were attached between this invocation's read of the
    /// group and its attach: another invocation (a second batch of the same deployment's
    /// notifications) is linking it, and its notifications come back should it fail.
    BeingLinked,
}

impl SkipReason {
    /// Every reason, in declaration order.
    pub const ALL: [SkipReason; 22] = [
        SkipReason::TriggerTestMessage,
        SkipReason::InstanceNotification,
        SkipReason::DeploymentNotFound,
        SkipReason::MessageMismatch,
        SkipReason::NotAllowed,
        SkipReason::NotServerPlatform,
        SkipReason::InPlace,
        SkipReason::WithoutTrafficControl,
        SkipReason::FleetNotCopied,
        SkipReason::DeploymentFailed,
        SkipReason::DeploymentStopped,
        SkipReason::TrafficNotShifted,
        SkipReason::Rerouting,
        SkipReason::NoFleet,
        SkipReason::UnknownStatus,
        SkipReason::NotSucceededYet,
        SkipReason::UnexpectedReplacementGroup,
        SkipReason::NoLoadBalancerInfo,
        SkipReason::ReplacementGroupGone,
        SkipReason::NotLive,
        SkipReason::Superseded,
        SkipReason::BeingLinked,
    ];

    /// The reason's code, as it appears in reports and logs.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::TriggerTestMessage => "trigger_test_message",
            SkipReason::InstanceNotification => "instance_notification",
            SkipReason::DeploymentNotFound => "deployment_not_found",
            SkipReason::MessageMismatch => "message_mismatch",
            SkipReason::NotAllowed => "not_allowed",
            SkipReason::NotServerPlatform => "not_server_platform",
            SkipReason::InPlace => "in_place",
            SkipReason::WithoutTrafficControl => "without_traffic_control",
            SkipReason::FleetNotCopied => "fleet_not_copied",
            SkipReason::DeploymentFailed => "deployment_failed",
            SkipReason::DeploymentStopped => "deployment_stopped",
            SkipReason::TrafficNotShifted => "traffic_not_shifted",
            SkipReason::Rerouting => "rerouting",
            SkipReason::NoFleet => "no_fleet",
            SkipReason::UnknownStatus => "unknown_status",
            SkipReason::NotSucceededYet => "not_succeeded_yet",
            SkipReason::UnexpectedReplacementGroup => "unexpected_replacement_group",
            SkipReason::NoLoadBalancerInfo => "no_load_balancer_info",
            SkipReason::ReplacementGroupGone => "replacement_group_gone",
            SkipReason::NotLive => "not_live",
            SkipReason::Superseded => "superseded",
            SkipReason::BeingLinked => "being_linked",
        }
    }
}

/// A skip and its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The reason.
    pub reason: SkipReason,
    /// A sentence for people, naming what was seen.
    pub detail: String,
}

impl Skip {
    /// A skip for `reason`, explained by `detail`.
    pub fn new(reason: SkipReason, detail: impl Into<String>) -> Self {
        Skip {
            reason,
            detail: detail.into(),
        }
    }
}
