//! What gets attached: target groups (in calls of at most ten), classic load balancers, both,
//! several groups in one event; and what an already linked group costs. A deployment-level
//! notification's deployment group is observed beside its deployment (`GetDeploymentGroup` ∥
//! `ListDeployments` of the look-back), and listed again just before the attach.

use super::*;

#[test]
fn one_target_group_is_attached() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({"target_groups": 1}));
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["outcome"], "relinked");
    assert_eq!(report["replacement_group"], REPLACEMENT);
    // The deployment ∥ its group; the groups; the evidence; the group again; the attach.
    assert_eq!(report["aws_rounds"], 5);
    assert_eq!(
        strings(&report["target_groups"]["attached"]),
        target_group_arns(&world)
    );
    assert_linked(&mut emulator, &world);
    assert_eq!(
        emulator.requests(),
        counts(&[
            (STS, 1),
            (GET, 1),
            (GET_GROUP, 1),
            (LIST, 2),
            (DESCRIBE_TG, 1),
            (DESCRIBE_ASG, 2), // round 2, and again before the attach
            (TARGET_HEALTH, 1),
            (ATTACH_TG, 1)
        ])
    );
}

#[test]
fn several_target_groups_in_one_call() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({"target_groups": 4}));
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["outcome"], "relinked");
    assert_linked(&mut emulator, &world);
    assert_eq!(emulator.requests()[ATTACH_TG], 1);
}

#[test]
fn twenty_three_target_groups_in_calls_of_ten() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({"target_groups": 23}));
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(
        run.report()["target_groups"]["attached"]
            .as_array()
            .unwrap()
            .len(),
        23
    );
    assert_linked(&mut emulator, &world);
    // 23 names: DescribeTargetGroups in calls of 20; target health per target group; attaches
    // in calls of 10 (the emulator, like AWS, refuses more).
    assert_eq!(
        emulator.requests(),
        counts(&[
            (STS, 1),
            (GET, 1),
            (GET_GROUP, 1),
            (LIST, 2),
            (DESCRIBE_TG, 2),
            (DESCRIBE_ASG, 2), // round 2, and again before the attach
            (TARGET_HEALTH, 23),
            (ATTACH_TG, 3)
        ])
    );
}

#[test]
fn classic_load_balancer_only() {
    let mut emulator = Emulator::start();
    let world = build(
        &mut emulator,
        json!({"target_groups": 0, "classic_load_balancers": 1}),
    );
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["outcome"], "relinked");
    assert_eq!(
        report["load_balancers"]["attached"],
        json!(["web-bg-clb-1"])
    );
    assert_linked(&mut emulator, &world);
    assert_eq!(
        emulator.requests(),
        counts(&[
            (STS, 1),
            (GET, 1),
            (GET_GROUP, 1),
            (LIST, 2),
            (DESCRIBE_ASG, 2), // round 2, and again before the attach
            (INSTANCE_HEALTH, 1),
            (ATTACH_LB, 1)
        ])
    );
}

#[test]
fn target_groups_and_classic_load_balancers() {
    let mut emulator = Emulator::start();
    let world = build(
        &mut emulator,
        json!({"target_groups": 2, "classic_load_balancers": 2}),
    );
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_linked(&mut emulator, &world);
    assert_eq!(
        emulator.requests(),
        counts(&[
            (STS, 1),
            (GET, 1),
            (GET_GROUP, 1),
            (LIST, 2),
            (DESCRIBE_TG, 1),
            (DESCRIBE_ASG, 2), // round 2, and again before the attach
            (TARGET_HEALTH, 2),
            (INSTANCE_HEALTH, 2),
            (ATTACH_TG, 1),
            (ATTACH_LB, 1)
        ])
    );
}

#[test]
fn already_linked_makes_no_mutating_call() {
    let mut emulator = Emulator::start();
    let world = build(
        &mut emulator,
        json!({"target_groups": 2, "classic_load_balancers": 1, "linked": true}),
    );
    let run = emulator.relink(&["replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let table = String::from_utf8_lossy(&run.output.stdout);
    assert!(table.starts_with("ALREADY_LINKED"), "{table}");
    assert!(table.contains("nothing missing; no change made"), "{table}");
    assert_linked(&mut emulator, &world);
    let requests = emulator.requests();
    assert_eq!(mutating(&requests), 0, "{requests:?}");
    // Round 1: the deployment ∥ the deployment group the message names (its fleet and its
    // deployments of the look-back); round 2: its groups and target groups. Nothing more.
    assert_eq!(
        requests,
        counts(&[
            (STS, 1),
            (GET, 1),
            (GET_GROUP, 1),
            (LIST, 1),
            (DESCRIBE_TG, 1),
            (DESCRIBE_ASG, 1)
        ])
    );
    assert_eq!(
        emulator
            .relink(&["--json", "replay", SUCCESS], &[])
            .report()["aws_rounds"],
        2
    );
}

#[test]
fn the_same_event_twice_attaches_once() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({"target_groups": 2}));
    let first = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    let second = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(first.report()["outcome"], "relinked");
    let again = second.report();
    assert_eq!(again["outcome"], "already_linked");
    assert_eq!(
        strings(&again["target_groups"]["already_present"]),
        target_group_arns(&world)
    );
    assert_eq!(emulator.requests()[ATTACH_TG], 1);
    assert_linked(&mut emulator, &world);
}

#[test]
fn sns_event_with_two_groups_relinks_both() {
    let mut emulator = Emulator::start();
    let web = build(&mut emulator, json!({"target_groups": 1}));
    let api = emulator.build(json!({"application": "api", "deployment_group": "api-bg",
        "deployment_id": "d-8K2XH4RTQ", "target_groups": 2, "classic_load_balancers": 1}));
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", "events/sns-two-groups.json"], &[]);
    assert!(run.success(), "{}", run.stderr());
    let reports = run.response()["reports"].clone();
    assert_eq!(reports[0]["replacement_group"], REPLACEMENT);
    assert_eq!(
        reports[1]["replacement_group"],
        "CodeDeploy_api-bg_d-8K2XH4RTQ"
    );
    assert_eq!(reports[0]["outcome"], "relinked");
    assert_eq!(reports[1]["outcome"], "relinked");
    assert_linked(&mut emulator, &web);
    assert_linked(&mut emulator, &api);
    assert_eq!(emulator.requests()[GET], 2);
}
