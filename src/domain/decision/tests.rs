//! Unit tests of the parent module.

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
        keep_alive: false,
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
        creator: Some("user".into()),
        termination_wait_started: false,
        rollback_of: None,
    }
}

#[test]
fn a_named_group_is_the_copy_of_the_deployment_its_name_gives() {
    assert_eq!(copy_named("web-bg", "web-asg", &[]), CopyOf::default());
    assert_eq!(
        copy_named("web-bg", "CodeDeploy_web-bg_d-7", &[]),
        CopyOf {
            deployment_id: Some("d-7".into()),
            created_at: None
        }
    );
    assert_eq!(
        copy_named("web-bg", "CodeDeploy_web-bg_", &[]),
        CopyOf::default()
    );
    assert_eq!(
        copy_named("web", "CodeDeploy_web-bg_d-7", &[]),
        CopyOf::default()
    );
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
            copy_of: CopyOf {
                deployment_id: Some("d-75I7MBT7C".into()),
                created_at: Some(SystemTime::UNIX_EPOCH)
            },
            fleet: None,
        })
    );
}

#[test]
fn a_running_deployment_reroutes_until_its_termination_wait_begins() {
    // instanceTerminationWaitTimeStarted is always false with KEEP_ALIVE: such a deployment
    // counts as rerouting until it succeeds, and the load balancers tell when every
    // instance has been routed to.
    for status in ["InProgress", "Baking", "Ready"] {
        for waiting in [false, true] {
            let running = with(|f| {
                f.status = status.into();
                f.termination_wait_started = waiting;
            });
            let Decision::Relink(target) = decide(&running, &Config::default()) else {
                panic!("{status}")
            };
            let rerouting = !waiting;
            assert_eq!(target.stage, Stage::Running { rerouting }, "{status}");
        }
    }
}

#[test]
fn a_deployment_that_has_not_started_or_whose_status_is_unknown_is_not_running() {
    for (status, expected) in [
        ("Created", SkipReason::TrafficNotShifted),
        ("Queued", SkipReason::TrafficNotShifted),
        ("Paused", SkipReason::UnknownStatus),
        ("", SkipReason::UnknownStatus),
    ] {
        let facts = with(|f| f.status = status.into());
        assert_eq!(
            reason(&facts, &Config::default()),
            Some(expected),
            "{status:?}"
        );
    }
}

#[test]
fn deployments_codedeploy_starts_by_itself_make_no_fleet_to_link() {
    for creator in crate::domain::live::FLEETLESS_CREATORS {
        let facts = with(|f| f.creator = Some(creator.into()));
        assert_eq!(
            reason(&facts, &Config::default()),
            Some(SkipReason::NoFleet),
            "{creator}"
        );
    }
    for creator in ["user", "CloudFormation", "CodeDeploy", "somethingNew"] {
        let facts = with(|f| f.creator = Some(creator.into()));
        assert_eq!(reason(&facts, &Config::default()), None, "{creator}");
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
    let known = [DeploymentFacts {
        deployment_id: "d-1".into(),
        created_at: Some(SystemTime::UNIX_EPOCH),
        ..DeploymentFacts::default()
    }];
    let targets = decide_group(&group(), &Config::default(), &known).unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].group, "CodeDeploy_web-bg_d-1");
    assert_eq!(targets[0].target_group_names, vec!["web-tg".to_owned()]);
    assert_eq!(targets[0].stage, Stage::Settled { since: None });
    assert_eq!(
        targets[0].copy_of,
        CopyOf {
            deployment_id: Some("d-1".into()),
            created_at: Some(SystemTime::UNIX_EPOCH)
        }
    );
    assert_eq!(
        targets[0].fleet,
        Some(vec!["CodeDeploy_web-bg_d-1".to_owned()])
    );
    let none = DeploymentGroupFacts {
        auto_scaling_groups: vec![],
        ..group()
    };
    assert_eq!(
        decide_group(&none, &Config::default(), &[]).unwrap(),
        vec![]
    );
}

type Change = fn(&mut GroupSettings);

#[test]
fn groups_that_are_not_ours_say_why() {
    let reason = |change: Change, config: &Config| {
        let mut g = group();
        change(&mut g.settings);
        decide_group(&g, config, &[]).unwrap_err().reason
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
