//! Unit tests of the parent module.

use super::*;
use std::time::{Duration, SystemTime};

const TG1: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-1/a";
const TG2: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-2/b";

fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

fn traffic(serving: &[&str]) -> Traffic {
    Traffic {
        serving: serving.iter().map(|i| i.to_string()).collect(),
        unknown: Vec::new(),
    }
}

fn plan(tgs: &[&str], clbs: &[&str]) -> Plan {
    Plan::new(&s(tgs), &[], &s(clbs), &[])
}

fn serving(tgs: &[(&str, &[&str])], clbs: &[(&str, &[&str])]) -> Registrations {
    Registrations {
        target_groups: tgs
            .iter()
            .map(|(k, v)| (k.to_string(), traffic(v)))
            .collect(),
        load_balancers: clbs
            .iter()
            .map(|(k, v)| (k.to_string(), traffic(v)))
            .collect(),
    }
}

#[test]
fn a_group_whose_instances_the_load_balancers_serve_is_live() {
    let live = assess(
        "G2",
        &s(&["i-3", "i-4"]),
        &plan(&[TG1, TG2], &["clb"]),
        &serving(
            &[(TG1, &["i-3", "i-4"]), (TG2, &["i-3"])],
            &[("clb", &["i-4"])],
        ),
        false,
    );
    assert_eq!(live, Liveness::Live);
}

#[test]
fn instances_launched_after_the_shift_do_not_make_it_less_live() {
    // i-5 scaled out after the shift and is registered nowhere: attaching is what it needs.
    let verdict = assess(
        "G2",
        &s(&["i-3", "i-4", "i-5"]),
        &plan(&[TG1], &[]),
        &serving(&[(TG1, &["i-3", "i-4"])], &[]),
        false,
    );
    assert_eq!(verdict, Liveness::Live);
}

#[test]
fn a_retired_copy_is_not_live_and_the_evidence_names_it() {
    let verdict = assess(
        "CodeDeploy_web_d-1",
        &s(&["i-1", "i-2"]),
        &plan(&[TG1], &[]),
        &serving(&[(TG1, &["i-3", "i-4"])], &[]),
        false,
    );
    let Liveness::NotLive(evidence) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(
        evidence,
        "none of the 2 instance(s) of CodeDeploy_web_d-1 is registered with web-tg-1, which serves 2 other instance(s)"
    );
}

#[test]
fn every_load_balancer_to_attach_must_serve_the_group_or_nobody() {
    // Out of web-tg-2 while it serves another instance: evidence enough to stop.
    let verdict = assess(
        "G",
        &s(&["i-1"]),
        &plan(&[TG1, TG2], &["clb"]),
        &serving(&[(TG1, &["i-1"]), (TG2, &["i-9"])], &[("clb", &["i-1"])]),
        false,
    );
    let Liveness::NotLive(evidence) = verdict else {
        panic!("{verdict:?}")
    };
    assert!(
        evidence.contains("web-tg-2, which serves 1 other"),
        "{evidence}"
    );
    assert!(!evidence.contains("web-tg-1"), "{evidence}");

    // A load balancer that serves nobody is idle: for the outage repair to decide.
    let idle = assess(
        "G",
        &s(&["i-1"]),
        &plan(&[TG1], &["clb"]),
        &serving(&[(TG1, &["i-1"])], &[]),
        false,
    );
    assert_eq!(idle, Liveness::Idle(s(&["clb"])));
}

#[test]
fn a_group_without_instances_behind_idle_load_balancers_is_idle() {
    let verdict = assess(
        "G",
        &[],
        &plan(&[TG1], &[]),
        &serving(&[(TG1, &[])], &[]),
        false,
    );
    assert_eq!(verdict, Liveness::Idle(s(&["web-tg-1"])));
    let verdict = assess(
        "G",
        &[],
        &plan(&[TG1], &[]),
        &serving(&[(TG1, &["i-1"])], &[]),
        false,
    );
    assert!(matches!(verdict, Liveness::NotLive(e) if e.contains("none of the 0 instance(s)")));
}

#[test]
fn unknown_states_neither_serve_nor_leave_the_load_balancer_idle() {
    let mut registrations = serving(&[], &[]);
    let mut odd = Traffic::default();
    odd.add("i-1".into(), "warming", target_state("warming"));
    registrations.target_groups.insert(TG1.into(), odd);
    let verdict = assess("G", &s(&["i-1"]), &plan(&[TG1], &[]), &registrations, false);
    let Liveness::NotLive(evidence) = verdict else {
        panic!("{verdict:?}")
    };
    assert!(
        evidence
            .contains("reports i-1 in state \"warming\", which relink does not count as serving"),
        "{evidence}"
    );
}

#[test]
fn health_states_are_an_allow_list() {
    for state in ["healthy", "unhealthy", "initial", "unused", "unavailable"] {
        assert_eq!(target_state(state), Registration::Serving, "{state}");
    }
    for state in ["draining", "unhealthy.draining"] {
        assert_eq!(target_state(state), Registration::Leaving, "{state}");
    }
    for state in ["", "Healthy", "warming", "healthy.draining"] {
        assert_eq!(target_state(state), Registration::Unknown, "{state}");
    }
    assert_eq!(
        classic_state("InService", Some("N/A")),
        Registration::Serving
    );
    assert_eq!(
        classic_state("OutOfService", Some("Instance has failed at least the UnhealthyThreshold number of health checks consecutively.")),
        Registration::Serving
    );
    assert_eq!(
        classic_state(
            "InService",
            Some("Instance deregistration currently in progress.")
        ),
        Registration::Leaving
    );
    assert_eq!(
        classic_state(
            "OutOfService",
            Some("Instance is not currently registered with the LoadBalancer.")
        ),
        Registration::Leaving
    );
    assert_eq!(classic_state("Unknown", None), Registration::Unknown);
}

#[test]
fn the_outage_repair_needs_success_and_the_deployment_group_naming_the_group() {
    let fleet = s(&["CodeDeploy_web_d-1"]);
    assert_eq!(
        repair("CodeDeploy_web_d-1", &s(&["web-tg-1"]), true, "web/web-bg", &fleet),
        Ok("web-tg-1 served no instance; CodeDeploy names CodeDeploy_web_d-1 as the fleet of web/web-bg".into())
    );
    let other = repair(
        "CodeDeploy_web_d-0",
        &s(&["web-tg-1"]),
        true,
        "web/web-bg",
        &fleet,
    );
    assert!(matches!(other, Err(e) if e.contains("not CodeDeploy_web_d-0")));
    let running = repair(
        "CodeDeploy_web_d-1",
        &s(&["web-tg-1"]),
        false,
        "web/web-bg",
        &fleet,
    );
    assert!(matches!(running, Err(e) if e.contains("has not succeeded")));
}

fn sibling(id: &str, status: &str, creator: &str, at: u64) -> Sibling {
    Sibling {
        deployment_id: id.into(),
        status: status.into(),
        creator: Some(creator.into()),
        created_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at)),
        copy_serves: false,
    }
}

fn copy_of(id: &str, at: u64) -> CopyOf {
    CopyOf {
        deployment_id: Some(id.into()),
        created_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at)),
    }
}

fn newest<'a>(own: &CopyOf, siblings: &'a [Sibling]) -> Option<&'a str> {
    superseded(own, siblings).map(|(s, _)| s.deployment_id.as_str())
}

#[test]
fn a_newer_started_deployment_that_makes_a_fleet_supersedes() {
    let mine = copy_of("d-1", 100);
    for status in ["InProgress", "Baking", "Ready", "Succeeded", "Paused", ""] {
        let newer = [sibling("d-2", status, "user", 200)];
        assert_eq!(newest(&mine, &newer), Some("d-2"), "{status:?}");
    }
    for status in ["Created", "Queued"] {
        let newer = [sibling("d-2", status, "user", 200)];
        assert_eq!(newest(&mine, &newer), None, "{status} has not started");
    }
    // Older ones and the group's own deployment never supersede.
    let older = [
        sibling("d-0", "Succeeded", "user", 50),
        sibling("d-1", "Succeeded", "user", 100),
    ];
    assert_eq!(newest(&mine, &older), None);
    // The newest of several, with its reason.
    let two = [
        sibling("d-2", "Succeeded", "user", 200),
        sibling("d-3", "InProgress", "CloudFormation", 300),
    ];
    let (by, why) = superseded(&mine, &two).unwrap();
    assert_eq!(by.deployment_id, "d-3");
    assert_eq!(
        why,
        "d-3 (InProgress, created by CloudFormation) has started"
    );
}

#[test]
fn deployments_codedeploy_starts_by_itself_never_supersede() {
    let mine = copy_of("d-1", 100);
    for creator in FLEETLESS_CREATORS {
        for status in ["InProgress", "Succeeded", "Failed"] {
            let mut scaled = sibling("d-2", status, creator, 200);
            scaled.copy_serves = true;
            assert_eq!(newest(&mine, &[scaled]), None, "{creator} {status}");
        }
    }
    // A creator relink does not know, or none, makes a fleet: the safe side.
    assert_eq!(
        newest(&mine, &[sibling("d-2", "Succeeded", "someoneNew", 200)]),
        Some("d-2")
    );
    let mut unnamed = sibling("d-2", "Succeeded", "", 200);
    unnamed.creator = None;
    assert_eq!(newest(&mine, &[unnamed]), Some("d-2"));
}

#[test]
fn a_failed_or_stopped_newer_deployment_supersedes_only_where_its_copy_still_serves() {
    let mine = copy_of("d-1", 100);
    for status in ENDED_WITHOUT_SUCCESS {
        let mut newer = sibling("d-2", status, "user", 200);
        assert_eq!(
            newest(&mine, std::slice::from_ref(&newer)),
            None,
            "{status}"
        );
        newer.copy_serves = true;
        let (_, why) = superseded(&mine, std::slice::from_ref(&newer)).unwrap();
        assert!(why.ends_with("left traffic on its copy"), "{why}");
    }
}

#[test]
fn unknown_creation_times_fail_closed() {
    let unknown = CopyOf {
        deployment_id: Some("d-1".into()),
        created_at: None,
    };
    assert_eq!(
        newest(&unknown, &[sibling("d-0", "Succeeded", "user", 50)]),
        Some("d-0")
    );
    let mut undated = sibling("d-9", "Ready", "user", 0);
    undated.created_at = None;
    assert_eq!(newest(&copy_of("d-1", 100), &[undated]), Some("d-9"));
}

#[test]
fn while_rerouting_every_instance_must_already_serve() {
    let tgs = plan(&[TG1], &["clb"]);
    let half = serving(&[(TG1, &["i-1", "i-2"])], &[("clb", &["i-1", "i-2"])]);
    let instances = s(&["i-1", "i-2", "i-3", "i-4"]);
    // OneAtATime or HalfAtATime in the middle: ahead of CodeDeploy.
    let verdict = assess("G", &instances, &tgs, &half, true);
    let Liveness::Ahead(evidence) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(
        evidence,
        "CodeDeploy is still rerouting traffic to G: instance(s) not routed to yet by web-tg-1 (i-3, i-4); by clb (i-3, i-4)"
    );
    // The same state once the termination wait has begun: the shift is done.
    assert_eq!(assess("G", &instances, &tgs, &half, false), Liveness::Live);
    // Every instance routed: linked at the last one's success.
    let all = serving(
        &[(TG1, &["i-1", "i-2", "i-3", "i-4"])],
        &[("clb", &["i-1", "i-2", "i-3", "i-4", "i-9"])],
    );
    assert_eq!(assess("G", &instances, &tgs, &all, true), Liveness::Live);
}
