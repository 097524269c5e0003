//! A large deployment under AWS's request budgets (tests/emulator/load.py): CodeDeploy's lifecycle
//! played step by step with throttling on, every notification delivered the way the template
//! delivers it (the queue, the event source mapping with template.yaml's batch size, concurrency
//! and receive count) to warm environments of the real Lambda binary. The batching window is a
//! tenth of the template's or less, so that a test lasts seconds; bench/load_bench.py runs the
//! template's.

use crate::emulator::python;
use serde_json::Value;
use std::process::Command;

/// Plays the story: `--instances`, `--config`, and the rest as given -> its figures.
fn story(args: &[&str]) -> Value {
    let output = Command::new(python())
        .arg("tests/emulator/load.py")
        .args(["--binary", env!("CARGO_BIN_EXE_codedeploy-relink")])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tests/emulator/load.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("load.py prints one JSON object")
}

/// The calls of an action the SDK made, each counted once whatever its attempts.
fn calls(figures: &Value, action: &str) -> u64 {
    let requests = figures["requests"][action].as_u64().unwrap_or(0);
    requests - figures["retries"][action].as_u64().unwrap_or(0)
}

/// Elastic Load Balancing reads of both APIs.
fn elb_reads(figures: &Value) -> u64 {
    figures["requests"]
        .as_object()
        .map(|requests| {
            requests
                .iter()
                .filter(|(action, _)| action.starts_with("elasticloadbalancing:Describe"))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// Linked with one call of each attach, nothing lost, within relink's share of the ELB budget.
fn assert_held(figures: &Value) {
    assert_linked(figures);
    for action in [
        "autoscaling:AttachLoadBalancerTargetGroups",
        "autoscaling:AttachLoadBalancers",
    ] {
        assert_eq!(calls(figures, action), 1, "{action}: {figures}");
    }
}

/// Linked, nothing lost, within relink's share of the ELB budget.
fn assert_linked(figures: &Value) {
    assert_eq!(figures["copy_linked"], true, "{figures}");
    assert_eq!(figures["unlinked"], serde_json::json!([]), "{figures}");
    assert_eq!(figures["dead_letters"], 0, "{figures}");
    assert_eq!(figures["failed_invocations"], 0, "{figures}");
    assert_eq!(figures["failed_records"], 0, "{figures}");
    assert_eq!(
        figures["records"], figures["notifications"],
        "every notification read once: {figures}"
    );
    assert_eq!(
        figures["beyond_share"],
        serde_json::json!({"elbv2": 0, "elb": 0}),
        "{figures}"
    );
}

#[test]
fn five_hundred_instances_all_at_once_are_linked_once_within_the_budgets() {
    let figures = story(&[
        "--instances",
        "500",
        "--config",
        "AllAtOnce",
        "--window",
        "2",
    ]);
    assert_held(&figures);
    assert_eq!(figures["notifications"], 1002, "{figures}");
    // The queue gathers a deployment's notifications: a handful of invocations, whatever N (how
    // many windows the 1,002 notifications span depends on the machine's load: at most 12 until
    // one fresh-clone CI run made 13; batches of 10 make 102).
    let invocations = figures["invocations"].as_u64().unwrap();
    assert!(invocations <= 25, "{invocations} invocations: {figures}");
    // Each load balancer read a few times per deployment, not per instance: two target groups
    // and a classic load balancer here.
    assert!(elb_reads(&figures) <= 9, "{figures}");
    let total = figures["requests_total"].as_u64().unwrap();
    assert!(total <= 150, "{total} requests: {figures}");
    let link = figures["link_after_reroute_s"].as_f64().expect("linked");
    assert!(
        link <= 2.0 + 10.0,
        "linked {link} s after the last reroute: {figures}"
    );
}

/// One instance at a time, each reroute after the window closed: every notification is an
/// invocation of its own, and CodeDeploy's own count of the instances it has not routed to yet
/// spares each of them the load balancers.
#[test]
fn one_at_a_time_each_invocation_asks_codedeploy_before_any_load_balancer() {
    let figures = story(&[
        "--instances",
        "12",
        "--config",
        "OneAtATime",
        "--window",
        "0.5",
        "--gap",
        "1",
    ]);
    assert_held(&figures);
    let invocations = figures["invocations"].as_u64().unwrap();
    // One a reroute, 12 at least, on a quiet machine; a loaded one may close a window late and
    // merge two. Without the pre-check, 8 invocations would already read ELB some 25 times.
    assert!(invocations >= 8, "{figures}");
    assert!(elb_reads(&figures) <= 9, "{figures}");
}

/// Budgets a fraction of AWS's: relink is throttled, backs off and finishes, and no record fails
/// for throttling alone. An attach held back by throttling lengthens the moment between the other
/// invocation's last read and its attach, so both may attach what the copy still misses (the race
/// docs/how-it-works.md describes): each invocation at most once.
#[test]
fn throttled_hard_relink_backs_off_and_finishes() {
    let figures = story(&[
        "--instances",
        "50",
        "--config",
        "AllAtOnce",
        "--window",
        "1",
        "--throttle",
        "codedeploy=2/0.5,autoscaling=2/0.5,elbv2=2/0.5,elb=2/0.5",
    ]);
    assert_linked(&figures);
    let invocations = figures["invocations"].as_u64().unwrap();
    for action in [
        "autoscaling:AttachLoadBalancerTargetGroups",
        "autoscaling:AttachLoadBalancers",
    ] {
        let attached = calls(&figures, action);
        assert!((1..=invocations).contains(&attached), "{action}: {figures}");
    }
    let throttled: u64 = figures["throttled"]
        .as_object()
        .map(|t| t.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert!(throttled > 0, "the budgets must bite: {figures}");
    let retries: u64 = figures["retries"]
        .as_object()
        .map(|t| t.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert!(
        retries >= throttled,
        "every throttled call retried: {figures}"
    );
}
