//! End to end: the real `relink` binary, the sample events of `events/`, and a blue/green world
//! built through the AWS APIs in the emulator. End states are read back with describe calls and
//! every AWS request the function makes is counted per action.
//!
//! The sample notifications name their account, so each `relink replay` asks STS once which
//! account its credentials act in (the Lambda reads it from its own ARN instead).

use crate::emulator::Emulator;
use crate::fixtures::*;
use serde_json::{json, Value};

const REPLACEMENT: &str = "CodeDeploy_web-bg_d-75I7MBT7C";

/// The world of `events/sns-deployment-success.json` (web/web-bg, d-75I7MBT7C), changed by `spec`.
fn build(emulator: &mut Emulator, spec: Value) -> Value {
    let mut full =
        json!({"application": "web", "deployment_group": "web-bg", "deployment_id": "d-75I7MBT7C"});
    full.as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    let world = emulator.build(full);
    emulator.reset_requests();
    world
}

fn assert_linked(emulator: &mut Emulator, world: &Value) {
    let group = emulator.group(world["replacement_group"].as_str().unwrap());
    assert_eq!(
        strings(&group["target_group_arns"]),
        target_group_arns(world)
    );
    assert_eq!(
        strings(&group["load_balancer_names"]),
        strings(&world["load_balancers"])
    );
}

fn assert_untouched(emulator: &mut Emulator, group: &str) {
    let group = emulator.group(group);
    assert_eq!(group["target_group_arns"], json!([]), "{group}");
    assert_eq!(group["load_balancer_names"], json!([]), "{group}");
}

#[test]
fn one_target_group_is_attached() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({"target_groups": 1}));
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["outcome"], "relinked");
    assert_eq!(report["replacement_group"], REPLACEMENT);
    assert_eq!(report["aws_rounds"], 4);
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
            (LIST, 1),
            (DESCRIBE_TG, 1),
            (DESCRIBE_ASG, 1),
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
            (LIST, 1),
            (DESCRIBE_TG, 2),
            (DESCRIBE_ASG, 1),
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
            (LIST, 1),
            (DESCRIBE_ASG, 1),
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
            (LIST, 1),
            (DESCRIBE_TG, 1),
            (DESCRIBE_ASG, 1),
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
    assert_eq!(
        requests,
        counts(&[(STS, 1), (GET, 1), (DESCRIBE_TG, 1), (DESCRIBE_ASG, 1)])
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
    assert_eq!(emulator.requests(), counts(&[(STS, 1), (GET, 1)]));
    assert_untouched(&mut emulator, REPLACEMENT);
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
    assert_eq!(emulator.requests(), counts(&[(STS, 1), (GET, 1)]));
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
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(run.success(), "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["reason"], "unexpected_replacement_group", "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains(original),
        "{report}"
    );
    assert_eq!(emulator.requests(), counts(&[(STS, 1), (GET, 1)]));
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
    assert_eq!(emulator.requests(), counts(&[(STS, 1), (GET, 1)]));
    assert_untouched(&mut emulator, REPLACEMENT);
}

#[test]
fn trigger_test_message_makes_no_request() {
    let mut emulator = Emulator::start();
    let run = emulator.relink(&["--json", "replay", "events/sns-trigger-test.json"], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["reason"], "trigger_test_message");
    assert_eq!(emulator.requests(), counts(&[]));
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
    // Before CodeDeploy has even copied the group: decided from the deployment alone.
    assert_skipped_after_get(
        json!({"status": "Created", "traffic_shifted": false, "replacement": "none"}),
        "traffic_not_shifted",
    );

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
            (LIST, 1),
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

#[test]
fn sqs_wrapped_sns_and_direct_invocation() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({"target_groups": 1}));
    // The SQS sample's second record names api/api-bg, which does not exist here.
    let run = emulator.relink(&["--json", "replay", "events/sqs-sns-success.json"], &[]);
    assert!(run.success(), "{}", run.stderr());
    let response = run.response();
    assert_eq!(response["batchItemFailures"], json!([]));
    assert_eq!(response["reports"][0]["outcome"], "relinked");
    assert_eq!(response["reports"][1]["reason"], "deployment_not_found");
    assert_linked(&mut emulator, &world);

    let direct = emulator.relink(&["--json", "deployment", "d-75I7MBT7C"], &[]);
    assert!(direct.success(), "{}", direct.stderr());
    assert_eq!(direct.report()["outcome"], "already_linked");
}

#[test]
fn sqs_record_that_fails_is_the_only_one_redelivered() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({}));
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string("events/sqs-sns-success.json").unwrap())
            .unwrap();
    event["Records"][1]["body"] = json!("not a notification");
    let file = event_file(&event);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(!run.success());
    let response = run.response();
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": event["Records"][1]["messageId"]}])
    );
    assert_eq!(response["reports"][0]["outcome"], "relinked");
    assert_eq!(response["reports"][1]["outcome"], "failed");
    assert_linked(&mut emulator, &world);
}

#[test]
fn unresolvable_target_group_fails_after_the_other_records() {
    let mut emulator = Emulator::start();
    build(&mut emulator, json!({"target_groups": 2}));
    let api = emulator.build(json!({"application": "api", "deployment_group": "api-bg",
        "deployment_id": "d-8K2XH4RTQ", "target_groups": 1}));
    emulator.delete_target_group("web-bg-tg-2");
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", "events/sns-two-groups.json"], &[]);
    assert!(
        !run.success(),
        "a deployment that cannot be relinked must fail the invocation"
    );
    let reports = run.response()["reports"].clone();
    assert_eq!(reports[0]["outcome"], "failed");
    assert_eq!(reports[0]["error_code"], "TargetGroupNotFound");
    assert!(
        reports[0]["detail"]
            .as_str()
            .unwrap()
            .contains("web-bg-tg-2"),
        "{}",
        reports[0]
    );
    assert!(
        !reports[0]["detail"]
            .as_str()
            .unwrap()
            .contains("web-bg-tg-1"),
        "{}",
        reports[0]
    );
    assert_eq!(reports[1]["outcome"], "relinked");
    assert_linked(&mut emulator, &api);
    assert_untouched(&mut emulator, REPLACEMENT);
    let stderr = run.stderr();
    assert!(
        stderr.contains("Relink.Failed") && stderr.contains("d-75I7MBT7C"),
        "{stderr}"
    );
}

#[test]
fn instance_event_and_invalid_input_are_reported() {
    let emulator = Emulator::start();
    let run = emulator.relink(
        &["--json", "replay", "events/sns-instance-failure.json"],
        &[],
    );
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["reason"], "instance_notification");
    assert_eq!(run.report()["instance_id"], "i-0a1b2c3d4e5f67890");

    let bad = emulator.relink(&["replay", "events/invalid/unknown-shape.json"], &[]);
    assert!(!bad.success());
    assert!(
        bad.stderr().contains("Relink.InvalidEvent"),
        "{}",
        bad.stderr()
    );
    assert!(
        bad.stderr().contains("not a supported event"),
        "{}",
        bad.stderr()
    );

    let config = emulator.relink(&["replay", SUCCESS], &[("RELINK_ATTACH_WHEN", "soon")]);
    assert_eq!(config.output.status.code(), Some(2));
    assert!(
        config.stderr().contains("RELINK_ATTACH_WHEN"),
        "{}",
        config.stderr()
    );
}

#[test]
fn a_dead_letter_record_replays_the_event_it_wraps() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({}));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    // What Lambda's on-failure destination puts in the dead-letter queue.
    let record = json!({
        "version": "1.0",
        "timestamp": "2022-10-13T16:05:00.000Z",
        "requestContext": {"requestId": "e3c1b2a4-0000-4000-8000-000000000000",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:relink:$LATEST",
            "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Relink.Failed", "errorMessage": "…"}
    });
    let file = event_file(&record);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["outcome"], "relinked");
    assert_linked(&mut emulator, &world);
}
