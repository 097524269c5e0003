//! Is this deployment (or, in an audit, this deployment group) ours to fix? Pure: facts from the
//! CodeDeploy API and the configuration in, a decision out.
//!
//! Whether the notification that named a deployment agrees with the API is a separate question,
//! answered by [`crate::domain::crosscheck`]; whether the group is still the fleet the load balancers serve
//! is answered later, from the load balancers themselves, by [`crate::domain::live`].

use crate::domain::config::{AttachWhen, Config};
use crate::domain::live::makes_fleet;
pub use crate::domain::live::CopyOf;
use std::time::SystemTime;

pub use crate::domain::skip::{Skip, SkipReason};

/// How a deployment group deploys and which load balancers it names: the settings a deployment
/// copies from its group, and what makes either ours to fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSettings {
    /// `computePlatform`: `Server`, `Lambda` or `ECS`.
    pub compute_platform: Option<String>,
    /// `deploymentStyle.deploymentType`: `BLUE_GREEN` or `IN_PLACE`.
    pub deployment_type: Option<String>,
    /// `deploymentStyle.deploymentOption`: `WITH_TRAFFIC_CONTROL` or `WITHOUT_TRAFFIC_CONTROL`.
    pub deployment_option: Option<String>,
    /// `blueGreenDeploymentConfiguration.greenFleetProvisioningOption.action`.
    pub green_fleet_action: Option<String>,
    /// `blueGreenDeploymentConfiguration.terminateBlueInstancesOnDeploymentSuccess.action` is
    /// `KEEP_ALIVE`: the fleet a deployment replaces keeps running.
    pub keep_alive: bool,
    /// `loadBalancerInfo.targetGroupInfoList[].name`.
    pub target_group_names: Vec<String>,
    /// `loadBalancerInfo.elbInfoList[].name`.
    pub classic_load_balancer_names: Vec<String>,
}

/// What `GetDeployment` / `BatchGetDeployments` say about a deployment, reduced to what the
/// decision needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentFacts {
    /// The deployment id.
    pub deployment_id: String,
    /// `applicationName`.
    pub application: String,
    /// `deploymentGroupName`.
    pub deployment_group: String,
    /// `status`: `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed`, `Stopped`.
    pub status: String,
    /// The deployment group's settings as the deployment carries them.
    pub settings: GroupSettings,
    /// `targetInstances.autoScalingGroups`: the replacement group(s).
    pub target_auto_scaling_groups: Vec<String>,
    /// `completeTime`, once the deployment has ended.
    pub completed_at: Option<SystemTime>,
    /// `createTime`.
    pub created_at: Option<SystemTime>,
    /// `creator`: `user`, `autoscaling`, `codeDeployRollback`, … (see
    /// [`crate::domain::live::makes_fleet`]).
    pub creator: Option<String>,
    /// `instanceTerminationWaitTimeStarted`: the traffic shift is complete and the original
    /// instances wait out their termination time (always false with `KEEP_ALIVE`).
    pub termination_wait_started: bool,
    /// `rollbackInfo.rollbackTriggeringDeploymentId`: the deployment a rollback rolls back.
    pub rollback_of: Option<String>,
}

/// What `BatchGetDeploymentGroups` says about a deployment group, reduced to what the audit needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentGroupFacts {
    /// `applicationName`.
    pub application: String,
    /// `deploymentGroupName`.
    pub deployment_group: String,
    /// The group's settings.
    pub settings: GroupSettings,
    /// `autoScalingGroups[].name`: the group(s) the deployment group points at now (after a
    /// successful blue/green deployment, its replacement group).
    pub auto_scaling_groups: Vec<String>,
}

/// Where the group stands in its deployment group's life: it decides what a group that turns out
/// not to be live is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The replacement group of a deployment that is still running: not live yet means traffic
    /// has not moved ([`SkipReason::TrafficNotShifted`]).
    Running {
        /// CodeDeploy may still be rerouting (the termination wait has not begun): only an
        /// attach that registers no instance it has not routed to is allowed.
        rerouting: bool,
    },
    /// The replacement group of a deployment that succeeded (at `since`, when known), or a group
    /// a deployment group points at: not live means retired or taken out
    /// ([`SkipReason::NotLive`]).
    Settled {
        /// When the deployment succeeded (`completeTime`).
        since: Option<SystemTime>,
    },
}

/// What should be attached to which group, if attaching displaces nobody ([`crate::domain::live`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelinkTarget {
    /// The Auto Scaling group to link: a deployment's replacement group, or in an audit a group
    /// the deployment group points at.
    pub group: String,
    /// Target group names from the deployment group's `loadBalancerInfo`.
    pub target_group_names: Vec<String>,
    /// Classic load balancer names from the deployment group's `loadBalancerInfo`.
    pub load_balancer_names: Vec<String>,
    /// Running or settled.
    pub stage: Stage,
    /// The deployment the group is the copy of: is it still the newest fleet of its deployment
    /// group? Asked just before the attach ([`crate::domain::live::superseded`]).
    pub copy_of: CopyOf,
    /// The Auto Scaling groups CodeDeploy names as the deployment group's fleet, when already
    /// read (the audit); otherwise read only for the outage repair.
    pub fleet: Option<Vec<String>>,
}

impl RelinkTarget {
    /// Takes what is read of the deployment whose copy the group is: its creation time, from
    /// which newer deployments are counted, and — for a group a deployment group names — its
    /// status: a named copy whose deployment still runs is held to "never ahead of CodeDeploy"
    /// like any running deployment's.
    pub fn know(&mut self, own: &DeploymentFacts) {
        if self.copy_of.deployment_id.as_deref() != Some(own.deployment_id.as_str()) {
            return;
        }
        self.copy_of.created_at = self.copy_of.created_at.or(own.created_at);
        let running = ["InProgress", "Baking", "Ready"].contains(&own.status.as_str());
        if self.fleet.is_some() && running {
            self.stage = Stage::Running {
                rerouting: !own.termination_wait_started,
            };
        }
    }

    /// What it wants attached, for the plan ([`crate::domain::plan::plan_group`]).
    pub fn wanted(&self) -> crate::domain::plan::Wanted<'_> {
        crate::domain::plan::Wanted {
            group: &self.group,
            target_group_names: &self.target_group_names,
            load_balancer_names: &self.load_balancer_names,
        }
    }

    fn of(group: String, settings: &GroupSettings, stage: Stage, copy_of: CopyOf) -> Self {
        RelinkTarget {
            group,
            target_group_names: settings.target_group_names.clone(),
            load_balancer_names: settings.classic_load_balancer_names.clone(),
            stage,
            copy_of,
            fleet: None,
        }
    }
}

/// The decision about one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Link the replacement group, if it is live.
    Relink(RelinkTarget),
    /// Leave the deployment alone.
    Skip(Skip),
}

/// The name CodeDeploy gives the group it copies for a deployment.
pub fn replacement_group_name(deployment_group: &str, deployment_id: &str) -> String {
    format!("CodeDeploy_{deployment_group}_{deployment_id}")
}

/// Statuses after which a deployment changes nothing any more.
pub const TERMINAL_STATUSES: [&str; 3] = ["Succeeded", "Failed", "Stopped"];

/// Decides whether the deployment is ours to fix and, if so, what should be attached where.
pub fn decide(facts: &DeploymentFacts, config: &Config) -> Decision {
    match check(facts, config) {
        Ok(target) => Decision::Relink(target),
        Err(skip) => Decision::Skip(skip),
    }
}

fn check(facts: &DeploymentFacts, config: &Config) -> Result<RelinkTarget, Skip> {
    use SkipReason::*;
    check_group(
        &facts.application,
        &facts.deployment_group,
        &facts.settings,
        config,
    )?;

    if !makes_fleet(facts.creator.as_deref()) {
        return Err(Skip::new(
            NoFleet,
            format!(
                "CodeDeploy started the deployment by itself (creator {}): it copies no fleet",
                facts.creator.as_deref().unwrap_or_default()
            ),
        ));
    }
    let stage = match facts.status.as_str() {
        "Succeeded" => Stage::Settled {
            since: facts.completed_at,
        },
        "Failed" => return Err(Skip::new(DeploymentFailed, "the deployment failed")),
        "Stopped" => return Err(Skip::new(DeploymentStopped, "the deployment was stopped")),
        status @ ("Created" | "Queued") => {
            return Err(Skip::new(
                TrafficNotShifted,
                format!("the deployment is {status}: it has not started"),
            ))
        }
        status @ ("InProgress" | "Baking" | "Ready")
            if config.attach_when == AttachWhen::Succeeded =>
        {
            return Err(Skip::new(
                NotSucceededYet,
                format!(
                    "the deployment is {status} and RELINK_ATTACH_WHEN=succeeded waits for success"
                ),
            ))
        }
        "InProgress" | "Baking" | "Ready" => Stage::Running {
            rerouting: !facts.termination_wait_started,
        },
        status => {
            return Err(Skip::new(
                UnknownStatus,
                format!("the deployment's status {status:?} is not one relink knows: it is not taken as running"),
            ))
        }
    };

    let expected = replacement_group_name(&facts.deployment_group, &facts.deployment_id);
    match facts.target_auto_scaling_groups.as_slice() {
        [only] if *only == expected => {
            let copy_of = CopyOf {
                deployment_id: Some(facts.deployment_id.clone()),
                created_at: facts.created_at,
            };
            Ok(RelinkTarget::of(expected, &facts.settings, stage, copy_of))
        }
        // A running deployment lists its replacement group only once CodeDeploy has created it.
        [] if matches!(stage, Stage::Running { .. }) => Err(Skip::new(
            TrafficNotShifted,
            format!(
                "the deployment is {} and has no replacement group yet",
                facts.status
            ),
        )),
        groups => Err(Skip::new(
            UnexpectedReplacementGroup,
            format!(
                "the deployment's target Auto Scaling groups are [{}], expected exactly {expected}",
                groups.join(", ")
            ),
        )),
    }
}

/// Whether the deployment group a deployment belongs to is one relink reconciles: allowed,
/// EC2/on-premises, blue/green through a load balancer onto a copied fleet, with load balancers.
/// Whatever the deployment itself is (made by CodeDeploy, failed, running), its notification
/// then reconciles that deployment group.
pub fn ours(facts: &DeploymentFacts, config: &Config) -> bool {
    check_group(
        &facts.application,
        &facts.deployment_group,
        &facts.settings,
        config,
    )
    .is_ok()
}

/// Whether a deployment group is one the audit checks and, if so, the Auto Scaling groups it
/// points at with the attachments each should have (still subject to the live-fleet check).
/// `known` are deployments already read: a named group that is a deployment's copy
/// (`CodeDeploy_<group>_<id>`) is measured from that deployment's creation time when known.
pub fn decide_group(
    group: &DeploymentGroupFacts,
    config: &Config,
    known: &[DeploymentFacts],
) -> Result<Vec<RelinkTarget>, Skip> {
    check_group(
        &group.application,
        &group.deployment_group,
        &group.settings,
        config,
    )?;
    Ok(group
        .auto_scaling_groups
        .iter()
        .map(|name| RelinkTarget {
            fleet: Some(group.auto_scaling_groups.clone()),
            ..RelinkTarget::of(
                name.clone(),
                &group.settings,
                Stage::Settled { since: None },
                copy_named(&group.deployment_group, name, known),
            )
        })
        .collect())
}

/// The deployment whose copy `name` is, by CodeDeploy's naming, with its creation time when
/// `known` has it; nothing for a group that is no copy (a deployment group's first fleet).
pub fn copy_named(deployment_group: &str, name: &str, known: &[DeploymentFacts]) -> CopyOf {
    let id = name
        .strip_prefix("CodeDeploy_")
        .and_then(|rest| rest.strip_prefix(deployment_group))
        .and_then(|rest| rest.strip_prefix('_'))
        .filter(|id| !id.is_empty());
    CopyOf {
        deployment_id: id.map(str::to_owned),
        created_at: id.and_then(|id| {
            known
                .iter()
                .find(|d| d.deployment_id == id)
                .and_then(|d| d.created_at)
        }),
    }
}

/// Allowed, EC2/on-premises, blue/green through a load balancer onto a copied Auto Scaling
/// group, with load balancers to attach.
fn check_group(
    application: &str,
    deployment_group: &str,
    settings: &GroupSettings,
    config: &Config,
) -> Result<(), Skip> {
    use SkipReason::*;
    if !config.allow_list.allows(application, deployment_group) {
        return Err(Skip::new(
            NotAllowed,
            format!("{application}/{deployment_group} is not in RELINK_DEPLOYMENT_GROUPS"),
        ));
    }
    let platform = settings.compute_platform.as_deref().unwrap_or("Server");
    if platform != "Server" {
        return Err(Skip::new(
            NotServerPlatform,
            format!("compute platform is {platform}, not Server (EC2/on-premises)"),
        ));
    }
    if settings.deployment_type.as_deref() != Some("BLUE_GREEN") {
        return Err(Skip::new(
            InPlace,
            format!(
                "deployment type is {}, not BLUE_GREEN",
                settings
                    .deployment_type
                    .as_deref()
                    .unwrap_or("IN_PLACE (unset)")
            ),
        ));
    }
    if settings.deployment_option.as_deref() != Some("WITH_TRAFFIC_CONTROL") {
        return Err(Skip::new(
            WithoutTrafficControl,
            "the deployment does not route traffic through a load balancer",
        ));
    }
    if settings.green_fleet_action.as_deref() != Some("COPY_AUTO_SCALING_GROUP") {
        return Err(Skip::new(
            FleetNotCopied,
            format!(
                "green fleet provisioning is {}, not COPY_AUTO_SCALING_GROUP",
                settings.green_fleet_action.as_deref().unwrap_or("unset")
            ),
        ));
    }
    if settings.target_group_names.is_empty() && settings.classic_load_balancer_names.is_empty() {
        return Err(Skip::new(
            NoLoadBalancerInfo,
            format!("deployment group {application}/{deployment_group} lists no target group and no classic load balancer"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
