//! Unit tests of the parent module: each condition of the rule alone, then properties over
//! generated copies.

use super::*;
use crate::domain::live::Traffic;

const TG1: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-1/a";
const TG2: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-2/b";
const OTHER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/other/c";
const COPY: &str = "CodeDeploy_web-bg_d-2";

fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

/// The deployment group: two target groups and a classic load balancer, its fleet `fleet`.
struct World {
    fleet: Vec<String>,
    target_groups: Vec<String>,
    load_balancers: Vec<String>,
    unsettled: Vec<(String, Option<String>)>,
}

impl World {
    fn at_rest() -> Self {
        World {
            fleet: s(&["CodeDeploy_web-bg_d-1"]),
            target_groups: s(&[TG1, TG2]),
            load_balancers: s(&["clb"]),
            unsettled: Vec::new(),
        }
    }

    fn now(&self) -> GroupNow<'_> {
        GroupNow {
            name: "web/web-bg",
            fleet: &self.fleet,
            target_groups: &self.target_groups,
            load_balancers: &self.load_balancers,
            unsettled: &self.unsettled,
        }
    }
}

/// A copy holding `tgs` and `clbs`, with instances i-1 and i-2 (and i-9 terminating).
fn holding(tgs: &[&str], clbs: &[&str]) -> GroupState {
    GroupState {
        target_group_arns: s(tgs),
        load_balancer_names: s(clbs),
        status: None,
        instances: s(&["i-1", "i-2"]),
        leaving: s(&["i-9"]),
    }
}

fn lane(serving: &[&str]) -> Traffic {
    Traffic {
        serving: serving.iter().map(|i| i.to_string()).collect(),
        unknown: Vec::new(),
    }
}

/// Every load balancer of the deployment group, serving `serving` (another fleet's i-7 too).
fn traffic(serving: &[&str]) -> Registrations {
    let mut with_other = s(serving);
    with_other.push("i-7".into());
    let refs: Vec<&str> = with_other.iter().map(String::as_str).collect();
    Registrations {
        target_groups: [TG1, TG2, OTHER]
            .iter()
            .map(|arn| (arn.to_string(), lane(&refs)))
            .collect(),
        load_balancers: [("clb".to_string(), lane(&refs))].into_iter().collect(),
    }
}

fn judge_copy(world: &World, state: &GroupState, traffic: &Registrations) -> Verdict {
    let copy = CopyNow {
        group: COPY,
        owner: Some("d-2"),
        state: Some(state),
    };
    judge(&world.now(), &copy, traffic)
}

fn kept(verdict: &Verdict) -> Option<KeepReason> {
    match verdict {
        Verdict::Keep { reason, .. } => Some(*reason),
        _ => None,
    }
}

#[test]
fn a_copy_at_rest_that_serves_nobody_is_retired_of_the_deployment_groups_load_balancers_only() {
    let state = holding(&[TG1, OTHER], &["clb", "other-clb"]);
    let verdict = judge_copy(&World::at_rest(), &state, &traffic(&[]));
    let Verdict::Retire { held, evidence } = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(
        held.target_groups,
        s(&[TG1]),
        "never a target group outside loadBalancerInfo"
    );
    assert_eq!(held.load_balancers, s(&["clb"]));
    assert_eq!(held.names(), s(&["web-tg-1", "clb"]));
    assert!(evidence.contains("the copy of d-2"), "{evidence}");
    assert!(evidence.contains("[CodeDeploy_web-bg_d-1]"), "{evidence}");
}

#[test]
fn a_group_that_is_no_deployments_copy_is_never_touched() {
    let state = holding(&[TG1], &[]);
    let copy = CopyNow {
        group: "CodeDeploy_web-bg_d-MADEBYHAND",
        owner: None,
        state: Some(&state),
    };
    let verdict = judge(&World::at_rest().now(), &copy, &traffic(&[]));
    assert_eq!(kept(&verdict), Some(KeepReason::NotACopy), "{verdict:?}");
}

#[test]
fn only_the_deployment_groups_load_balancers_count() {
    // Held only what the deployment group does not list: nothing to say, nothing to detach.
    let state = holding(&[OTHER], &["other-clb"]);
    assert_eq!(
        judge_copy(&World::at_rest(), &state, &traffic(&[])),
        Verdict::Nothing
    );
    assert_eq!(
        judge(
            &World::at_rest().now(),
            &CopyNow {
                group: COPY,
                owner: Some("d-2"),
                state: None
            },
            &traffic(&[])
        ),
        Verdict::Nothing,
        "a group that does not exist"
    );
}

#[test]
fn a_deployment_group_that_is_not_at_rest_keeps_every_copy_as_it_is() {
    let state = holding(&[TG1], &[]);
    for status in RUNNING_STATUSES {
        let world = World {
            unsettled: vec![("d-3".into(), Some(status.into()))],
            ..World::at_rest()
        };
        let verdict = judge_copy(&world, &state, &traffic(&[]));
        assert_eq!(kept(&verdict), Some(KeepReason::NotAtRest), "{status}");
    }
    let world = World {
        unsettled: vec![("d-3".into(), Some("Paused".into()))],
        ..World::at_rest()
    };
    let Verdict::Keep { evidence, .. } = judge_copy(&world, &state, &traffic(&[])) else {
        panic!()
    };
    assert!(
        evidence.contains("status \"Paused\", which relink does not know"),
        "{evidence}"
    );
}

#[test]
fn the_fleet_codedeploy_names_is_never_retired() {
    let world = World {
        fleet: s(&[COPY]),
        ..World::at_rest()
    };
    let verdict = judge_copy(&world, &holding(&[TG1], &[]), &traffic(&[]));
    assert_eq!(kept(&verdict), Some(KeepReason::NamedFleet));
}

#[test]
fn a_copy_with_any_serving_instance_keeps_everything() {
    let state = holding(&[TG1, TG2], &["clb"]);
    // i-2 serves; i-9, terminating, is still a target: both keep the copy whole.
    for serving in [&["i-2"][..], &["i-9"]] {
        let verdict = judge_copy(&World::at_rest(), &state, &traffic(serving));
        let Verdict::Keep {
            reason,
            held,
            evidence,
        } = verdict
        else {
            panic!("{serving:?}")
        };
        assert_eq!(reason, KeepReason::Serving);
        assert_eq!(held.names(), s(&["web-tg-1", "web-tg-2", "clb"]));
        assert!(
            evidence.contains(&format!("{} is a target", serving[0])),
            "{evidence}"
        );
    }
}

#[test]
fn a_state_relink_does_not_know_or_a_load_balancer_not_read_counts_as_serving() {
    let state = holding(&[TG1], &[]);
    let mut unknown = traffic(&[]);
    unknown
        .target_groups
        .get_mut(TG1)
        .unwrap()
        .unknown
        .push(("i-1".into(), "warming".into()));
    let verdict = judge_copy(&World::at_rest(), &state, &unknown);
    assert_eq!(kept(&verdict), Some(KeepReason::Serving), "{verdict:?}");

    let verdict = judge_copy(&World::at_rest(), &state, &Registrations::default());
    let Verdict::Keep { evidence, .. } = verdict else {
        panic!()
    };
    assert!(evidence.contains("web-tg-1 was not read"), "{evidence}");
}

#[test]
fn a_copy_being_deleted_is_left_to_its_deletion() {
    let state = GroupState {
        status: Some("Delete in progress".into()),
        ..holding(&[TG1], &[])
    };
    let verdict = judge_copy(&World::at_rest(), &state, &traffic(&[]));
    assert_eq!(kept(&verdict), Some(KeepReason::Gone));
}

#[test]
fn statuses_at_rest() {
    for status in ENDED_STATUSES {
        assert!(at_rest_with(status), "{status}");
    }
    for status in RUNNING_STATUSES.iter().chain(&["", "Paused"]) {
        assert!(!at_rest_with(status), "{status}");
    }
}

#[test]
fn a_retirement_says_what_it_did_in_one_sentence() {
    let retirement = Retirement {
        group: COPY.into(),
        outcome: RetireOutcome::Kept,
        reason: Some(KeepReason::Serving),
        target_groups: s(&[TG1]),
        load_balancers: s(&["clb"]),
        detail: "CodeDeploy_web-bg_d-2 still serves".into(),
    };
    assert_eq!(
        retirement.to_string(),
        "CodeDeploy_web-bg_d-2 keeps web-tg-1, clb (serving): CodeDeploy_web-bg_d-2 still serves"
    );
    let json = serde_json::to_value(&retirement).unwrap();
    assert_eq!(json["outcome"], "kept");
    assert_eq!(json["reason"], "serving");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the world, a retirement detaches only the deployment group's load balancers,
        /// from a copy of its own that is not its fleet, at rest, and none of whose instances
        /// any of them serves.
        #[test]
        fn a_retirement_removes_nobody(
            fleet_is_copy in any::<bool>(),
            owned in any::<bool>(),
            running in proptest::option::of(prop::sample::select(&["InProgress", "Ready", "Paused"][..])),
            tgs in proptest::sample::subsequence(vec![TG1, TG2, OTHER], 0..=3),
            clb in any::<bool>(),
            serving in proptest::sample::subsequence(vec!["i-1", "i-2", "i-9", "i-7"], 0..=4),
        ) {
            let world = World {
                fleet: if fleet_is_copy { s(&[COPY]) } else { s(&["web-asg"]) },
                unsettled: running.map(|st| vec![("d-3".to_string(), Some(st.to_string()))]).unwrap_or_default(),
                ..World::at_rest()
            };
            let state = holding(&tgs, if clb { &["clb"] } else { &[] });
            let traffic = traffic(&serving);
            let copy = CopyNow { group: COPY, owner: owned.then_some("d-2"), state: Some(&state) };
            if let Verdict::Retire { held, .. } = judge(&world.now(), &copy, &traffic) {
                prop_assert!(owned && !fleet_is_copy && running.is_none());
                prop_assert!(held.target_groups.iter().all(|t| world.target_groups.contains(t)));
                prop_assert!(!held.target_groups.iter().any(|t| t == OTHER));
                prop_assert!(!serving.iter().any(|i| ["i-1", "i-2", "i-9"].contains(i)));
                prop_assert!(!held.is_empty());
            }
        }
    }
}
