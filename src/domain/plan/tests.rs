//! Unit tests of the plan: what a group misses, and what the re-read before the attach decides.

use super::*;

fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

fn target<'a>(tgs: &'a [String], clbs: &'a [String]) -> Wanted<'a> {
    Wanted {
        group: "G",
        target_group_names: tgs,
        load_balancer_names: clbs,
    }
}

fn arns(names: &[&str]) -> HashMap<String, String> {
    names
        .iter()
        .map(|n| (n.to_string(), format!("arn:tg/{n}")))
        .collect()
}

#[test]
fn a_group_is_planned_against_resolved_arns() {
    let group = GroupState {
        target_group_arns: s(&["arn:tg/a"]),
        load_balancer_names: s(&["old"]),
        ..GroupState::default()
    };
    let (tgs, clbs) = (s(&["a", "b"]), s(&["clb"]));
    let plan = plan_group(target(&tgs, &clbs), &arns(&["a", "b"]), Some(&group)).unwrap();
    assert_eq!(plan.target_groups.missing, s(&["arn:tg/b"]));
    assert_eq!(plan.target_groups.present, s(&["arn:tg/a"]));
    assert_eq!(plan.load_balancers.missing, s(&["clb"]));
    assert_eq!(plan.load_balancers.extra, s(&["old"]));
}

#[test]
fn unplannable_groups_say_why() {
    let tgs = s(&["a", "b"]);
    let t = target(&tgs, &[]);
    assert_eq!(
        plan_group(t, &arns(&["a", "b"]), None),
        Err(Unplannable::Gone(
            "Auto Scaling group G does not exist".into()
        ))
    );
    let deleting = GroupState {
        status: Some("Delete in progress".into()),
        ..GroupState::default()
    };
    assert_eq!(
        plan_group(t, &arns(&["a", "b"]), Some(&deleting)),
        Err(Unplannable::Gone(
            "Auto Scaling group G is Delete in progress".into()
        ))
    );
    assert_eq!(
        plan_group(t, &arns(&["a"]), Some(&GroupState::default())),
        Err(Unplannable::TargetGroupsNotFound(s(&["b"])))
    );
}

#[test]
fn a_plan_read_again_drops_what_was_attached_meanwhile() {
    let plan = Plan::new(&s(&["a", "b"]), &s(&["a"]), &s(&["lb"]), &[]);
    let meanwhile = GroupState {
        target_group_arns: s(&["a", "b", "x"]),
        ..GroupState::default()
    };
    let now = plan.against(&meanwhile);
    assert_eq!(now.target_groups.missing, Vec::<String>::new());
    // What was missing, then what was there.
    assert_eq!(now.target_groups.present, s(&["b", "a"]));
    assert_eq!(now.target_groups.extra, s(&["x"]));
    assert_eq!(now.load_balancers.missing, s(&["lb"]));
    let linked = GroupState {
        target_group_arns: s(&["a", "b"]),
        load_balancer_names: s(&["lb"]),
        ..GroupState::default()
    };
    assert!(plan.against(&linked).is_complete());
    // Detached meanwhile: missing again.
    assert_eq!(
        plan.against(&GroupState::default()).target_groups.missing,
        s(&["b", "a"])
    );
}

#[test]
fn a_recheck_tells_linked_being_linked_and_still_missing_apart() {
    let plan = Plan::new(&s(&["a", "b"]), &[], &s(&["lb"]), &[]);
    let group = |tgs: &[&str], lbs: &[&str]| GroupState {
        target_group_arns: s(tgs),
        load_balancer_names: s(lbs),
        ..GroupState::default()
    };
    assert!(matches!(
        plan.recheck(&group(&["a", "b"], &["lb"])),
        Recheck::Linked(_)
    ));
    assert!(matches!(
        plan.recheck(&group(&["a"], &[])),
        Recheck::BeingLinked(_)
    ));
    assert!(matches!(
        plan.recheck(&group(&[], &["lb"])),
        Recheck::BeingLinked(_)
    ));
    match plan.recheck(&group(&["x"], &[])) {
        Recheck::Attach(now) => assert_eq!(now.target_groups.missing, s(&["a", "b"])),
        other => panic!("{other:?}"),
    }
}

#[test]
fn short_names() {
    assert_eq!(
        short_name("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg/0123"),
        "web-tg"
    );
    assert_eq!(short_name("web-clb"), "web-clb");
}

#[test]
fn set_difference_keeps_order_and_drops_duplicates() {
    let d = Diff::between(&s(&["a", "b", "c", "a"]), &s(&["c", "x", "x"]));
    assert_eq!(d.missing, s(&["a", "b"]));
    assert_eq!(d.present, s(&["c"]));
    assert_eq!(d.extra, s(&["x"]));
}

#[test]
fn nothing_missing_when_current_covers_desired() {
    let plan = Plan::new(&s(&["a"]), &s(&["a", "b"]), &s(&["lb"]), &s(&["lb"]));
    assert!(plan.is_complete());
    assert_eq!(plan.target_groups.extra, s(&["b"]));
    assert_eq!(plan.target_groups.batches().count(), 0);
}

#[test]
fn empty_desired_plans_nothing() {
    let plan = Plan::new(&[], &s(&["a"]), &[], &[]);
    assert!(plan.is_complete());
    assert_eq!(plan.target_groups.extra, s(&["a"]));
}

#[test]
fn batches_hold_at_most_ten() {
    let desired: Vec<String> = (0..23).map(|i| format!("tg-{i}")).collect();
    let d = Diff::between(&desired, &[]);
    let sizes: Vec<usize> = d.batches().map(<[String]>::len).collect();
    assert_eq!(sizes, [10, 10, 3]);
    let flat: Vec<String> = d.batches().flatten().cloned().collect();
    assert_eq!(flat, desired);

    for n in [0_usize, 1, 9, 10, 11, 20, 21] {
        let desired: Vec<String> = (0..n).map(|i| format!("tg-{i}")).collect();
        let d = Diff::between(&desired, &[]);
        assert_eq!(d.batches().count(), n.div_ceil(MAX_PER_ATTACH_CALL), "{n}");
        assert!(d
            .batches()
            .all(|b| !b.is_empty() && b.len() <= MAX_PER_ATTACH_CALL));
    }
}

mod properties {
    use super::super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Small alphabets so that desired and current overlap often.
    fn names() -> impl Strategy<Value = Vec<String>> {
        vec("[a-e][0-9]", 0..40)
    }

    proptest! {
        #[test]
        fn attaches_exactly_desired_minus_current(desired in names(), current in names()) {
            let diff = Diff::between(&desired, &current);
            let attached: Vec<&String> = diff.batches().flatten().collect();
            for name in &desired {
                prop_assert_eq!(attached.contains(&name), !current.contains(name));
            }
            for name in &attached {
                prop_assert!(desired.contains(name) && !current.contains(name));
            }
            let mut unique = attached.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), attached.len(), "nothing attached twice");
        }

        #[test]
        fn never_more_than_ten_per_call(desired in vec("[a-z]{1,8}", 0..60), current in names()) {
            let diff = Diff::between(&desired, &current);
            prop_assert!(diff.batches().all(|b| !b.is_empty() && b.len() <= MAX_PER_ATTACH_CALL));
        }

        #[test]
        fn never_detaches_and_reports_extras(desired in names(), current in names()) {
            // The plan has no detach operation at all; what the group has beyond the desired
            // set is only reported.
            let diff = Diff::between(&desired, &current);
            for name in &diff.extra {
                prop_assert!(current.contains(name) && !desired.contains(name));
            }
            prop_assert!(diff.missing.iter().all(|m| !current.contains(m)));
        }

        #[test]
        fn empty_when_current_covers_desired(current in names(), pick in vec(any::<prop::sample::Index>(), 0..20)) {
            let desired: Vec<String> = if current.is_empty() {
                Vec::new()
            } else {
                pick.iter().map(|i| i.get(&current).clone()).collect()
            };
            let plan = Plan::new(&desired, &current, &desired, &current);
            prop_assert!(plan.is_complete());
            prop_assert_eq!(plan.target_groups.batches().count(), 0);
        }
    }
}
