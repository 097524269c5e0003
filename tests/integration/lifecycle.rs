//! The rest of the lifecycle rule, end to end: instance-level notifications link a running
//! deployment's copy at its first replacement instance's success (and change nothing before the
//! shift); a failure that belongs to one deployment group fails that group's job alone; records
//! of one deployment in one invocation are one job; the cases where the load balancers decide
//! (draining, `KEEP_ALIVE`, scale-out, rollback).

use crate::emulator::Emulator;
use crate::fixtures::*;
use crate::live::{assert_live_and_linked, copy_of, d1_succeeded, id_of, next, report_for, D1, G1};
use serde_json::{json, Value};

/// web/web-bg with two target groups and a classic load balancer; d1 is running, its copy's
/// instances registered (`shifted`) or not yet.
fn d1_running(emulator: &mut Emulator, shifted: bool) -> Value {
    emulator.build(
        json!({"deployment_id": D1, "status": "InProgress", "traffic_shifted": shifted,
        "target_groups": 2, "classic_load_balancers": 1}),
    )
}

fn replay(emulator: &Emulator, event: &Value) -> Value {
    let file = event_file(event);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(run.success(), "{}", run.stderr());
    run.report()
}

#[test]
fn a_replacement_instance_success_links_the_running_deployments_copy_in_both_forms() {
    for form in ["sns", "eventbridge"] {
        let mut emulator = Emulator::start();
        d1_running(&mut emulator, true);
        let instances = strings(&emulator.group(G1)["instances"]);
        let event = |instance: &str| match form {
            "sns" => instance_success_sns(D1, instance),
            _ => instance_success_eventbridge(D1, instance, "us-east-1"),
        };
        emulator.reset_requests();
        let first = replay(&emulator, &event(&instances[0]));
        assert_eq!(first["outcome"], "relinked", "{form}: {first}");
        assert_eq!(first["instance_id"], instances[0].as_str());
        // The deployment, its deployment group (an instance-level message names none), the
        // groups, the evidence, the group again, the attach.
        assert_eq!(first["aws_rounds"], 6, "{first}");
        assert_live_and_linked(&mut emulator, G1);

        // The next instance's success: an already-linked check of three rounds (an
        // instance-level notification's deployment group is observed once its deployment is
        // read).
        let second = replay(&emulator, &event(&instances[1]));
        assert_eq!(second["outcome"], "already_linked", "{form}: {second}");
        assert_eq!(second["aws_rounds"], 3, "{second}");
        let requests = emulator.requests();
        assert_eq!(
            (requests[GET], requests[ATTACH_TG], requests[ATTACH_LB]),
            (2, 1, 1),
            "{requests:?}"
        );
    }
}

#[test]
fn an_instance_success_before_the_shift_changes_nothing_whoever_it_is() {
    let mut emulator = Emulator::start();
    let world = d1_running(&mut emulator, false);
    let replacement = strings(&emulator.group(G1)["instances"]);
    let original = strings(&emulator.group(world["original_group"].as_str().unwrap())["instances"]);
    emulator.reset_requests();
    for instance in [&replacement[0], &original[0]] {
        let report = replay(&emulator, &instance_success_sns(D1, instance));
        assert_eq!(report["reason"], "traffic_not_shifted", "{report}");
    }
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_eq!(emulator.group(G1)["target_group_arns"], json!([]));
}

#[test]
fn an_instance_event_from_another_region_is_refused_before_any_deployment_is_read() {
    let mut emulator = Emulator::start();
    d1_running(&mut emulator, true);
    let instance = strings(&emulator.group(G1)["instances"])[0].clone();
    emulator.reset_requests();
    let event = instance_success_eventbridge(D1, &instance, "eu-west-1");
    let file = event_file(&event);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(!run.success(), "a misrouted event raises the alarm");
    let report = run.report();
    assert_eq!(report["error_code"], "ForeignRegion", "{report}");
    // The CLI asks for its own account (the event names one); nothing about the deployment.
    assert_eq!(emulator.requests(), counts(&[(STS, 1)]));
}

#[test]
fn two_records_of_one_deployment_are_one_job_and_one_attach() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": D1, "target_groups": 2, "classic_load_balancers": 1}));
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let message: Value =
        serde_json::from_str(sample["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    let mut ready = message.clone();
    ready["status"] = json!("READY");
    let event = sns_records(&[message, ready]);
    emulator.delay("AttachLoadBalancerTargetGroups", 0.1);
    emulator.reset_requests();
    let file = event_file(&event);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(run.success(), "{}", run.stderr());
    let reports = run.response()["reports"].clone();
    assert_eq!(reports.as_array().unwrap().len(), 2);
    for report in reports.as_array().unwrap() {
        assert_eq!(report["outcome"], "relinked", "{report}");
    }
    let requests = emulator.requests();
    assert_eq!(
        (requests[GET], requests[ATTACH_TG], requests[ATTACH_LB]),
        (1, 1, 1),
        "{requests:?}"
    );
    assert_eq!(emulator.attach_overlaps(), 0);
    assert_live_and_linked(&mut emulator, G1);
}

/// web/web-bg (d1, two target groups and a classic load balancer) and api/api-bg (the second
/// deployment of events/sns-two-groups.json) whose classic load balancer was deleted.
fn one_broken_group(emulator: &mut Emulator) {
    emulator.build(json!({"deployment_id": D1, "target_groups": 2, "classic_load_balancers": 1}));
    emulator.build(json!({"application": "api", "deployment_group": "api-bg",
        "deployment_id": "d-8K2XH4RTQ", "target_groups": 1, "classic_load_balancers": 1}));
    emulator.delete_load_balancer("api-bg-clb-1");
}

#[test]
fn one_broken_group_fails_its_own_job_only_in_an_invocation() {
    let mut emulator = Emulator::start();
    one_broken_group(&mut emulator);
    let run = emulator.relink(&["--json", "replay", "events/sns-two-groups.json"], &[]);
    assert!(!run.success(), "the broken group's record fails");
    let response = run.response();
    assert_eq!(
        report_for(&response, D1)["outcome"],
        "relinked",
        "{response}"
    );
    let broken = report_for(&response, "d-8K2XH4RTQ");
    assert_eq!(broken["outcome"], "failed", "{broken}");
    assert!(
        broken["detail"].as_str().unwrap().contains("api-bg-clb-1"),
        "{broken}"
    );
    assert_live_and_linked(&mut emulator, G1);
}

#[test]
fn one_broken_group_fails_its_own_job_only_in_a_sweep_and_an_audit() {
    let mut emulator = Emulator::start();
    one_broken_group(&mut emulator);
    let audit = emulator.relink(&["--json", "audit"], &[]);
    let summary = audit.response()["summary"].clone();
    assert_eq!(
        (summary["drift"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1)),
        "{summary}"
    );

    let swept = emulator.relink(&["--json", "sweep"], &[]);
    let response = swept.response();
    assert_eq!(
        report_for(&response, D1)["outcome"],
        "relinked",
        "{response}"
    );
    assert_eq!(
        report_for(&response, "d-8K2XH4RTQ")["outcome"],
        "failed",
        "{response}"
    );
    assert_eq!(
        (
            response["summary"]["relinked"].as_u64(),
            response["summary"]["failed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_live_and_linked(&mut emulator, G1);
}

#[test]
fn draining_targets_and_deregistering_classic_instances_do_not_count() {
    // d2 moved traffic to G2 and failed without rolling back: G2 serves, G1 drains. A failed
    // deployment whose copy still serves supersedes G1; the draining states would keep it out
    // too (unit tests of domain::live).
    let mut emulator = Emulator::start();
    emulator.build(
        json!({"deployment_id": D1, "termination": "KEEP_ALIVE", "target_groups": 1,
        "classic_load_balancers": 1}),
    );
    let d2 = next(&mut emulator, "InProgress", json!(true));
    emulator.fail_without_rollback(&id_of(&d2), &[&copy_of(&d2)]);
    let instances = strings(&emulator.group(G1)["instances"]);
    emulator.target_state("web-bg-tg-1", &instances, "unhealthy.draining");
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", SUCCESS], &[]);
    let report = run.report();
    // Where traffic is, not what a status says: d2 failed, but its copy still serves.
    assert_eq!(report["reason"], "superseded", "{report}");
    let detail = report["detail"].as_str().unwrap();
    assert!(
        detail.contains("(Failed, created by user) left traffic on its copy"),
        "{detail}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
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
    assert_eq!(run.report()["outage_repair"], false);
    assert_live_and_linked(&mut emulator, G1);
    assert_eq!(emulator.group(G1)["instances"].as_array().unwrap().len(), 4);
}

#[test]
fn a_rollback_puts_traffic_back_and_relink_follows_it() {
    // d2 moved traffic to its copy and then failed: CodeDeploy moved traffic back to G1, and a
    // failed deployment supersedes nothing.
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let d2 = next(&mut emulator, "InProgress", json!(true));
    let d2_id = id_of(&d2);
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
