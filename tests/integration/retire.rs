//! The deployment group reconciled, end to end against CodeDeploy as it runs
//! (tests/emulator/lifecycle.py), in both notification forms, through the sweep and through
//! `audit --fix`:
//!
//! - harm 1, an outage nobody repaired: a fleet older than the look-back, never linked, scaled to
//!   zero and back; its scale-outs' own notifications repair it, and so does the sweep;
//! - harm 2, attachments that outlive the traffic: a copy linked after its shift and then rolled
//!   back (an alarm stops the deployment during the termination wait), and a copy a newer
//!   `KEEP_ALIVE` deployment superseded (young, or older than the look-back), are retired once
//!   the deployment group is at rest;
//! - and what is kept: a copy that still serves, a group a person made (named like a copy), a
//!   load balancer outside the deployment group's, a deployment group not at rest, the fleet
//!   CodeDeploy names.

use crate::emulator::{Emulator, Run};
use crate::fixtures::*;
use crate::rule::{attached, copy, deliver, step, to_success_unheard, ALL, FORMS};
use serde_json::{json, Value};

const DETACH_TG: &str = "autoscaling:DetachLoadBalancerTargetGroups";
const DETACH_LB: &str = "autoscaling:DetachLoadBalancers";
/// The deployment group's original fleet, a group a person made.
const ORIGINAL: &str = "web-bg-asg";

/// web/web-bg's deployment about to start (all at once), with `spec` -> its copy.
fn story(emulator: &mut Emulator, spec: Value) -> String {
    let mut spec = spec;
    spec["config"] = json!(ALL);
    spec["capacity"] = json!(4);
    copy(&emulator.call(json!({"op": "story", "spec": spec})))
}

/// The next deployment of web/web-bg (all at once) -> its copy.
fn next(emulator: &mut Emulator) -> String {
    copy(&emulator.call(json!({"op": "story_next", "spec": {"config": ALL}})))
}

/// The deployment's copy (which a person also attached to web-bg-legacy, a target group the
/// deployment group does not list) linked after its shift (its last instance's success), then an
/// alarm stops the deployment during the termination wait -> the copy, and the stop's
/// notifications (the deployment's STOP first, then its rollback's, when `rollback`).
fn linked_then_stopped(emulator: &mut Emulator, rollback: bool) -> (String, Vec<Value>) {
    let g1 = story(emulator, json!({"extra_target_group": true}));
    step(emulator, "web-bg"); // provision
    emulator.call(json!({"op": "attach", "group": g1, "names": ["web-bg-legacy"]}));
    step(emulator, "web-bg"); // install
    let routed = step(emulator, "web-bg"); // every instance through AllowTraffic
    let linked = deliver(emulator, routed.last().unwrap(), "sns");
    assert_eq!(linked["outcome"], "relinked", "{linked}");
    step(emulator, "web-bg"); // block: the original's instances deregistered
    step(emulator, "web-bg"); // wait: the termination wait begins
    let stopped =
        emulator.call(json!({"op": "walk_fail", "rollback": rollback, "status": "Stopped"}));
    let notes = stopped["notifications"].as_array().unwrap().clone();
    (g1, notes)
}

fn retirements(report: &Value) -> Vec<Value> {
    report["retired"].as_array().cloned().unwrap_or_default()
}

/// The report's one retirement, of `group`.
fn retirement(report: &Value, group: &str) -> Value {
    let all = retirements(report);
    assert_eq!(all.len(), 1, "{report}");
    assert_eq!(all[0]["group"], group, "{report}");
    all[0].clone()
}

fn detaches(emulator: &mut Emulator) -> u64 {
    let requests = emulator.requests();
    requests.get(DETACH_TG).copied().unwrap_or(0) + requests.get(DETACH_LB).copied().unwrap_or(0)
}

fn report_of(run: &Run, group: &str) -> Value {
    assert!(run.success(), "{}{}", run.stdout(), run.stderr());
    run.response()["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            retirements(r).iter().any(|t| t["group"] == group) || r["replacement_group"] == group
        })
        .cloned()
        .unwrap_or_else(|| panic!("no report about {group}: {}", run.stdout()))
}

fn audit_row(run: &Run, group: &str) -> Value {
    run.response()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "retired" && r["report"]["replacement_group"] == group)
        .cloned()
        .unwrap_or_else(|| panic!("no retired row for {group}: {}", run.stdout()))
}

#[test]
fn harm_1_an_old_fleet_scaled_to_zero_and_back_is_repaired_by_its_scale_outs_notifications() {
    // The deployment's copy has served for three days, never linked (its notification was lost);
    // it was scaled to zero and back: every instance registered by CodeDeploy is gone, and each
    // launch brought an `autoscaling` deployment.
    for (form, level) in [("sns", 0), ("eventbridge", 0), ("sns", 1)] {
        let mut emulator = Emulator::start();
        let g1 = story(&mut emulator, json!({"created_hours_ago": 72}));
        to_success_unheard(&mut emulator, "web-bg");
        let replaced =
            emulator.call(json!({"op": "walk_scale", "group": "copy", "change": "replace"}));
        assert_eq!(emulator.group(&g1)["serving"], json!([]));
        let notes = replaced["notifications"].as_array().unwrap();
        // The last scale-out's success (deployment level), or its instance's success.
        let note = &notes[notes.len() - 1 - level];
        let report = deliver(&emulator, note, form);
        assert_eq!(
            (
                report["outcome"].as_str(),
                report["outage_repair"].as_bool()
            ),
            (Some("relinked"), Some(true)),
            "{form}: {report}"
        );
        assert_eq!(report["replacement_group"], g1.as_str(), "{report}");
        assert_eq!(attached(&mut emulator, &g1), 3);
    }
}

#[test]
fn harm_1_through_the_sweep_and_audit_fix() {
    for command in [
        &["--json", "sweep"][..],
        &["--json", "audit", "--fix", "--yes"],
    ] {
        let mut emulator = Emulator::start();
        let g1 = story(&mut emulator, json!({"created_hours_ago": 72}));
        to_success_unheard(&mut emulator, "web-bg");
        emulator.call(json!({"op": "walk_scale", "group": "copy", "change": "replace"}));
        let run = emulator.relink(command, &[]);
        assert!(
            run.success(),
            "{command:?}: {}{}",
            run.stdout(),
            run.stderr()
        );
        assert_eq!(
            attached(&mut emulator, &g1),
            3,
            "{command:?}: {}",
            run.stdout()
        );
        if command[1] == "sweep" {
            // The deployment is older than the look-back: the scale-outs' deployments led to it.
            let report = report_of(&run, &g1);
            assert_eq!(report["outage_repair"], true, "{report}");
        }
    }
}

#[test]
fn harm_2_a_copy_linked_then_rolled_back_is_retired_once_the_rollback_is_done() {
    for form in FORMS {
        let mut emulator = Emulator::start();
        let (g1, notes) = linked_then_stopped(&mut emulator, true);
        emulator.reset_requests();
        // The deployment's own STOP notification: its rollback is done, the group at rest.
        let report = deliver(&emulator, &notes[0], form);
        let retired = retirement(&report, &g1);
        assert_eq!(retired["outcome"], "retired", "{form}: {report}");
        assert_eq!(retired["target_groups"].as_array().unwrap().len(), 2);
        assert_eq!(retired["load_balancers"], json!(["web-bg-clb-1"]));
        assert_eq!(
            report["aws_rounds"], 4,
            "observed, read, evidence, detach: {report}"
        );
        // Only the deployment group's load balancers: the legacy target group stays.
        assert_eq!(
            emulator.group(&g1)["target_group_arns"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "web-bg-legacy stays"
        );
        assert_eq!(emulator.group(&g1)["load_balancer_names"], json!([]));
        assert_eq!(
            (
                emulator.requests()[DETACH_TG],
                emulator.requests()[DETACH_LB]
            ),
            (1, 1)
        );
        // The original serves again, untouched.
        assert_eq!(attached(&mut emulator, ORIGINAL), 4);
        // The rollback's own success, later: nothing left to do.
        let later = deliver(&emulator, notes.last().unwrap(), form);
        assert!(retirements(&later).is_empty(), "{later}");
        assert_eq!(detaches(&mut emulator), 2);
    }
}

#[test]
fn harm_2_through_the_sweep_and_audit_fix() {
    for command in [
        &["--json", "sweep"][..],
        &["--json", "audit", "--fix", "--yes"],
    ] {
        let mut emulator = Emulator::start();
        let (g1, _) = linked_then_stopped(&mut emulator, true);
        let run = emulator.relink(command, &[]);
        assert!(
            run.success(),
            "{command:?}: {}{}",
            run.stdout(),
            run.stderr()
        );
        let retired = match command[1] {
            "sweep" => retirement(&report_of(&run, &g1), &g1),
            _ => {
                let row = audit_row(&run, &g1);
                assert_eq!(row["state"], "retired", "{row}");
                row["report"]["retired"][0].clone()
            }
        };
        assert_eq!(retired["outcome"], "retired", "{command:?}: {retired}");
        assert_eq!(emulator.group(&g1)["load_balancer_names"], json!([]));
    }
}

#[test]
fn harm_2_a_copy_a_keep_alive_deployment_superseded_is_retired_at_its_success_whatever_its_age() {
    for old in [false, true] {
        for form in FORMS {
            let mut emulator = Emulator::start();
            let spec = match old {
                true => json!({"termination": "KEEP_ALIVE", "created_hours_ago": 72}),
                false => json!({"termination": "KEEP_ALIVE"}),
            };
            let g1 = story(&mut emulator, spec);
            let success = to_success_unheard(&mut emulator, "web-bg");
            assert_eq!(deliver(&emulator, &success, "sns")["outcome"], "relinked");
            // d2 runs to its success unheard; G1 keeps running, deregistered, still attached.
            let g2 = next(&mut emulator);
            let success = to_success_unheard(&mut emulator, "web-bg");
            emulator.reset_requests();
            let report = deliver(&emulator, &success, form);
            assert_eq!(report["outcome"], "relinked", "{form}: {report}");
            assert_eq!(report["replacement_group"], g2.as_str());
            let retired = retirement(&report, &g1);
            assert_eq!(retired["outcome"], "retired", "old {old}, {form}: {report}");
            assert_eq!(attached(&mut emulator, &g1), 0);
            assert_eq!(attached(&mut emulator, &g2), 3);
            // The original d1 replaced is a group a person made: it keeps what it holds.
            assert_eq!(attached(&mut emulator, ORIGINAL), 3);
            if old {
                // Found through d2's Blue instances: its deployment is older than the look-back.
                let requests = emulator.requests();
                assert_eq!(requests["codedeploy:ListDeploymentTargets"], 1);
                assert_eq!(requests["autoscaling:DescribeAutoScalingInstances"], 1);
            }
        }
    }
}

#[test]
fn harm_2_keep_alive_through_the_sweep() {
    for old in [false, true] {
        let mut emulator = Emulator::start();
        let spec = match old {
            true => json!({"termination": "KEEP_ALIVE", "created_hours_ago": 72}),
            false => json!({"termination": "KEEP_ALIVE"}),
        };
        let g1 = story(&mut emulator, spec);
        let success = to_success_unheard(&mut emulator, "web-bg");
        deliver(&emulator, &success, "sns");
        next(&mut emulator);
        to_success_unheard(&mut emulator, "web-bg");
        let run = emulator.relink(&["--json", "sweep"], &[]);
        let retired = retirement(&report_of(&run, &g1), &g1);
        assert_eq!(retired["outcome"], "retired", "old {old}: {}", run.stdout());
        assert_eq!(attached(&mut emulator, &g1), 0);
    }
}

#[test]
fn a_copy_that_still_serves_is_kept_whole() {
    // The alarm stopped the deployment without rollback: traffic stays on the copy.
    for form in FORMS {
        let mut emulator = Emulator::start();
        let (g1, notes) = linked_then_stopped(&mut emulator, false);
        emulator.reset_requests();
        let report = deliver(&emulator, &notes[0], form);
        let kept = retirement(&report, &g1);
        assert_eq!(
            (kept["outcome"].as_str(), kept["reason"].as_str()),
            (Some("kept"), Some("serving")),
            "{form}: {report}"
        );
        assert!(
            kept["detail"].as_str().unwrap().contains("is a target of"),
            "{kept}"
        );
        for command in [
            &["--json", "sweep"][..],
            &["--json", "audit", "--fix", "--yes"],
        ] {
            let run = emulator.relink(command, &[]);
            assert!(run.success(), "{command:?}: {}", run.stderr());
        }
        assert_eq!(detaches(&mut emulator), 0);
        assert_eq!(attached(&mut emulator, &g1), 4, "with web-bg-legacy");
    }
}

#[test]
fn a_group_a_person_made_is_never_touched_even_named_like_a_copy() {
    let mut emulator = Emulator::start();
    let (g1, _) = linked_then_stopped(&mut emulator, true);
    // A person's group named like a copy of web-bg, holding one of its target groups.
    let fake = "CodeDeploy_web-bg_d-MADEBYHAND";
    emulator.call(json!({"op": "copy_group", "original": ORIGINAL, "name": fake}));
    emulator.call(json!({"op": "attach", "group": fake, "names": ["web-bg-tg-1"]}));
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "audit", "--fix", "--yes"], &[]);
    assert!(run.success(), "{}{}", run.stdout(), run.stderr());
    let row = audit_row(&run, fake);
    assert_eq!(row["state"], "retired_attached", "{row}");
    assert_eq!(row["report"]["retired"][0]["reason"], "not_a_copy", "{row}");
    assert_eq!(audit_row(&run, &g1)["state"], "retired");
    assert_eq!(attached(&mut emulator, fake), 1);
    // The original, a person's group too, is never a candidate: it is not named like a copy.
    assert_eq!(attached(&mut emulator, ORIGINAL), 4);
    assert_eq!(
        emulator.requests()[DETACH_TG],
        1,
        "the rolled-back copy only"
    );
}

#[test]
fn a_deployment_group_that_is_not_at_rest_keeps_its_copies_until_it_is() {
    let mut emulator = Emulator::start();
    let (g1, notes) = linked_then_stopped(&mut emulator, true);
    // A newer deployment starts before the stop's notification arrives.
    next(&mut emulator);
    step(&mut emulator, "web-bg"); // provision: InProgress
    let report = deliver(&emulator, &notes[0], "sns");
    let kept = retirement(&report, &g1);
    assert_eq!(
        (kept["outcome"].as_str(), kept["reason"].as_str()),
        (Some("kept"), Some("not_at_rest")),
        "{report}"
    );
    assert!(
        kept["detail"].as_str().unwrap().contains("InProgress"),
        "{kept}"
    );
    assert_eq!(
        report["aws_rounds"], 2,
        "kept from what round 2 read, with no evidence read: {report}"
    );
    assert_eq!(detaches(&mut emulator), 0);
    // The newer deployment succeeds: the group is at rest, the copy retired.
    let success = to_success_unheard(&mut emulator, "web-bg");
    let report = deliver(&emulator, &success, "eventbridge");
    assert_eq!(retirement(&report, &g1)["outcome"], "retired", "{report}");
}

#[test]
fn the_fleet_codedeploy_names_is_never_retired_even_when_it_serves_nobody() {
    let mut emulator = Emulator::start();
    let g1 = story(&mut emulator, json!({}));
    let success = to_success_unheard(&mut emulator, "web-bg");
    assert_eq!(deliver(&emulator, &success, "sns")["outcome"], "relinked");
    // An operator takes the fleet out of every load balancer: it holds them and serves nobody.
    emulator.deregister(&g1, &["web-bg-tg-1", "web-bg-tg-2", "web-bg-clb-1"]);
    emulator.reset_requests();
    for form in FORMS {
        let report = deliver(&emulator, &success, form);
        assert!(retirements(&report).is_empty(), "{report}");
    }
    let run = emulator.relink(&["--json", "sweep"], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(detaches(&mut emulator), 0);
    assert_eq!(attached(&mut emulator, &g1), 3);
}

#[test]
fn retire_copies_false_reports_and_detaches_nothing() {
    let mut emulator = Emulator::start();
    let (g1, notes) = linked_then_stopped(&mut emulator, true);
    let file = event_file(&notes[0]["sns"]);
    let run = emulator.relink(
        &["--json", "replay", file.path().to_str().unwrap()],
        &[("RELINK_RETIRE_COPIES", "false")],
    );
    let kept = retirement(&run.report(), &g1);
    assert_eq!(kept["reason"], "disabled", "{kept}");
    let dry = emulator.relink(
        &[
            "--json",
            "--dry-run",
            "replay",
            file.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(retirement(&dry.report(), &g1)["outcome"], "planned");
    assert_eq!(detaches(&mut emulator), 0);
    assert_eq!(attached(&mut emulator, &g1), 4);
}
