//! What is left alone, and why: failed, in-place and unfit deployments, gone groups, names that
//! do not match, traffic not yet moved, dry runs and the allow list.

use super::*;

#[test]
fn failed_deployment_is_skipped() {
    let mut emulator = Emulator::start();
    build(
        &mut emulator,
        json!({"status": "Failed", "traffic_shifted": false}),
    );
    let run = emulator.relink(
        &["--json", "replay", "events/sns-deployment-failure.json"],
        &[],
    );
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["outcome"], "skipped");
    assert_eq!(report["reason"], "deployment_failed");
    // Its deployment group is reconciled all the same: its fleet (the original, linked) and
    // its copies (this one holds nothing).
    assert_eq!(
        emulator.requests(),
        counts(&[
            (STS, 1),
            (GET, 1),
            (GET_GROUP, 1),
            (LIST, 1),
            (DESCRIBE_TG, 1),
            (DESCRIBE_ASG, 1)
        ])
    );
    assert_untouched(&mut emulator, REPLACEMENT);
}

/// The round of a deployment-level notification whose deployment group relink does not
/// reconcile: `GetDeployment`, beside it the deployment group the message names.
fn round_one() -> BTreeMap<String, u64> {
    counts(&[(STS, 1), (GET, 1), (GET_GROUP, 1), (LIST, 1)])
}

/// Skips decided from GetDeployment alone: one round, nothing changed.
fn assert_skipped_after_get(spec: Value, reason: &str) {
    let mut emulator = Emulator::start();
    build(&mut emulator, spec);
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["outcome"], "skipped", "{report}");
    assert_eq!(report["reason"], reason, "{report}");
    assert_eq!(report["aws_rounds"], 1, "{report}");
    assert_eq!(emulator.requests(), round_one());
}

#[test]
fn in_place_deployment_is_skipped() {
    assert_skipped_after_get(
        json!({"deployment_type": "IN_PLACE", "deployment_option": "WITHOUT_TRAFFIC_CONTROL"}),
        "in_place",
    );
}

#[test]
fn discover_existing_is_skipped() {
    assert_skipped_after_get(
        json!({"green_fleet": "DISCOVER_EXISTING"}),
        "fleet_not_copied",
    );
}

#[test]
fn no_load_balancer_info_is_skipped() {
    assert_skipped_after_get(
        json!({"load_balancer_info": false}),
        "no_load_balancer_info",
    );
}

#[test]
fn a_deployment_naming_another_target_group_is_skipped() {
    // targetInstances lists the original group instead of CodeDeploy_web-bg_d-75I7MBT7C: not a
    // copy this function may touch, whatever it holds.
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({}));
    let original = world["original_group"].as_str().unwrap();
    emulator.set_state("d-75I7MBT7C", "InProgress", false, &[original]);
    emulator.call(json!({"op": "name_fleet", "groups": [original]}));
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["reason"], "unexpected_replacement_group", "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains(original),
        "{report}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_untouched(&mut emulator, REPLACEMENT);
}

#[test]
fn replacement_group_deleted_is_skipped() {
    let mut emulator = Emulator::start();
    build(&mut emulator, json!({"replacement": "deleted"}));
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["reason"], "replacement_group_gone", "{report}");
    let requests = emulator.requests();
    assert_eq!(mutating(&requests), 0, "{requests:?}");
    assert_eq!(emulator.group(REPLACEMENT)["exists"], false);
}

#[test]
fn replacement_group_being_deleted_is_skipped() {
    let mut emulator = Emulator::start();
    build(&mut emulator, json!({"replacement": "deleting"}));
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    let report = run.report();
    assert_eq!(report["reason"], "replacement_group_gone", "{report}");
    assert!(
        report["detail"]
            .as_str()
            .unwrap()
            .contains("Delete in progress"),
        "{report}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
}

#[test]
fn message_naming_another_deployment_group_is_skipped() {
    let mut emulator = Emulator::start();
    build(&mut emulator, json!({}));
    let event = sns_event(|m| m["deploymentGroupName"] = json!("web-prod"));
    let file = event_file(&event);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["reason"], "message_mismatch", "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains("web-prod"),
        "{report}"
    );
    // The deployment group the message names was read beside the deployment, and nothing of it
    // is acted on.
    assert_eq!(emulator.requests(), round_one());
    assert_untouched(&mut emulator, REPLACEMENT);
}

#[test]
fn traffic_shifted_before_success_is_attached_by_default_and_waits_in_succeeded_mode() {
    let mut emulator = Emulator::start();
    let world = build(
        &mut emulator,
        json!({"status": "InProgress", "traffic_shifted": true}),
    );
    let event = "events/eventbridge-success.json";

    let waiting = emulator.relink(
        &["--json", "replay", event],
        &[("RELINK_ATTACH_WHEN", "succeeded")],
    );
    assert!(waiting.success(), "{}", waiting.stderr());
    assert_eq!(waiting.report()["reason"], "not_succeeded_yet");
    assert_untouched(&mut emulator, REPLACEMENT);

    let run = emulator.relink(&["--json", "replay", event], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["outcome"], "relinked");
    assert_linked(&mut emulator, &world);
}

#[test]
fn traffic_not_shifted_is_skipped_until_it_shifts() {
    // Before CodeDeploy has even copied the group: decided from the deployment; its deployment
    // group reconciled beside (its fleet, the original, is linked).
    let mut emulator = Emulator::start();
    build(
        &mut emulator,
        json!({"status": "Created", "traffic_shifted": false, "replacement": "none"}),
    );
    let report = emulator
        .relink(&["--json", "replay", SUCCESS], &[])
        .report();
    assert_eq!(report["reason"], "traffic_not_shifted", "{report}");
    assert_eq!(report["aws_rounds"], 2, "{report}");
    assert_eq!(mutating(&emulator.requests()), 0);

    // Copied, but the load balancers still serve the original group: they say so.
    let mut emulator = Emulator::start();
    build(
        &mut emulator,
        json!({"status": "InProgress", "traffic_shifted": false}),
    );
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    let report = run.report();
    assert_eq!(report["reason"], "traffic_not_shifted", "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains(&format!(
            "instance(s) of {REPLACEMENT} is registered with web-bg-tg-1"
        )),
        "{report}"
    );
    assert_eq!(
        emulator.requests(),
        counts(&[
            (STS, 1),
            (GET, 1),
            (GET_GROUP, 1),
            (LIST, 2),
            // CodeDeploy's count of what it has not routed (beside round 2): none here, so the
            // load balancers decide.
            ("codedeploy:ListDeploymentTargets", 1),
            (DESCRIBE_TG, 1),
            (DESCRIBE_ASG, 1),
            (TARGET_HEALTH, 1)
        ])
    );
    assert_untouched(&mut emulator, REPLACEMENT);

    let mut emulator = Emulator::start();
    let world = build(
        &mut emulator,
        json!({"status": "InProgress", "traffic_shifted": false}),
    );
    let early = emulator.relink(&["--json", "deployment", "d-75I7MBT7C"], &[]);
    assert_eq!(early.report()["reason"], "traffic_not_shifted");
    emulator.set_state("d-75I7MBT7C", "InProgress", true, &[REPLACEMENT]);
    let shifted = emulator.relink(&["--json", "deployment", "d-75I7MBT7C"], &[]);
    assert_eq!(shifted.report()["outcome"], "relinked");
    assert_linked(&mut emulator, &world);
}

#[test]
fn dry_run_changes_nothing() {
    let mut emulator = Emulator::start();
    let world = build(
        &mut emulator,
        json!({"target_groups": 2, "classic_load_balancers": 1}),
    );
    for (args, vars) in [
        (vec!["--json", "--dry-run", "replay", SUCCESS], vec![]),
        (
            vec!["--json", "replay", SUCCESS],
            vec![("RELINK_DRY_RUN", "true")],
        ),
    ] {
        let run = emulator.relink(&args, &vars);
        assert!(run.success(), "{}", run.stderr());
        let report = run.report();
        assert_eq!(report["outcome"], "planned");
        assert_eq!(report["dry_run"], true);
        assert_eq!(
            strings(&report["target_groups"]["missing"]),
            target_group_arns(&world)
        );
        assert_eq!(report["load_balancers"]["missing"], json!(["web-bg-clb-1"]));
    }
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_untouched(&mut emulator, REPLACEMENT);
}

#[test]
fn deployment_group_outside_the_allow_list_is_skipped() {
    let mut emulator = Emulator::start();
    build(&mut emulator, json!({}));
    let run = emulator.relink(
        &["--json", "replay", SUCCESS],
        &[("RELINK_DEPLOYMENT_GROUPS", "api/*, web/web-prod")],
    );
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["reason"], "not_allowed");
    assert_untouched(&mut emulator, REPLACEMENT);

    let allowed = emulator.relink(
        &["--json", "replay", SUCCESS],
        &[("RELINK_DEPLOYMENT_GROUPS", "web/web-*")],
    );
    assert_eq!(allowed.report()["outcome"], "relinked");
}
