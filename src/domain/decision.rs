//! Is this deployment (or, in an audit, this deployment group) ours to fix? Pure: facts from the
//! CodeDeploy API and the configuration in, a decision out.
//!
//! Whether the notification that named a deployment agrees with the API is a separate question,
//! answered by [`crate::domain::crosscheck`]; whether the group is still the fleet the load balancers serve
//! is answered later, from the load balancers themselves, by [`crate::domain::live`].

use crate::domain::config::{AttachWhen, Config};
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
    Running,
    /// The replacement group of a deployment that succeeded (at `since`, when known), or a group
    /// a deployment group points at: not live means retired or taken out
    /// ([`SkipReason::NotLive`]).
    Settled {
        /// When the deployment succeeded (`completeTime`).
        since: Option<SystemTime>,
    },
}

/// Whether a newer deployment of the deployment group has started ([`crate::domain::live::newer_deployment`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Newer {
    /// Not known yet: ask CodeDeploy for deployments of the group created after `since` (the
    /// group's deployment's `createTime`), just before the attach.
    Ask {
        /// The deployment whose copy the group is.
        deployment_id: String,
        /// Its creation time, when known (unknown: every started sibling counts as newer).
        since: Option<SystemTime>,
    },
    /// Known from a listing made moments ago (the sweep's, the audit's): the newer deployment's
    /// id, if any.
    Known(Option<String>),
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
    /// Is the group still the newest copy of its deployment group?
    pub newer: Newer,
    /// The Auto Scaling groups CodeDeploy names as the deployment group's fleet, when already
    /// read (the audit); otherwise read only for the outage repair.
    pub fleet: Option<Vec<String>>,
}

impl RelinkTarget {
    fn of(group: String, settings: &GroupSettings, stage: Stage, newer: Newer) -> Self {
        RelinkTarget {
            group,
            target_group_names: settings.target_group_names.clone(),
            load_balancer_names: settings.classic_load_balancer_names.clone(),
            stage,
            newer,
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

    let stage = match facts.status.as_str() {
        "Succeeded" => Stage::Settled {
            since: facts.completed_at,
        },
        "Failed" => return Err(Skip::new(DeploymentFailed, "the deployment failed")),
        "Stopped" => return Err(Skip::new(DeploymentStopped, "the deployment was stopped")),
        status if config.attach_when == AttachWhen::Succeeded => {
            return Err(Skip::new(
                NotSucceededYet,
                format!(
                    "the deployment is {status} and RELINK_ATTACH_WHEN=succeeded waits for success"
                ),
            ))
        }
        _ => Stage::Running,
    };

    let expected = replacement_group_name(&facts.deployment_group, &facts.deployment_id);
    match facts.target_auto_scaling_groups.as_slice() {
        [only] if *only == expected => {
            let newer = Newer::Ask {
                deployment_id: facts.deployment_id.clone(),
                since: facts.created_at,
            };
            Ok(RelinkTarget::of(expected, &facts.settings, stage, newer))
        }
        // A running deployment lists its replacement group only once CodeDeploy has created it.
        [] if stage == Stage::Running => Err(Skip::new(
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

/// Whether a deployment group is one the audit checks and, if so, the Auto Scaling groups it
/// points at with the attachments each should have (still subject to the live-fleet check).
/// `newer` is the group's newest started deployment that none of these groups is the copy of
/// (from the audit's listing of running deployments), if any.
pub fn decide_group(
    group: &DeploymentGroupFacts,
    config: &Config,
    newer: Option<&str>,
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
                Newer::Known(newer.map(str::to_owned)),
            )
        })
        .collect())
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
mod tests {
    use super::*;
    use crate::domain::config::AllowList;

    fn settings() -> GroupSettings {
        GroupSettings {
            compute_platform: Some("Server".into()),
            deployment_type: Some("BLUE_GREEN".into()),
            deployment_option: Some("WITH_TRAFFIC_CONTROL".into()),
            green_fleet_action: Some("COPY_AUTO_SCALING_GROUP".into()),
            target_group_names: vec!["web-tg".into()],
            classic_load_balancer_names: vec!["web-clb".into()],
        }
    }

    fn facts() -> DeploymentFacts {
        DeploymentFacts {
            deployment_id: "d-75I7MBT7C".into(),
            application: "web".into(),
            deployment_group: "web-bg".into(),
            status: "Succeeded".into(),
            settings: settings(),
            target_auto_scaling_groups: vec!["CodeDeploy_web-bg_d-75I7MBT7C".into()],
            completed_at: Some(SystemTime::UNIX_EPOCH),
            created_at: Some(SystemTime::UNIX_EPOCH),
        }
    }

    fn with(change: impl FnOnce(&mut DeploymentFacts)) -> DeploymentFacts {
        let mut facts = facts();
        change(&mut facts);
        facts
    }

    fn reason(facts: &DeploymentFacts, config: &Config) -> Option<SkipReason> {
        match decide(facts, config) {
            Decision::Relink(_) => None,
            Decision::Skip(skip) => Some(skip.reason),
        }
    }

    #[test]
    fn succeeded_copied_blue_green_is_a_settled_target() {
        assert_eq!(
            decide(&facts(), &Config::default()),
            Decision::Relink(RelinkTarget {
                group: "CodeDeploy_web-bg_d-75I7MBT7C".into(),
                target_group_names: vec!["web-tg".into()],
                load_balancer_names: vec!["web-clb".into()],
                stage: Stage::Settled {
                    since: Some(SystemTime::UNIX_EPOCH)
                },
                newer: Newer::Ask {
                    deployment_id: "d-75I7MBT7C".into(),
                    since: Some(SystemTime::UNIX_EPOCH)
                },
                fleet: None,
            })
        );
    }

    #[test]
    fn every_running_status_is_a_running_target_whatever_the_termination_wait_says() {
        // instanceTerminationWaitTimeStarted is not consulted: it is always false with
        // KEEP_ALIVE. The load balancers decide later whether traffic has moved.
        for status in ["Created", "Queued", "InProgress", "Baking", "Ready"] {
            let running = with(|f| f.status = status.into());
            let Decision::Relink(target) = decide(&running, &Config::default()) else {
                panic!("{status}")
            };
            assert_eq!(target.stage, Stage::Running, "{status}");
        }
    }

    #[test]
    fn every_skip_reason_decided_from_the_deployment() {
        let config = Config::default();
        let only_api = Config {
            allow_list: AllowList::parse("api/*").unwrap(),
            ..Config::default()
        };
        let succeeded_mode = Config {
            attach_when: AttachWhen::Succeeded,
            ..Config::default()
        };
        let cases: Vec<(SkipReason, DeploymentFacts, &Config)> = vec![
            (SkipReason::NotAllowed, facts(), &only_api),
            (
                SkipReason::NotServerPlatform,
                with(|f| f.settings.compute_platform = Some("ECS".into())),
                &config,
            ),
            (
                SkipReason::InPlace,
                with(|f| f.settings.deployment_type = Some("IN_PLACE".into())),
                &config,
            ),
            (
                SkipReason::InPlace,
                with(|f| f.settings.deployment_type = None),
                &config,
            ),
            (
                SkipReason::WithoutTrafficControl,
                with(|f| f.settings.deployment_option = Some("WITHOUT_TRAFFIC_CONTROL".into())),
                &config,
            ),
            (
                SkipReason::FleetNotCopied,
                with(|f| f.settings.green_fleet_action = Some("DISCOVER_EXISTING".into())),
                &config,
            ),
            (
                SkipReason::NoLoadBalancerInfo,
                with(|f| {
                    f.settings.target_group_names.clear();
                    f.settings.classic_load_balancer_names.clear();
                }),
                &config,
            ),
            (
                SkipReason::DeploymentFailed,
                with(|f| f.status = "Failed".into()),
                &config,
            ),
            (
                SkipReason::DeploymentStopped,
                with(|f| f.status = "Stopped".into()),
                &config,
            ),
            (
                SkipReason::NotSucceededYet,
                with(|f| f.status = "InProgress".into()),
                &succeeded_mode,
            ),
            (
                SkipReason::TrafficNotShifted,
                with(|f| {
                    f.status = "Created".into();
                    f.target_auto_scaling_groups.clear();
                }),
                &config,
            ),
            (
                SkipReason::UnexpectedReplacementGroup,
                with(|f| f.target_auto_scaling_groups.clear()),
                &config,
            ),
            (
                SkipReason::UnexpectedReplacementGroup,
                with(|f| f.target_auto_scaling_groups = vec!["web-asg".into()]),
                &config,
            ),
            (
                SkipReason::UnexpectedReplacementGroup,
                with(|f| {
                    f.target_auto_scaling_groups = vec![
                        "CodeDeploy_web-bg_d-75I7MBT7C".into(),
                        "CodeDeploy_web-bg_d-OTHER".into(),
                    ]
                }),
                &config,
            ),
        ];
        for (expected, facts, config) in cases {
            assert_eq!(reason(&facts, config), Some(expected), "{facts:?}");
        }
    }

    #[test]
    fn succeeded_mode_still_relinks_a_succeeded_deployment() {
        let succeeded_mode = Config {
            attach_when: AttachWhen::Succeeded,
            ..Config::default()
        };
        assert_eq!(reason(&facts(), &succeeded_mode), None);
    }

    #[test]
    fn unset_platform_means_server() {
        let unset = with(|f| f.settings.compute_platform = None);
        assert_eq!(reason(&unset, &Config::default()), None);
    }

    #[test]
    fn codes_match_serde_names_for_every_reason() {
        for reason in SkipReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.code());
        }
        let mut codes: Vec<&str> = SkipReason::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), SkipReason::ALL.len(), "codes are distinct");
    }

    fn group() -> DeploymentGroupFacts {
        DeploymentGroupFacts {
            application: "web".into(),
            deployment_group: "web-bg".into(),
            settings: GroupSettings {
                classic_load_balancer_names: vec![],
                ..settings()
            },
            auto_scaling_groups: vec!["CodeDeploy_web-bg_d-1".into()],
        }
    }

    #[test]
    fn copied_blue_green_group_is_audited_per_auto_scaling_group() {
        let targets = decide_group(&group(), &Config::default(), Some("d-2")).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].group, "CodeDeploy_web-bg_d-1");
        assert_eq!(targets[0].target_group_names, vec!["web-tg".to_owned()]);
        assert_eq!(targets[0].stage, Stage::Settled { since: None });
        assert_eq!(targets[0].newer, Newer::Known(Some("d-2".into())));
        assert_eq!(
            targets[0].fleet,
            Some(vec!["CodeDeploy_web-bg_d-1".to_owned()])
        );
        let none = DeploymentGroupFacts {
            auto_scaling_groups: vec![],
            ..group()
        };
        assert_eq!(
            decide_group(&none, &Config::default(), None).unwrap(),
            vec![]
        );
    }

    type Change = fn(&mut GroupSettings);

    #[test]
    fn groups_that_are_not_ours_say_why() {
        let reason = |change: Change, config: &Config| {
            let mut g = group();
            change(&mut g.settings);
            decide_group(&g, config, None).unwrap_err().reason
        };
        let config = Config::default();
        let cases: [(Change, SkipReason); 4] = [
            (
                |s| s.deployment_type = Some("IN_PLACE".into()),
                SkipReason::InPlace,
            ),
            (
                |s| s.green_fleet_action = Some("DISCOVER_EXISTING".into()),
                SkipReason::FleetNotCopied,
            ),
            (
                |s| s.target_group_names.clear(),
                SkipReason::NoLoadBalancerInfo,
            ),
            (
                |s| s.compute_platform = Some("Lambda".into()),
                SkipReason::NotServerPlatform,
            ),
        ];
        for (change, expected) in cases {
            assert_eq!(reason(change, &config), expected);
        }
        let only_api = Config {
            allow_list: AllowList::parse("api/*").unwrap(),
            ..Config::default()
        };
        assert_eq!(reason(|_| {}, &only_api), SkipReason::NotAllowed);
    }
}
