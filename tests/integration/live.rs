//! The safety rule, end to end: relink attaches only to the fleet the load balancers serve. Five
//! ways a retired copy could be put back into traffic, each tried on the paths that reach an
//! attach (a late or replayed notification, a dead-letter replay, the Lambda itself, the sweep,
//! `audit --fix`), and the cases where attaching is exactly right.
//!
//! The emulator plays CodeDeploy's traffic moves: a deployment that moves traffic registers its
//! copy's instances with the deployment group's load balancers and deregisters (drains) the
//! previous group's; `KEEP_ALIVE` keeps the previous group running after success.

use crate::emulator::Emulator;
use crate::fixtures::*;
use serde_json::{json, Value};

/// The sample notification's deployment and its copy.
const D1: &str = "d-75I7MBT7C";
const G1: &str = "CodeDeploy_web-bg_d-75I7MBT7C";
const ALL_LOAD_BALANCERS: [&str; 3] = ["web-bg-clb-1", "web-bg-tg-1", "web-bg-tg-2"];

/// web/web-bg with two target groups and a classic load balancer; d1 (the sample's deployment)
/// succeeded and moved traffic to G1, which was left unlinked (the function was in dry run, or
/// denied).
fn d1_succeeded(emulator: &mut Emulator, termination: &str) -> Value {
    emulator.build(
        json!({"application": "web", "deployment_group": "web-bg", "deployment_id": D1,
        "target_groups": 2, "classic_load_balancers": 1, "termination": termination}),
    )
}

/// The next deployment of web/web-bg, traffic moved to its copy, in `status`.
fn next(emulator: &mut Emulator, status: &str) -> Value {
    emulator.deploy(json!({"application": "web", "deployment_group": "web-bg",
        "status": status, "traffic_shifted": true}))
}

fn copy_of(deployment: &Value) -> String {
    deployment["replacement_group"].as_str().unwrap().to_owned()
}

/// The group has no attachment and no load balancer sends it traffic.
fn assert_out_of_traffic(emulator: &mut Emulator, group: &str) {
    let g = emulator.group(group);
    assert_eq!(g["exists"], true, "{g}");
    assert_eq!(g["target_group_arns"], json!([]), "{g}");
    assert_eq!(g["load_balancer_names"], json!([]), "{g}");
    assert_eq!(g["serving"], json!([]), "{g}");
}

/// The group has every attachment and every load balancer sends it traffic.
fn assert_live_and_linked(emulator: &mut Emulator, group: &str) {
    let g = emulator.group(group);
    assert_eq!(g["target_group_arns"].as_array().unwrap().len(), 2, "{g}");
    assert_eq!(g["load_balancer_names"], json!(["web-bg-clb-1"]), "{g}");
    assert_eq!(g["serving"], json!(ALL_LOAD_BALANCERS), "{g}");
}

fn assert_not_live(report: &Value, group: &str) {
    assert_eq!(report["outcome"], "skipped", "{report}");
    assert_eq!(report["reason"], "not_live", "{report}");
    let detail = report["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "instance(s) of {group} is registered with web-bg-tg-1"
        )),
        "{detail}"
    );
}

fn report_for<'a>(response: &'a Value, deployment_id: &str) -> &'a Value {
    response["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["deployment_id"] == deployment_id)
        .unwrap_or_else(|| panic!("no report for {deployment_id}: {response}"))
}

/// What Lambda's on-failure destination puts in the dead-letter queue for `event`.
fn dead_letter(event: &Value) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2022-10-13T16:05:00.000Z",
        "requestContext": {"requestId": "e3c1b2a4-0000-4000-8000-000000000000",
            "functionArn": FUNCTION_ARN, "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Relink.Failed", "errorMessage": "…"}
    })
}

#[test]
fn story_1_a_late_notification_of_a_superseded_deployment_leaves_its_retired_copy_alone() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "KEEP_ALIVE");
    let d2 = next(&mut emulator, "Succeeded");
    emulator.reset_requests();

    let late = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(late.success(), "{}", late.stderr());
    assert_not_live(&late.report(), G1);
    assert_eq!(
        late.report()["aws_rounds"],
        3,
        "nothing attached, nothing to attach"
    );

    let event: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let record = event_file(&dead_letter(&event));
    let redriven = emulator.relink(&["--json", "replay", record.path().to_str().unwrap()], &[]);
    assert!(redriven.success(), "{}", redriven.stderr());
    assert_not_live(&redriven.report(), G1);

    let lambda = emulator.invoke_lambda(&event, &[], FUNCTION_ARN);
    assert!(lambda.succeeded(), "{:?} {:?}", lambda.body, lambda.logs);
    assert_not_live(&lambda.body["reports"][0], G1);

    let requests = emulator.requests();
    assert_eq!(mutating(&requests), 0, "{requests:?}");
    assert_out_of_traffic(&mut emulator, G1);
    let live = copy_of(&d2);
    assert_eq!(emulator.group(&live)["serving"], json!(ALL_LOAD_BALANCERS));
}

#[test]
fn story_2_the_same_while_the_newer_deployment_waits_to_terminate_the_retired_copy() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    next(&mut emulator, "InProgress");
    emulator.reset_requests();

    // G1's instances are still draining from the target groups: draining is not serving.
    for args in [
        vec!["--json", "replay", SUCCESS],
        vec!["--json", "deployment", D1],
    ] {
        let run = emulator.relink(&args, &[]);
        assert!(run.success(), "{}", run.stderr());
        assert_not_live(&run.report(), G1);
        assert!(
            run.report()["detail"]
                .as_str()
                .unwrap()
                .contains("which serves 2 other instance(s)"),
            "{}",
            run.report()
        );
    }
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_out_of_traffic(&mut emulator, G1);
}

#[test]
fn story_3_the_sweep_links_the_live_copy_and_not_the_superseded_one() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "KEEP_ALIVE");
    let d2 = next(&mut emulator, "Succeeded");
    let d2_id = d2["deployment_id"].as_str().unwrap();
    let g2 = copy_of(&d2);
    emulator.reset_requests();

    // In dry run the sweep reports what it would do, and it tells the two apart already.
    let planned = emulator.relink(&["--json", "--dry-run", "sweep"], &[]);
    let response = planned.response();
    assert_eq!(report_for(&response, d2_id)["outcome"], "planned");
    assert_not_live(report_for(&response, D1), G1);

    // DryRun switched off.
    let swept = emulator.relink(&["--json", "sweep"], &[]);
    assert!(swept.success(), "{}", swept.stderr());
    let response = swept.response();
    assert_eq!(report_for(&response, d2_id)["outcome"], "relinked");
    assert_not_live(report_for(&response, D1), G1);
    assert_eq!(response["summary"]["relinked"], 1, "{response}");
    assert_eq!(response["summary"]["skipped"]["not_live"], 1, "{response}");

    let requests = emulator.requests();
    assert_eq!(requests[ATTACH_TG], 1, "G2 only: {requests:?}");
    assert_eq!(requests[ATTACH_LB], 1, "G2 only: {requests:?}");
    assert_out_of_traffic(&mut emulator, G1);
    assert_live_and_linked(&mut emulator, &g2);
}

#[test]
fn story_4_audit_fix_during_the_termination_wait_fixes_the_live_copy_only() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let d2 = next(&mut emulator, "InProgress");
    let g2 = copy_of(&d2);
    emulator.reset_requests();

    let audit = emulator.relink(&["--json", "audit"], &[]);
    assert_eq!(audit.output.status.code(), Some(1), "G2 drifts");
    let rows = audit.response()["rows"].clone();
    let row = |group: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["report"]["replacement_group"] == group)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {group}: {rows}"))
    };
    // The deployment group still names G1 while d2 waits; G1 no longer serves.
    assert_eq!(
        (row(G1)["role"].as_str(), row(G1)["state"].as_str()),
        (Some("current"), Some("not_live"))
    );
    assert_eq!(
        (row(&g2)["role"].as_str(), row(&g2)["state"].as_str()),
        (Some("replacement"), Some("drift"))
    );

    let fix = emulator.relink(&["--json", "audit", "--fix"], &[]);
    assert_eq!(fix.output.status.code(), Some(0), "{}", fix.stderr());
    let summary = fix.response()["summary"].clone();
    assert_eq!(
        (summary["fixed"].as_u64(), summary["not_live"].as_u64()),
        (Some(1), Some(1)),
        "{summary}"
    );
    assert_out_of_traffic(&mut emulator, G1);
    assert_live_and_linked(&mut emulator, &g2);
}

#[test]
fn story_5_a_group_taken_out_on_purpose_is_not_put_back() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let first = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(first.report()["outcome"], "relinked");

    // Out of one target group only: that target group is not put back (nor anything else).
    emulator.detach(G1, &["web-bg-tg-2"]);
    emulator.reset_requests();
    let partial = emulator.relink(&["--json", "sweep"], &[]);
    let report = report_for(&partial.response(), D1).clone();
    assert_eq!(report["reason"], "not_live", "{report}");
    assert!(
        report["detail"].as_str().unwrap().contains("web-bg-tg-2"),
        "{report}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);

    // Out of everything.
    emulator.detach(G1, &ALL_LOAD_BALANCERS);
    emulator.reset_requests();
    let swept = emulator.relink(&["--json", "sweep"], &[]);
    assert!(swept.success(), "{}", swept.stderr());
    assert_not_live(report_for(&swept.response(), D1), G1);
    let fix = emulator.relink(&["--json", "audit", "--fix"], &[]);
    assert_eq!(
        fix.response()["rows"][0]["state"],
        "not_live",
        "{}",
        fix.response()
    );
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_out_of_traffic(&mut emulator, G1);
}

#[test]
fn keep_alive_deployment_groups_are_relinked_once_traffic_moves() {
    // With KEEP_ALIVE, instanceTerminationWaitTimeStarted never turns true: only the load
    // balancers tell that traffic moved.
    let mut emulator = Emulator::start();
    let world = emulator.build(json!({"deployment_id": D1, "termination": "KEEP_ALIVE",
        "status": "InProgress", "traffic_shifted": false, "target_groups": 2,
        "classic_load_balancers": 1}));
    let early = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(
        early.report()["reason"],
        "traffic_not_shifted",
        "{}",
        early.report()
    );

    emulator.set_state(D1, "InProgress", true, &[G1]);
    let shifted = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(
        shifted.report()["outcome"],
        "relinked",
        "{}",
        shifted.report()
    );
    assert_live_and_linked(&mut emulator, G1);
    // The original group, kept alive, was left as CodeDeploy left it: out of traffic.
    let original = emulator.group(world["original_group"].as_str().unwrap());
    assert_eq!(original["serving"], json!([]), "{original}");
}

#[test]
fn a_copy_that_scaled_out_after_the_shift_is_still_relinked() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    emulator.scale(G1, 4);
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(run.report()["outcome"], "relinked", "{}", run.report());
    assert_live_and_linked(&mut emulator, G1);
    assert_eq!(emulator.group(G1)["instances"].as_array().unwrap().len(), 4);
}

#[test]
fn a_copy_scaled_to_zero_shows_no_evidence_and_is_left_alone() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    emulator.scale(G1, 0);
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    let report = run.report();
    assert_eq!(report["reason"], "not_live", "{report}");
    assert!(
        report["detail"]
            .as_str()
            .unwrap()
            .contains("has no instances"),
        "{report}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
}

#[test]
fn a_rollback_puts_traffic_back_and_relink_follows_it() {
    // d2 moved traffic to its copy and then failed: CodeDeploy moved traffic back to G1.
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let d2 = next(&mut emulator, "InProgress");
    let d2_id = d2["deployment_id"].as_str().unwrap().to_owned();
    emulator.set_state(&d2_id, "Failed", true, &[&copy_of(&d2)]);
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(run.report()["outcome"], "relinked", "{}", run.report());
    assert_live_and_linked(&mut emulator, G1);
    let failed = emulator.relink(
        &[
            "--json",
            "replay",
            event_file(&success_of(&d2_id)).path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        failed.report()["reason"],
        "deployment_failed",
        "{}",
        failed.report()
    );
}

#[test]
fn attaches_to_one_group_are_never_in_flight_together() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": D1, "target_groups": 23, "classic_load_balancers": 2}));
    emulator.delay("AttachLoadBalancerTargetGroups", 0.1);
    emulator.delay("AttachLoadBalancers", 0.1);
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_eq!(run.report()["outcome"], "relinked", "{}", run.report());
    let requests = emulator.requests();
    assert_eq!(
        (requests[ATTACH_TG], requests[ATTACH_LB]),
        (3, 1),
        "{requests:?}"
    );
    assert_eq!(emulator.attach_overlaps(), 0);
}
