//! The safety rule, end to end: relink attaches only to the newest copy of a deployment group,
//! and only where that displaces nobody. Each way a wrong attach could happen is tried on the
//! paths that reach an attach (a late or replayed notification, a dead-letter replay, the Lambda
//! itself, `deployment`, the sweep, `audit --fix`), beside the cases where attaching is exactly
//! right, the outage repair among them.
//!
//! The emulator plays CodeDeploy's traffic moves: a deployment that moves traffic registers its
//! copy's instances with the deployment group's load balancers (AllowTraffic) and deregisters
//! (drains) the previous group's (BlockTraffic); `KEEP_ALIVE` keeps the previous group running
//! after success; terminated instances leave every load balancer.

use crate::emulator::Emulator;
use crate::fixtures::*;
use serde_json::{json, Value};

/// The sample notification's deployment and its copy.
pub const D1: &str = "d-75I7MBT7C";
pub const G1: &str = "CodeDeploy_web-bg_d-75I7MBT7C";
pub const ALL_LOAD_BALANCERS: [&str; 3] = ["web-bg-clb-1", "web-bg-tg-1", "web-bg-tg-2"];

/// web/web-bg with two target groups and a classic load balancer; d1 (the sample's deployment)
/// succeeded and moved traffic to G1, which was left unlinked (the function was in dry run, or
/// denied).
pub fn d1_succeeded(emulator: &mut Emulator, termination: &str) -> Value {
    emulator.build(
        json!({"application": "web", "deployment_group": "web-bg", "deployment_id": D1,
        "target_groups": 2, "classic_load_balancers": 1, "termination": termination}),
    )
}

/// The next deployment of web/web-bg in `status`, its traffic moved (`true`), half moved
/// (`"half"`: AllowTraffic done, BlockTraffic not yet) or not.
pub fn next(emulator: &mut Emulator, status: &str, shifted: Value) -> Value {
    emulator.deploy(json!({"application": "web", "deployment_group": "web-bg",
        "status": status, "traffic_shifted": shifted}))
}

pub fn copy_of(deployment: &Value) -> String {
    deployment["replacement_group"].as_str().unwrap().to_owned()
}

pub fn id_of(deployment: &Value) -> String {
    deployment["deployment_id"].as_str().unwrap().to_owned()
}

/// The group has no attachment.
pub fn assert_unattached(emulator: &mut Emulator, group: &str) {
    let g = emulator.group(group);
    assert_eq!(g["exists"], true, "{g}");
    assert_eq!(g["target_group_arns"], json!([]), "{g}");
    assert_eq!(g["load_balancer_names"], json!([]), "{g}");
}

/// The group has no attachment and no load balancer sends it traffic.
fn assert_out_of_traffic(emulator: &mut Emulator, group: &str) {
    assert_unattached(emulator, group);
    assert_eq!(emulator.group(group)["serving"], json!([]));
}

/// The group has every attachment and every load balancer sends it traffic.
pub fn assert_live_and_linked(emulator: &mut Emulator, group: &str) {
    let g = emulator.group(group);
    assert_eq!(g["target_group_arns"].as_array().unwrap().len(), 2, "{g}");
    assert_eq!(g["load_balancer_names"], json!(["web-bg-clb-1"]), "{g}");
    assert_eq!(g["serving"], json!(ALL_LOAD_BALANCERS), "{g}");
}

fn assert_superseded(report: &Value, by: &str) {
    assert_eq!(report["outcome"], "skipped", "{report}");
    assert_eq!(report["reason"], "superseded", "{report}");
    let detail = report["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("a newer deployment of web/web-bg, {by} ("))
            && detail.contains("is not its newest fleet"),
        "{detail}"
    );
}

pub fn report_for<'a>(response: &'a Value, deployment_id: &str) -> &'a Value {
    response["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["deployment_id"] == deployment_id)
        .unwrap_or_else(|| panic!("no report for {deployment_id}: {response}"))
}

fn audit_row(response: &Value, group: &str) -> Value {
    response["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report"]["replacement_group"] == group)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {group}: {response}"))
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
    // d2 succeeded and its copy, the fleet, is linked (were it not, d1's late notification would
    // link it: it reconciles the deployment group).
    let d2 = emulator.deploy(json!({"application": "web", "deployment_group": "web-bg",
        "status": "Succeeded", "traffic_shifted": true, "linked": true}));
    emulator.reset_requests();

    let late = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert!(late.success(), "{}", late.stderr());
    assert_superseded(&late.report(), &id_of(&d2));
    // The deployment beside its deployment group (whose listing shows d2), then the groups beside
    // d2's status and creator: superseded, decided without reading a load balancer.
    assert_eq!(late.report()["aws_rounds"], 2, "nothing attached");
    assert!(!emulator.requests().contains_key(TARGET_HEALTH));

    let event: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let record = event_file(&dead_letter(&event));
    let redriven = emulator.relink(&["--json", "replay", record.path().to_str().unwrap()], &[]);
    assert!(redriven.success(), "{}", redriven.stderr());
    assert_superseded(&redriven.report(), &id_of(&d2));

    let lambda = emulator.invoke_lambda(&event, &[], FUNCTION_ARN);
    assert!(lambda.succeeded(), "{:?} {:?}", lambda.body, lambda.logs);
    assert_superseded(&lambda.body["reports"][0], &id_of(&d2));

    let requests = emulator.requests();
    assert_eq!(mutating(&requests), 0, "{requests:?}");
    assert_out_of_traffic(&mut emulator, G1);
    assert_eq!(
        emulator.group(&copy_of(&d2))["serving"],
        json!(ALL_LOAD_BALANCERS)
    );
}

#[test]
fn story_2_the_same_while_the_newer_deployment_waits_to_terminate_the_retired_copy() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let d2 = next(&mut emulator, "InProgress", json!(true));
    emulator.reset_requests();
    for args in [
        vec!["--json", "replay", SUCCESS],
        vec!["--json", "deployment", D1],
    ] {
        let run = emulator.relink(&args, &[]);
        assert!(run.success(), "{}", run.stderr());
        assert_superseded(&run.report(), &id_of(&d2));
    }
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_out_of_traffic(&mut emulator, G1);
}

#[test]
fn story_3_the_sweep_links_the_newest_copy_and_not_the_superseded_one() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "KEEP_ALIVE");
    let d2 = next(&mut emulator, "Succeeded", json!(true));
    let (d2_id, g2) = (id_of(&d2), copy_of(&d2));
    emulator.reset_requests();

    let planned = emulator.relink(&["--json", "--dry-run", "sweep"], &[]);
    let response = planned.response();
    assert_eq!(report_for(&response, &d2_id)["outcome"], "planned");
    assert_superseded(report_for(&response, D1), &d2_id);

    let swept = emulator.relink(&["--json", "sweep"], &[]);
    assert!(swept.success(), "{}", swept.stderr());
    let response = swept.response();
    assert_eq!(report_for(&response, &d2_id)["outcome"], "relinked");
    assert_superseded(report_for(&response, D1), &d2_id);
    assert_eq!(response["summary"]["relinked"], 1, "{response}");
    assert_eq!(
        response["summary"]["skipped"]["superseded"], 1,
        "{response}"
    );

    let requests = emulator.requests();
    // Two sweeps, each with its two listings and, just before the attach it considers (G2), a
    // fresh listing of the deployment group: a sweep's own listing is minutes old by then in a
    // large account. G1 is left alone from the sweep's own listing (d2 started after it): a skip
    // needs no fresh evidence.
    assert_eq!(requests[LIST], 6, "{requests:?}");
    assert_eq!(requests[ATTACH_TG], 1, "G2 only: {requests:?}");
    assert_eq!(requests[ATTACH_LB], 1, "G2 only: {requests:?}");
    assert_out_of_traffic(&mut emulator, G1);
    assert_live_and_linked(&mut emulator, &g2);
}

#[test]
fn story_4_audit_fix_during_the_termination_wait_fixes_the_newest_copy_only() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let d2 = next(&mut emulator, "InProgress", json!(true));
    let g2 = copy_of(&d2);

    let audit = emulator.relink(&["--json", "audit"], &[]);
    assert_eq!(audit.output.status.code(), Some(1), "G2 drifts");
    let response = audit.response();
    // The deployment group still names G1 while d2 runs.
    let row = audit_row(&response, G1);
    assert_eq!(
        (row["role"].as_str(), row["state"].as_str()),
        (Some("current"), Some("superseded"))
    );
    let row = audit_row(&response, &g2);
    assert_eq!(
        (row["role"].as_str(), row["state"].as_str()),
        (Some("replacement"), Some("drift"))
    );

    let fix = emulator.relink(&["--json", "audit", "--fix", "--yes"], &[]);
    assert_eq!(fix.output.status.code(), Some(0), "{}", fix.stderr());
    let summary = fix.response()["summary"].clone();
    assert_eq!(
        (summary["fixed"].as_u64(), summary["superseded"].as_u64()),
        (Some(1), Some(1)),
        "{summary}"
    );
    assert_out_of_traffic(&mut emulator, G1);
    assert_live_and_linked(&mut emulator, &g2);
}

#[test]
fn story_5_a_group_taken_out_of_one_load_balancer_that_serves_another_fleet_stays_out() {
    // An operator moved web-bg-tg-2 to the original fleet (kept alive): G1 serves through
    // web-bg-tg-1 and the classic load balancer only.
    let mut emulator = Emulator::start();
    let world = d1_succeeded(&mut emulator, "KEEP_ALIVE");
    let original = world["original_group"].as_str().unwrap();
    emulator.register(original, &["web-bg-tg-2"]);
    emulator.deregister(G1, &["web-bg-tg-2"]);
    emulator.reset_requests();
    for args in [vec!["--json", "replay", SUCCESS], vec!["--json", "sweep"]] {
        let run = emulator.relink(&args, &[]);
        assert!(run.success(), "{}", run.stderr());
        let report = report_for(&run.response(), D1).clone();
        assert_eq!(report["reason"], "not_live", "{report}");
        let detail = report["detail"].as_str().unwrap();
        assert!(
            detail.contains("registered with web-bg-tg-2, which serves 2 other instance(s)"),
            "{detail}"
        );
        assert!(!detail.contains("web-bg-tg-1"), "{detail}");
    }
    let fix = emulator.relink(&["--json", "audit", "--fix", "--yes"], &[]);
    assert_eq!(
        audit_row(&fix.response(), G1)["state"],
        "not_live",
        "{}",
        fix.response()
    );
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_unattached(&mut emulator, G1);
}

#[test]
fn a_stranded_fleet_whose_load_balancers_serve_nobody_is_repaired_on_every_path() {
    // d1's copy was never linked; then every instance CodeDeploy registered was replaced. The
    // load balancers serve no instance at all: the service is down.
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    emulator.replace(G1);
    assert_eq!(emulator.group(G1)["serving"], json!([]));
    emulator.reset_requests();

    let planned = emulator.relink(&["--json", "--dry-run", "replay", SUCCESS], &[]);
    let report = planned.report();
    assert_eq!(
        (
            report["outcome"].as_str(),
            report["outage_repair"].as_bool()
        ),
        (Some("planned"), Some(true)),
        "{report}"
    );
    assert_eq!(
        report["detail"],
        "web-bg-tg-1, web-bg-tg-2, web-bg-clb-1 served no instance; CodeDeploy names CodeDeploy_web-bg_d-75I7MBT7C as the fleet of web/web-bg"
    );
    assert_eq!(
        report["aws_rounds"], 4,
        "GetDeploymentGroup after the traffic: {report}"
    );
    assert_eq!(
        emulator.requests()[GET_GROUP],
        2,
        "observed beside the deployment, and read again for the repair"
    );

    let swept = emulator.relink(&["--json", "--dry-run", "sweep"], &[]);
    assert_eq!(report_for(&swept.response(), D1)["outage_repair"], true);

    let audit = emulator.relink(&["--json", "audit"], &[]);
    let summary = audit.response()["summary"].clone();
    assert_eq!(
        (
            summary["drift"].as_u64(),
            summary["outage_repairs"].as_u64()
        ),
        (Some(1), Some(1)),
        "{summary}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);

    let fix = emulator.relink(&["--json", "audit", "--fix", "--yes"], &[]);
    let summary = fix.response()["summary"].clone();
    assert_eq!(
        (
            summary["fixed"].as_u64(),
            summary["outage_repairs"].as_u64()
        ),
        (Some(1), Some(1)),
        "{summary}"
    );
    assert_live_and_linked(&mut emulator, G1);
}

#[test]
fn a_fleet_scaled_to_zero_and_idle_load_balancers_are_linked_for_the_morning() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    emulator.scale(G1, 0);
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    let report = run.report();
    assert_eq!(
        (
            report["outcome"].as_str(),
            report["outage_repair"].as_bool()
        ),
        (Some("relinked"), Some(true)),
        "{report}"
    );
    assert_eq!(report["aws_rounds"], 6, "{report}");
    // Back in the morning: the new instances are registered by the attachment.
    emulator.scale(G1, 2);
    assert_live_and_linked(&mut emulator, G1);
}

#[test]
fn a_newer_shift_half_done_keeps_the_previous_copy_out_on_every_path() {
    // d2's AllowTraffic registered G2 while G1 is still registered: the load balancers alone
    // cannot tell who is leaving.
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "KEEP_ALIVE");
    let d2 = next(&mut emulator, "InProgress", json!("half"));
    let (d2_id, g2) = (id_of(&d2), copy_of(&d2));
    assert_eq!(emulator.group(G1)["serving"], json!(ALL_LOAD_BALANCERS));

    let late = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    assert_superseded(&late.report(), &d2_id);
    let swept = emulator.relink(&["--json", "sweep"], &[]);
    assert_superseded(report_for(&swept.response(), D1), &d2_id);
    assert_eq!(report_for(&swept.response(), &d2_id)["outcome"], "relinked");
    let fix = emulator.relink(&["--json", "audit", "--fix", "--yes"], &[]);
    assert_eq!(
        audit_row(&fix.response(), G1)["state"],
        "superseded",
        "{}",
        fix.response()
    );
    assert_unattached(&mut emulator, G1);
    assert_live_and_linked(&mut emulator, &g2);
}

#[test]
fn a_health_state_relink_does_not_know_never_counts_as_serving() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let instances = strings(&emulator.group(G1)["instances"]);
    emulator.target_state("web-bg-tg-1", &instances, "warming");
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    let report = run.report();
    assert_eq!(report["reason"], "not_live", "{report}");
    let detail = report["detail"].as_str().unwrap();
    for instance in &instances {
        assert!(
            detail.contains(&format!("{instance} in state \"warming\"")),
            "{detail}"
        );
    }
    assert!(
        detail.contains("which relink does not count as serving"),
        "{detail}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_unattached(&mut emulator, G1);
}
