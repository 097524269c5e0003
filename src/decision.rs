//! Is this deployment ours to fix? Pure: the deployment as the CodeDeploy API reports it, the
//! notification that named it and the configuration in; a decision out.

use crate::config::{AttachWhen, Config};
use crate::event::DeploymentRef;
use serde::{Deserialize, Serialize};

/// What `GetDeployment` says about a deployment, reduced to what the decision needs.
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
    /// `computePlatform`: `Server`, `Lambda` or `ECS`.
    pub compute_platform: Option<String>,
    /// `deploymentStyle.deploymentType`: `BLUE_GREEN` or `IN_PLACE`.
    pub deployment_type: Option<String>,
    /// `deploymentStyle.deploymentOption`: `WITH_TRAFFIC_CONTROL` or `WITHOUT_TRAFFIC_CONTROL`.
    pub deployment_option: Option<String>,
    /// `blueGreenDeploymentConfiguration.greenFleetProvisioningOption.action`.
    pub green_fleet_action: Option<String>,
    /// `targetInstances.autoScalingGroups`: the replacement group(s).
    pub target_auto_scaling_groups: Vec<String>,
    /// `loadBalancerInfo.targetGroupInfoList[].name`.
    pub target_group_names: Vec<String>,
    /// `loadBalancerInfo.elbInfoList[].name`.
    pub classic_load_balancer_names: Vec<String>,
    /// `instanceTerminationWaitTimeStarted`: traffic is on the replacement group.
    pub traffic_shifted: bool,
}

/// Why a deployment is left alone. Each is a normal outcome, not an error.
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
    /// The deployment is running and traffic has not moved to the replacement group yet.
    TrafficNotShifted,
    /// Traffic has moved but `RELINK_ATTACH_WHEN=succeeded` waits for success.
    NotSucceededYet,
    /// The API lists no replacement group, or not the one CodeDeploy names for this deployment.
    UnexpectedReplacementGroup,
    /// The deployment group lists no target group and no classic load balancer.
    NoLoadBalancerInfo,
    /// The replacement group no longer exists or is being deleted.
    ReplacementGroupGone,
}

impl SkipReason {
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
            SkipReason::NotSucceededYet => "not_succeeded_yet",
            SkipReason::UnexpectedReplacementGroup => "unexpected_replacement_group",
            SkipReason::NoLoadBalancerInfo => "no_load_balancer_info",
            SkipReason::ReplacementGroupGone => "replacement_group_gone",
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
    fn new(reason: SkipReason, detail: impl Into<String>) -> Self {
        Skip {
            reason,
            detail: detail.into(),
        }
    }
}

/// What should be attached to which group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelinkTarget {
    /// The Auto Scaling group to link: a deployment's replacement group, or in an audit a group
    /// the deployment group points at.
    pub replacement_group: String,
    /// Target group names from the deployment group's `loadBalancerInfo`.
    pub target_group_names: Vec<String>,
    /// Classic load balancer names from the deployment group's `loadBalancerInfo`.
    pub load_balancer_names: Vec<String>,
}

/// The decision about one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Relink the replacement group.
    Relink(RelinkTarget),
    /// Leave the deployment alone.
    Skip(Skip),
}

/// The name CodeDeploy gives the group it copies for a deployment.
pub fn replacement_group_name(deployment_group: &str, deployment_id: &str) -> String {
    format!("CodeDeploy_{deployment_group}_{deployment_id}")
}

/// Decides whether the deployment is ours to fix and, if so, what should be attached where.
pub fn decide(facts: &DeploymentFacts, notified: &DeploymentRef, config: &Config) -> Decision {
    match check(facts, notified, config) {
        Ok(target) => Decision::Relink(target),
        Err(skip) => Decision::Skip(skip),
    }
}

fn check(
    facts: &DeploymentFacts,
    notified: &DeploymentRef,
    config: &Config,
) -> Result<RelinkTarget, Skip> {
    use SkipReason::*;
    let id = &facts.deployment_id;

    for (what, claimed, actual) in [
        ("application", &notified.application, &facts.application),
        (
            "deployment group",
            &notified.deployment_group,
            &facts.deployment_group,
        ),
    ] {
        if let Some(claimed) = claimed {
            if claimed != actual {
                return Err(Skip::new(
                    MessageMismatch,
                    format!("the notification names {what} {claimed:?} but deployment {id} belongs to {actual:?}"),
                ));
            }
        }
    }
    check_allowed(&facts.application, &facts.deployment_group, config)?;
    check_style(&Style {
        compute_platform: facts.compute_platform.as_deref(),
        deployment_type: facts.deployment_type.as_deref(),
        deployment_option: facts.deployment_option.as_deref(),
        green_fleet_action: facts.green_fleet_action.as_deref(),
    })?;

    match facts.status.as_str() {
        "Succeeded" => {}
        "Failed" => return Err(Skip::new(DeploymentFailed, "the deployment failed")),
        "Stopped" => return Err(Skip::new(DeploymentStopped, "the deployment was stopped")),
        status if !facts.traffic_shifted => {
            return Err(Skip::new(
                TrafficNotShifted,
                format!(
                "the deployment is {status} and traffic has not moved to the replacement group yet"
            ),
            ))
        }
        status if config.attach_when == AttachWhen::Succeeded => {
            return Err(Skip::new(
                NotSucceededYet,
                format!(
                "traffic has moved but the deployment is {status} and RELINK_ATTACH_WHEN=succeeded"
            ),
            ))
        }
        _ => {}
    }

    let expected = replacement_group_name(&facts.deployment_group, id);
    if facts.target_auto_scaling_groups != [expected.as_str()] {
        return Err(Skip::new(
            UnexpectedReplacementGroup,
            format!(
                "the deployment's target Auto Scaling groups are [{}], expected exactly {expected}",
                facts.target_auto_scaling_groups.join(", ")
            ),
        ));
    }
    check_load_balancer_info(
        &facts.application,
        &facts.deployment_group,
        &facts.target_group_names,
        &facts.classic_load_balancer_names,
    )?;
    Ok(RelinkTarget {
        replacement_group: expected,
        target_group_names: facts.target_group_names.clone(),
        load_balancer_names: facts.classic_load_balancer_names.clone(),
    })
}

/// How a deployment or deployment group deploys: what makes it ours to fix.
struct Style<'a> {
    compute_platform: Option<&'a str>,
    deployment_type: Option<&'a str>,
    deployment_option: Option<&'a str>,
    green_fleet_action: Option<&'a str>,
}

/// EC2/on-premises, blue/green, through a load balancer, onto a copied Auto Scaling group.
fn check_style(style: &Style) -> Result<(), Skip> {
    use SkipReason::*;
    let platform = style.compute_platform.unwrap_or("Server");
    if platform != "Server" {
        return Err(Skip::new(
            NotServerPlatform,
            format!("compute platform is {platform}, not Server (EC2/on-premises)"),
        ));
    }
    if style.deployment_type != Some("BLUE_GREEN") {
        return Err(Skip::new(
            InPlace,
            format!(
                "deployment type is {}, not BLUE_GREEN",
                style.deployment_type.unwrap_or("IN_PLACE (unset)")
            ),
        ));
    }
    if style.deployment_option != Some("WITH_TRAFFIC_CONTROL") {
        return Err(Skip::new(
            WithoutTrafficControl,
            "the deployment does not route traffic through a load balancer",
        ));
    }
    if style.green_fleet_action != Some("COPY_AUTO_SCALING_GROUP") {
        return Err(Skip::new(
            FleetNotCopied,
            format!(
                "green fleet provisioning is {}, not COPY_AUTO_SCALING_GROUP",
                style.green_fleet_action.unwrap_or("unset")
            ),
        ));
    }
    Ok(())
}

fn check_allowed(application: &str, deployment_group: &str, config: &Config) -> Result<(), Skip> {
    if config.allow_list.allows(application, deployment_group) {
        Ok(())
    } else {
        Err(Skip::new(
            SkipReason::NotAllowed,
            format!("{application}/{deployment_group} is not in RELINK_DEPLOYMENT_GROUPS"),
        ))
    }
}

fn check_load_balancer_info(
    application: &str,
    deployment_group: &str,
    target_groups: &[String],
    load_balancers: &[String],
) -> Result<(), Skip> {
    if target_groups.is_empty() && load_balancers.is_empty() {
        Err(Skip::new(
            SkipReason::NoLoadBalancerInfo,
            format!("deployment group {application}/{deployment_group} lists no target group and no classic load balancer"),
        ))
    } else {
        Ok(())
    }
}

/// What `BatchGetDeploymentGroups` says about a deployment group, reduced to what the audit needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentGroupFacts {
    /// `applicationName`.
    pub application: String,
    /// `deploymentGroupName`.
    pub deployment_group: String,
    /// `computePlatform`.
    pub compute_platform: Option<String>,
    /// `deploymentStyle.deploymentType`.
    pub deployment_type: Option<String>,
    /// `deploymentStyle.deploymentOption`.
    pub deployment_option: Option<String>,
    /// `blueGreenDeploymentConfiguration.greenFleetProvisioningOption.action`.
    pub green_fleet_action: Option<String>,
    /// `autoScalingGroups[].name`: the group(s) the deployment group points at now (after a
    /// successful blue/green deployment, the replacement group).
    pub auto_scaling_groups: Vec<String>,
    /// `loadBalancerInfo.targetGroupInfoList[].name`.
    pub target_group_names: Vec<String>,
    /// `loadBalancerInfo.elbInfoList[].name`.
    pub classic_load_balancer_names: Vec<String>,
}

/// Whether a deployment group is one the audit checks and, if so, the Auto Scaling groups it
/// points at with the attachments each should have. Pure.
pub fn decide_group(
    group: &DeploymentGroupFacts,
    config: &Config,
) -> Result<Vec<RelinkTarget>, Skip> {
    check_allowed(&group.application, &group.deployment_group, config)?;
    check_style(&Style {
        compute_platform: group.compute_platform.as_deref(),
        deployment_type: group.deployment_type.as_deref(),
        deployment_option: group.deployment_option.as_deref(),
        green_fleet_action: group.green_fleet_action.as_deref(),
    })?;
    check_load_balancer_info(
        &group.application,
        &group.deployment_group,
        &group.target_group_names,
        &group.classic_load_balancer_names,
    )?;
    Ok(group
        .auto_scaling_groups
        .iter()
        .map(|name| RelinkTarget {
            replacement_group: name.clone(),
            target_group_names: group.target_group_names.clone(),
            load_balancer_names: group.classic_load_balancer_names.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AllowList;

    fn facts() -> DeploymentFacts {
        DeploymentFacts {
            deployment_id: "d-75I7MBT7C".into(),
            application: "web".into(),
            deployment_group: "web-bg".into(),
            status: "Succeeded".into(),
            compute_platform: Some("Server".into()),
            deployment_type: Some("BLUE_GREEN".into()),
            deployment_option: Some("WITH_TRAFFIC_CONTROL".into()),
            green_fleet_action: Some("COPY_AUTO_SCALING_GROUP".into()),
            target_auto_scaling_groups: vec!["CodeDeploy_web-bg_d-75I7MBT7C".into()],
            target_group_names: vec!["web-tg".into()],
            classic_load_balancer_names: vec!["web-clb".into()],
            traffic_shifted: true,
        }
    }

    fn notified() -> DeploymentRef {
        DeploymentRef {
            deployment_id: "d-75I7MBT7C".into(),
            application: Some("web".into()),
            deployment_group: Some("web-bg".into()),
            reported_status: Some("SUCCEEDED".into()),
        }
    }

    fn reason(
        facts: &DeploymentFacts,
        notified: &DeploymentRef,
        config: &Config,
    ) -> Option<SkipReason> {
        match decide(facts, notified, config) {
            Decision::Relink(_) => None,
            Decision::Skip(skip) => Some(skip.reason),
        }
    }

    #[test]
    fn succeeded_copied_blue_green_is_relinked() {
        let decision = decide(&facts(), &notified(), &Config::default());
        assert_eq!(
            decision,
            Decision::Relink(RelinkTarget {
                replacement_group: "CodeDeploy_web-bg_d-75I7MBT7C".into(),
                target_group_names: vec!["web-tg".into()],
                load_balancer_names: vec!["web-clb".into()],
            })
        );
    }

    #[test]
    fn message_without_names_is_trusted_for_the_id_only() {
        let bare = DeploymentRef {
            application: None,
            deployment_group: None,
            ..notified()
        };
        assert_eq!(reason(&facts(), &bare, &Config::default()), None);
    }

    #[test]
    fn every_skip_reason() {
        let config = Config::default();
        let cases: Vec<(SkipReason, DeploymentFacts, DeploymentRef, Config)> = vec![
            (
                SkipReason::MessageMismatch,
                facts(),
                DeploymentRef {
                    deployment_group: Some("other".into()),
                    ..notified()
                },
                config.clone(),
            ),
            (
                SkipReason::MessageMismatch,
                facts(),
                DeploymentRef {
                    application: Some("api".into()),
                    ..notified()
                },
                config.clone(),
            ),
            (
                SkipReason::NotAllowed,
                facts(),
                notified(),
                Config {
                    allow_list: AllowList::parse("api/*").unwrap(),
                    ..config.clone()
                },
            ),
            (
                SkipReason::NotServerPlatform,
                DeploymentFacts {
                    compute_platform: Some("ECS".into()),
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::InPlace,
                DeploymentFacts {
                    deployment_type: Some("IN_PLACE".into()),
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::InPlace,
                DeploymentFacts {
                    deployment_type: None,
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::WithoutTrafficControl,
                DeploymentFacts {
                    deployment_option: Some("WITHOUT_TRAFFIC_CONTROL".into()),
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::FleetNotCopied,
                DeploymentFacts {
                    green_fleet_action: Some("DISCOVER_EXISTING".into()),
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::DeploymentFailed,
                DeploymentFacts {
                    status: "Failed".into(),
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::DeploymentStopped,
                DeploymentFacts {
                    status: "Stopped".into(),
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::TrafficNotShifted,
                DeploymentFacts {
                    status: "InProgress".into(),
                    traffic_shifted: false,
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::TrafficNotShifted,
                DeploymentFacts {
                    status: "Ready".into(),
                    traffic_shifted: false,
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::NotSucceededYet,
                DeploymentFacts {
                    status: "InProgress".into(),
                    ..facts()
                },
                notified(),
                Config {
                    attach_when: AttachWhen::Succeeded,
                    ..config.clone()
                },
            ),
            (
                SkipReason::UnexpectedReplacementGroup,
                DeploymentFacts {
                    target_auto_scaling_groups: vec![],
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::UnexpectedReplacementGroup,
                DeploymentFacts {
                    target_auto_scaling_groups: vec!["web-asg".into()],
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::UnexpectedReplacementGroup,
                DeploymentFacts {
                    target_auto_scaling_groups: vec![
                        "CodeDeploy_web-bg_d-75I7MBT7C".into(),
                        "CodeDeploy_web-bg_d-OTHER".into(),
                    ],
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
            (
                SkipReason::NoLoadBalancerInfo,
                DeploymentFacts {
                    target_group_names: vec![],
                    classic_load_balancer_names: vec![],
                    ..facts()
                },
                notified(),
                config.clone(),
            ),
        ];
        for (expected, facts, notified, config) in cases {
            assert_eq!(
                reason(&facts, &notified, &config),
                Some(expected),
                "{facts:?}"
            );
        }
    }

    #[test]
    fn in_progress_with_traffic_shifted_is_relinked_by_default() {
        let running = DeploymentFacts {
            status: "InProgress".into(),
            ..facts()
        };
        assert_eq!(reason(&running, &notified(), &Config::default()), None);
        let succeeded_mode = Config {
            attach_when: AttachWhen::Succeeded,
            ..Config::default()
        };
        assert_eq!(reason(&facts(), &notified(), &succeeded_mode), None);
    }

    #[test]
    fn failed_after_traffic_shift_is_still_skipped() {
        let failed = DeploymentFacts {
            status: "Failed".into(),
            traffic_shifted: true,
            ..facts()
        };
        assert_eq!(
            reason(&failed, &notified(), &Config::default()),
            Some(SkipReason::DeploymentFailed)
        );
    }

    #[test]
    fn unset_platform_means_server() {
        let unset = DeploymentFacts {
            compute_platform: None,
            ..facts()
        };
        assert_eq!(reason(&unset, &notified(), &Config::default()), None);
    }

    #[test]
    fn skip_details_name_what_was_seen() {
        let Decision::Skip(skip) = decide(
            &facts(),
            &DeploymentRef {
                deployment_group: Some("other".into()),
                ..notified()
            },
            &Config::default(),
        ) else {
            panic!("expected a skip")
        };
        assert!(
            skip.detail.contains("other") && skip.detail.contains("web-bg"),
            "{}",
            skip.detail
        );
    }

    #[test]
    fn codes_match_serde_names() {
        for reason in [
            SkipReason::TriggerTestMessage,
            SkipReason::ReplacementGroupGone,
            SkipReason::NotSucceededYet,
        ] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.code());
        }
    }

    fn group() -> DeploymentGroupFacts {
        DeploymentGroupFacts {
            application: "web".into(),
            deployment_group: "web-bg".into(),
            compute_platform: Some("Server".into()),
            deployment_type: Some("BLUE_GREEN".into()),
            deployment_option: Some("WITH_TRAFFIC_CONTROL".into()),
            green_fleet_action: Some("COPY_AUTO_SCALING_GROUP".into()),
            auto_scaling_groups: vec!["CodeDeploy_web-bg_d-1".into()],
            target_group_names: vec!["web-tg".into()],
            classic_load_balancer_names: vec![],
        }
    }

    #[test]
    fn copied_blue_green_group_is_audited_per_auto_scaling_group() {
        let targets = decide_group(&group(), &Config::default()).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].replacement_group, "CodeDeploy_web-bg_d-1");
        assert_eq!(targets[0].target_group_names, vec!["web-tg".to_owned()]);
        let none = DeploymentGroupFacts {
            auto_scaling_groups: vec![],
            ..group()
        };
        assert_eq!(decide_group(&none, &Config::default()).unwrap(), vec![]);
    }

    #[test]
    fn groups_that_are_not_ours_say_why() {
        let reason = |g: DeploymentGroupFacts, c: &Config| decide_group(&g, c).unwrap_err().reason;
        let config = Config::default();
        assert_eq!(
            reason(
                DeploymentGroupFacts {
                    deployment_type: Some("IN_PLACE".into()),
                    ..group()
                },
                &config
            ),
            SkipReason::InPlace
        );
        assert_eq!(
            reason(
                DeploymentGroupFacts {
                    green_fleet_action: Some("DISCOVER_EXISTING".into()),
                    ..group()
                },
                &config
            ),
            SkipReason::FleetNotCopied
        );
        assert_eq!(
            reason(
                DeploymentGroupFacts {
                    target_group_names: vec![],
                    ..group()
                },
                &config
            ),
            SkipReason::NoLoadBalancerInfo
        );
        assert_eq!(
            reason(
                DeploymentGroupFacts {
                    compute_platform: Some("Lambda".into()),
                    ..group()
                },
                &config
            ),
            SkipReason::NotServerPlatform
        );
        let only_api = Config {
            allow_list: AllowList::parse("api/*").unwrap(),
            ..Config::default()
        };
        assert_eq!(reason(group(), &only_api), SkipReason::NotAllowed);
    }
}
