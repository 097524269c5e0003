//! The rule against CodeDeploy as it really runs (tests/emulator/lifecycle.py), end to end, in
//! both notification forms: never ahead of its paced rerouting; the deployments it starts by
//! itself (scale-outs, rollbacks) never supersede the fleet; a newer deployment that failed with
//! traffic on its copy keeps the older copy out; a sweep and an audit over a world that holds
//! all of them; and the outage repair's refusals.

use crate::emulator::Emulator;
use crate::fixtures::*;
use crate::live::{assert_unattached, d1_succeeded, D1, G1};
use serde_json::{json, Value};

pub(crate) const FORMS: [&str; 2] = ["sns", "eventbridge"];
pub(crate) const ONE: &str = "CodeDeployDefault.OneAtATime";
pub(crate) const ALL: &str = "CodeDeployDefault.AllAtOnce";

/// A deployment group `group` (two target groups, a classic load balancer, four instances) and
/// its deployment about to start -> the deployment's state.
pub(crate) fn story(emulator: &mut Emulator, group: &str, config: &str) -> Value {
    emulator.call(json!({"op": "story", "spec": {"deployment_group": group,
        "config": config, "capacity": 4}}))
}

/// CodeDeploy's next step of `group`'s deployment -> its notifications.
pub(crate) fn step(emulator: &mut Emulator, group: &str) -> Vec<Value> {
    let answer = emulator.call(json!({"op": "walk_step", "deployment_group": group}));
    answer["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Steps `group`'s deployment to its end, its notifications lost -> its success notification.
pub(crate) fn to_success_unheard(emulator: &mut Emulator, group: &str) -> Value {
    let mut last = Vec::new();
    while emulator.call(json!({"op": "walk_state", "deployment_group": group}))["next_step"]
        .is_string()
    {
        last = step(emulator, group);
    }
    last.pop().expect("the success notification")
}

/// One notification, in one form, through `relink replay` -> its report.
pub(crate) fn deliver(emulator: &Emulator, notification: &Value, form: &str) -> Value {
    let file = event_file(&notification[form]);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(run.success(), "{}{}", run.stdout(), run.stderr());
    run.report()
}

/// The next deployment of `group` (AllAtOnce) routes traffic to its copy, then fails before
/// BlockTraffic, rolled back or not -> its state, and the failure's answer.
pub(crate) fn a_newer_deployment_fails(
    emulator: &mut Emulator,
    group: &str,
    rollback: bool,
) -> (Value, Value) {
    let newer = emulator.call(
        json!({"op": "story_next", "spec": {"deployment_group": group,
        "config": ALL}}),
    );
    for _ in 0..3 {
        step(emulator, group); // provision, install, reroute: its copy serves
    }
    let failed = emulator.call(json!({"op": "walk_fail", "deployment_group": group,
        "rollback": rollback}));
    (newer, failed)
}

pub(crate) fn copy(state: &Value) -> String {
    state["copy"].as_str().unwrap().to_owned()
}

pub(crate) fn attached(emulator: &mut Emulator, group: &str) -> usize {
    let g = emulator.group(group);
    g["target_group_arns"].as_array().unwrap().len()
        + g["load_balancer_names"].as_array().unwrap().len()
}

/// `group`'s copy is rerouted one instance of four: CodeDeploy has routed traffic to one.
fn one_of_four_rerouted(emulator: &mut Emulator, group: &str) -> (Value, Vec<Value>) {
    let state = story(emulator, group, ONE);
    step(emulator, group); // provision
    step(emulator, group); // install
    let first = step(emulator, group); // the first instance through AllowTraffic
    assert_eq!(first.len(), 1);
    (state, first)
}

#[test]
fn a_copy_codedeploy_is_still_rerouting_to_is_attached_on_no_path_until_the_last_instance() {
    for form in FORMS {
        let mut emulator = Emulator::start();
        let (state, first) = one_of_four_rerouted(&mut emulator, "web-bg");
        let g = copy(&state);
        emulator.reset_requests();
        let report = deliver(&emulator, &first[0], form);
        assert_eq!(report["reason"], "rerouting", "{form}: {report}");
        assert!(
            report["detail"].as_str().unwrap().contains(
                "3 of its replacement instance(s) not routed to yet, by CodeDeploy's own count"
            ),
            "{report}"
        );
        // CodeDeploy's own count said so: no load balancer was read for it.
        let requests = emulator.requests();
        assert!(
            !requests.contains_key(TARGET_HEALTH) && !requests.contains_key(INSTANCE_HEALTH),
            "{requests:?}"
        );
        for args in [
            &["--json", "sweep"][..],
            &["--json", "audit", "--fix", "--yes"],
        ] {
            let run = emulator.relink(args, &[]);
            assert!(run.success(), "{args:?}: {}", run.stderr());
        }
        assert_eq!(mutating(&emulator.requests()), 0, "{form}");
        assert_eq!(attached(&mut emulator, &g), 0);

        // The next two instances: still ahead. The last: every instance serves, linked.
        for _ in 0..2 {
            let next = step(&mut emulator, "web-bg");
            assert_eq!(deliver(&emulator, &next[0], form)["reason"], "rerouting");
        }
        let last = step(&mut emulator, "web-bg");
        let report = deliver(&emulator, &last[0], form);
        assert_eq!(report["outcome"], "relinked", "{form}: {report}");
        assert_eq!(attached(&mut emulator, &g), 3);
    }
}

#[test]
fn deployments_codedeploy_starts_by_itself_never_supersede_the_fleet() {
    for form in FORMS {
        // d1 succeeded and nobody heard: its copy serves, unlinked, and scales out once.
        let mut emulator = Emulator::start();
        let state = story(&mut emulator, "web-bg", ALL);
        let g1 = copy(&state);
        let success = to_success_unheard(&mut emulator, "web-bg");
        let scaled = emulator.call(
            json!({"op": "walk_scale", "deployment_group": "web-bg", "group": "copy", "change": "out"}),
        );
        let scaled = scaled["notifications"].as_array().unwrap().clone();
        // The scale-out's own deployment copies nothing, and is newer than d1: its notification
        // reconciles the deployment group, whose fleet is still d1's copy.
        let own = deliver(&emulator, scaled.last().unwrap(), form);
        assert_eq!(own["outcome"], "relinked", "{form}: {own}");
        assert_eq!(own["replacement_group"], g1.as_str(), "{own}");
        assert_eq!(
            own["aws_rounds"], 6,
            "the newer deployment's creator read: {own}"
        );
        assert_eq!(attached(&mut emulator, &g1), 3);
        // d1's success, late: nothing left to do.
        let late = deliver(&emulator, &success, form);
        assert_eq!(late["outcome"], "already_linked", "{form}: {late}");
    }
}

#[test]
fn a_rollback_makes_the_fleet_it_returns_to_live_again() {
    for form in FORMS {
        // d1's copy G1 serves, unlinked; d2 shifts traffic to G2, fails, and CodeDeploy's
        // rollback deployment routes traffic back to G1.
        let mut emulator = Emulator::start();
        let g1 = copy(&story(&mut emulator, "web-bg", ALL));
        let success = to_success_unheard(&mut emulator, "web-bg");
        let (d2, failed) = a_newer_deployment_fails(&mut emulator, "web-bg", true);
        assert_eq!(failed["state"]["fleet"], g1.as_str(), "{failed}");
        let late = deliver(&emulator, &success, form);
        assert_eq!(late["outcome"], "relinked", "{form}: {late}");
        assert_eq!(attached(&mut emulator, &g1), 3);
        assert_eq!(attached(&mut emulator, &copy(&d2)), 0);
    }
}

#[test]
fn a_newer_deployment_that_failed_with_traffic_on_its_copy_keeps_the_older_copy_out() {
    for form in FORMS {
        // d2 routed traffic to G2 and failed before BlockTraffic, without rollback: G1's
        // instances are still registered beside G2's.
        let mut emulator = Emulator::start();
        let g1 = copy(&story(&mut emulator, "web-bg", ALL));
        let success = to_success_unheard(&mut emulator, "web-bg");
        a_newer_deployment_fails(&mut emulator, "web-bg", false);
        emulator.reset_requests();
        let late = deliver(&emulator, &success, form);
        assert_eq!(late["reason"], "superseded", "{form}: {late}");
        assert!(
            late["detail"]
                .as_str()
                .unwrap()
                .contains("(Failed, created by user) left traffic on its copy"),
            "{late}"
        );
        assert_eq!(mutating(&emulator.requests()), 0);
        assert_eq!(attached(&mut emulator, &g1), 0);
    }
}

#[test]
fn a_sweep_and_an_audit_over_a_world_holding_all_of_them_attach_only_the_fleets() {
    for command in [
        &["--json", "sweep"][..],
        &["--json", "audit", "--fix", "--yes"],
    ] {
        let mut emulator = Emulator::start();
        // ahead-bg: one instance of four rerouted.
        let (ahead, _) = one_of_four_rerouted(&mut emulator, "ahead-bg");
        // scaled-bg: succeeded unheard, then scaled out (an autoscaling deployment).
        let scaled = story(&mut emulator, "scaled-bg", ALL);
        to_success_unheard(&mut emulator, "scaled-bg");
        emulator.call(json!({"op": "walk_scale", "deployment_group": "scaled-bg",
            "group": "copy", "change": "out"}));
        // rolled-bg: a rollback returned traffic to d1's copy.
        let rolled = story(&mut emulator, "rolled-bg", ALL);
        to_success_unheard(&mut emulator, "rolled-bg");
        a_newer_deployment_fails(&mut emulator, "rolled-bg", true);
        // stopped-bg: a newer deployment failed with traffic on its copy.
        let stopped = story(&mut emulator, "stopped-bg", ALL);
        to_success_unheard(&mut emulator, "stopped-bg");
        let (newer, _) = a_newer_deployment_fails(&mut emulator, "stopped-bg", false);

        let run = emulator.relink(command, &[]);
        assert!(
            run.success(),
            "{command:?}: {}{}",
            run.stdout(),
            run.stderr()
        );
        let linked: Vec<(String, usize)> = [&ahead, &scaled, &rolled, &stopped, &newer]
            .into_iter()
            .map(|s| {
                let g = copy(s);
                let n = attached(&mut emulator, &g);
                (g, n)
            })
            .collect();
        let expected = [0, 3, 3, 0, 0];
        for ((group, n), want) in linked.iter().zip(expected) {
            assert_eq!(*n, want, "{command:?}: {group}: {}", run.stdout());
        }
    }
}

#[test]
fn the_outage_repair_refuses_a_group_codedeploy_does_not_name_or_whose_deployment_runs() {
    // Every load balancer serves nobody, but an operator pointed the deployment group at another
    // Auto Scaling group: linking d1's copy would not repair the fleet CodeDeploy deploys to.
    let mut emulator = Emulator::start();
    let world = d1_succeeded(&mut emulator, "KEEP_ALIVE");
    emulator.replace(G1);
    let original = world["replaced_group"].as_str().unwrap();
    emulator.call(json!({"op": "name_fleet", "groups": [original]}));
    emulator.reset_requests();
    for args in [
        &["--json", "replay", SUCCESS][..],
        &["--json", "sweep"],
        &["--json", "audit", "--fix", "--yes"],
    ] {
        let run = emulator.relink(args, &[]);
        assert!(run.success(), "{args:?}: {}", run.stderr());
    }
    let replay = emulator
        .relink(&["--json", "replay", SUCCESS], &[])
        .report();
    assert_eq!(replay["reason"], "not_live", "{replay}");
    assert!(
        replay["detail"].as_str().unwrap().contains(&format!(
            "but CodeDeploy names [{original}] as the fleet of web/web-bg, not {G1}"
        )),
        "{replay}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_unattached(&mut emulator, G1);

    // A running deployment whose load balancers serve nobody (an operator deregistered the
    // original fleet): no repair before CodeDeploy has moved traffic.
    let mut emulator = Emulator::start();
    let world = emulator.build(json!({"deployment_id": D1, "status": "InProgress",
        "traffic_shifted": false, "target_groups": 2, "classic_load_balancers": 1}));
    let original = world["replaced_group"].as_str().unwrap().to_owned();
    emulator.deregister(&original, &["web-bg-tg-1", "web-bg-tg-2", "web-bg-clb-1"]);
    emulator.reset_requests();
    let report = emulator
        .relink(&["--json", "replay", SUCCESS], &[])
        .report();
    assert_eq!(report["reason"], "traffic_not_shifted", "{report}");
    assert!(
        report["detail"]
            .as_str()
            .unwrap()
            .contains("has not succeeded"),
        "{report}"
    );
    let swept = emulator.relink(&["--json", "sweep"], &[]);
    assert!(swept.success(), "{}", swept.stderr());
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_unattached(&mut emulator, G1);
}

#[test]
fn a_status_relink_does_not_know_is_never_taken_for_running_nor_for_rest() {
    // Its own: never linked as a running deployment's copy (its copy serves all the same).
    let mut emulator = Emulator::start();
    emulator.build(
        json!({"deployment_id": D1, "status": "InProgress", "traffic_shifted": true,
        "target_groups": 2, "classic_load_balancers": 1}),
    );
    emulator.set_state(D1, "Paused", true, &[G1]);
    emulator.reset_requests();
    let report = emulator
        .relink(&["--json", "replay", SUCCESS], &[])
        .report();
    assert_eq!(report["reason"], "unknown_status", "{report}");
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_unattached(&mut emulator, G1);

    // A newer deployment's: it has started, so it supersedes the older copy; and the deployment
    // group is not at rest, so no copy is retired.
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "KEEP_ALIVE");
    let newer = emulator.deploy(json!({"status": "InProgress", "traffic_shifted": false}));
    let newer_id = newer["deployment_id"].as_str().unwrap();
    emulator.set_state(newer_id, "Paused", false, &[copy_of_world(&newer).as_str()]);
    emulator.reset_requests();
    let late = emulator
        .relink(&["--json", "replay", SUCCESS], &[])
        .report();
    assert_eq!(late["reason"], "superseded", "{late}");
    assert!(
        late["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{newer_id} (Paused, created by user) has started")),
        "{late}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
}

#[test]
fn a_deployment_status_relink_does_not_know_keeps_the_deployment_group_from_rest() {
    // d1's copy was linked, then d2 superseded it (KEEP_ALIVE) and a third deployment reports a
    // status relink does not know: G1 is kept until that deployment ends.
    let mut emulator = Emulator::start();
    emulator.build(
        json!({"deployment_id": D1, "termination": "KEEP_ALIVE", "target_groups": 1,
        "linked": true}),
    );
    emulator.deploy(json!({"status": "Succeeded", "linked": true}));
    let third = emulator.deploy(json!({"status": "InProgress", "traffic_shifted": false,
        "replacement": "none"}));
    let third_id = third["deployment_id"].as_str().unwrap();
    emulator.set_state(third_id, "Paused", false, &[]);
    let run = emulator.relink(&["--json", "sweep"], &[]);
    assert!(run.success(), "{}", run.stderr());
    let kept: Vec<Value> = run.response()["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["retired"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(kept.len(), 1, "{}", run.stdout());
    assert_eq!(kept[0]["group"], G1);
    assert_eq!(kept[0]["reason"], "not_at_rest", "{kept:?}");
    assert!(
        kept[0]["detail"].as_str().unwrap().contains(&format!(
            "{third_id} has status \"Paused\", which relink does not know"
        )),
        "{kept:?}"
    );
    assert_eq!(
        emulator.group(G1)["target_group_arns"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_creator_relink_does_not_know_supersedes_as_one_that_makes_a_fleet() {
    let mut emulator = Emulator::start();
    d1_succeeded(&mut emulator, "TERMINATE");
    let newer = emulator.deploy(json!({"status": "InProgress", "traffic_shifted": false,
        "creator": "CodeDeployNextThing"}));
    emulator.reset_requests();
    let late = emulator
        .relink(&["--json", "replay", SUCCESS], &[])
        .report();
    assert_eq!(late["reason"], "superseded", "{late}");
    assert!(
        late["detail"].as_str().unwrap().contains(&format!(
            "{} (InProgress, created by CodeDeployNextThing) has started",
            newer["deployment_id"].as_str().unwrap()
        )),
        "{late}"
    );
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_unattached(&mut emulator, G1);
}

fn copy_of_world(deployment: &Value) -> String {
    deployment["replacement_group"].as_str().unwrap().to_owned()
}
