//! The scheduled sweep against the emulator: a region with deployments in every state.

use crate::emulator::Emulator;
use serde_json::{json, Value};

const SCHEDULE: &str = "events/scheduled-sweep.json";

fn replacement(world: &Value) -> String {
    world["replacement_group"].as_str().unwrap().to_owned()
}

fn linked(emulator: &mut Emulator, world: &Value) -> bool {
    let group = emulator.group(&replacement(world));
    let attached = group["target_group_arns"].as_array().map_or(0, Vec::len);
    attached == world["target_groups"].as_object().unwrap().len()
}

fn report_for<'a>(response: &'a Value, deployment_id: &Value) -> &'a Value {
    response["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| &r["deployment_id"] == deployment_id)
        .unwrap_or_else(|| panic!("no report for {deployment_id}: {response}"))
}

#[test]
fn sweep_heals_in_progress_and_missed_deployments_and_leaves_the_rest() {
    // Two items per page, so every list call is paginated as AWS would with a larger region.
    let mut emulator = Emulator::start_with(&[("RELINK_EMULATOR_PAGE_SIZE", "2")]);
    let shifted = emulator.build(json!({"application": "web", "deployment_group": "web-bg",
        "status": "InProgress", "traffic_shifted": true, "target_groups": 2}));
    let waiting = emulator.build(json!({"application": "api", "deployment_group": "api-bg",
        "status": "InProgress", "traffic_shifted": false}));
    let missed = emulator.build(json!({"application": "shop", "deployment_group": "shop-bg",
        "created_hours_ago": 2, "classic_load_balancers": 1}));
    let old = emulator.build(
        json!({"application": "old", "deployment_group": "old-bg", "created_hours_ago": 48}),
    );
    let failed = emulator.build(
        json!({"application": "pay", "deployment_group": "pay-bg", "status": "Failed",
        "traffic_shifted": false}),
    );
    let in_place = emulator.build(
        json!({"application": "batch", "deployment_group": "batch-ip",
        "deployment_type": "IN_PLACE", "deployment_option": "WITHOUT_TRAFFIC_CONTROL"}),
    );
    let done = emulator
        .build(json!({"application": "docs", "deployment_group": "docs-bg", "linked": true}));
    emulator.reset_requests();

    let run = emulator.relink(&["--json", "replay", SCHEDULE], &[]);
    assert!(run.success(), "{}", run.stderr());
    let response = run.response();
    let summary = &response["summary"];
    // The failed deployment is seen too: its deployment group is reconciled (its copy is never
    // linked).
    assert_eq!(summary["deployments_seen"], 6, "{response}");
    assert_eq!(summary["relinked"], 2, "{response}");
    assert_eq!(summary["already_linked"], 1, "{response}");
    assert_eq!(summary["failed"], 0, "{response}");
    assert_eq!(
        summary["skipped"],
        json!({"deployment_failed": 1, "in_place": 1, "traffic_not_shifted": 1}),
        "{response}"
    );

    assert_eq!(
        report_for(&response, &shifted["deployment_id"])["outcome"],
        "relinked"
    );
    assert_eq!(
        report_for(&response, &missed["deployment_id"])["outcome"],
        "relinked"
    );
    assert_eq!(
        report_for(&response, &missed["deployment_id"])["load_balancers"]["attached"],
        json!(["shop-bg-clb-1"])
    );
    assert_eq!(
        report_for(&response, &waiting["deployment_id"])["reason"],
        "traffic_not_shifted"
    );
    assert_eq!(
        report_for(&response, &in_place["deployment_id"])["reason"],
        "in_place"
    );
    assert_eq!(
        report_for(&response, &done["deployment_id"])["outcome"],
        "already_linked"
    );
    assert!(linked(&mut emulator, &shifted));
    assert!(linked(&mut emulator, &missed));
    assert!(
        !linked(&mut emulator, &old),
        "outside the look-back: untouched"
    );
    assert!(
        !linked(&mut emulator, &failed),
        "a failed deployment's copy is never linked"
    );
    assert!(!linked(&mut emulator, &waiting));

    // Reads in batches (one of each kind here), the health of each load balancer a group misses
    // once; attaches per live group that misses something.
    let requests = emulator.requests();
    let expected: std::collections::BTreeMap<String, u64> = [
        // running: 1 page; any status since 24 h: 3 pages; then, just before each attach, the
        // deployments of each deployment group whose copy misses something (web, api, shop)
        ("codedeploy:ListDeployments", 7),
        ("codedeploy:BatchGetDeployments", 1),
        // the deployment groups of the deployments relink reconciles, per application: web,
        // api, shop, pay, docs (batch's is in place)
        ("codedeploy:BatchGetDeploymentGroups", 5),
        // api's running deployment: has CodeDeploy routed every replacement instance yet? (The
        // world keeps no targets for it: the answer cannot spare the ELB read.)
        ("codedeploy:ListDeploymentTargets", 1),
        ("elasticloadbalancing:DescribeTargetGroups", 1),
        // The groups, then web-bg's and shop-bg's copies again just before their attaches.
        ("autoscaling:DescribeAutoScalingGroups", 3),
        // web-bg-tg-1 and -2 (web, running), api-bg-tg-1 (api, not serving yet), shop-bg-tg-1
        ("elasticloadbalancing:DescribeTargetHealth", 4),
        ("elasticloadbalancing:DescribeInstanceHealth", 1), // shop-bg-clb-1
        ("autoscaling:AttachLoadBalancerTargetGroups", 2),  // web-bg and shop-bg
        ("autoscaling:AttachLoadBalancers", 1),             // shop-bg
        // Not the function's: the CLI names the account before its first change.
        ("sts:GetCallerIdentity", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(requests, expected);

    // A longer look-back reaches the old deployment too; everything else is already linked.
    emulator.reset_requests();
    let longer = emulator.relink(&["--json", "sweep", "--lookback-hours", "72"], &[]);
    assert!(longer.success(), "{}", longer.stderr());
    let response = longer.response();
    assert_eq!(
        report_for(&response, &old["deployment_id"])["outcome"],
        "relinked"
    );
    assert_eq!(response["summary"]["relinked"], 1, "{response}");
    assert!(linked(&mut emulator, &old));
    assert_eq!(
        emulator.requests()["autoscaling:AttachLoadBalancerTargetGroups"],
        1
    );
}

#[test]
fn quiet_sweep_costs_two_requests() {
    let mut emulator = Emulator::start();
    let run = emulator.relink(&["--json", "replay", SCHEDULE], &[]);
    assert!(run.success(), "{}", run.stderr());
    let response = run.response();
    assert_eq!(response["reports"], json!([]));
    assert_eq!(response["summary"]["deployments_seen"], 0);
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests["codedeploy:ListDeployments"], 2);
}

#[test]
fn dry_run_sweep_plans_without_attaching() {
    let mut emulator = Emulator::start();
    let world = emulator.build(json!({"status": "InProgress", "traffic_shifted": true}));
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "--dry-run", "sweep"], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.response()["summary"]["planned"], 1);
    assert!(!linked(&mut emulator, &world));
    let requests = emulator.requests();
    assert!(
        !requests.keys().any(|k| k.contains("Attach")),
        "{requests:?}"
    );
}

#[test]
fn a_swept_deployment_that_fails_is_reported_and_the_scheduled_invocation_succeeds() {
    let mut emulator = Emulator::start();
    let broken = emulator.build(json!({"application": "web", "deployment_group": "web-bg",
        "target_groups": 2}));
    let fine = emulator.build(json!({"application": "api", "deployment_group": "api-bg"}));
    emulator.delete_target_group("web-bg-tg-2");
    let schedule: Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEDULE).unwrap()).unwrap();

    let run = emulator.invoke_lambda(&schedule, &[], crate::fixtures::FUNCTION_ARN);
    assert!(run.succeeded(), "{} {:?}", run.path, run.body);
    assert_eq!(run.body["summary"]["failed"], 1, "{}", run.body);
    assert_eq!(run.body["summary"]["relinked"], 1, "{}", run.body);
    let failed = report_for(&run.body, &broken["deployment_id"]);
    assert_eq!(failed["error_code"], "TargetGroupNotFound", "{failed}");
    assert_eq!(
        report_for(&run.body, &fine["deployment_id"])["outcome"],
        "relinked"
    );
    // The failure is logged at error level, where the template's metric filter counts it.
    assert!(
        run.logs.iter().any(|l| {
            let line: Value = serde_json::from_str(l).unwrap_or_default();
            line["level"] == "ERROR" && line["fields"]["source"] == "sweep"
        }),
        "{:?}",
        run.logs
    );

    // From a terminal the same sweep exits 1, so that a person sees the failure.
    let cli = emulator.relink(&["--json", "sweep"], &[]);
    assert_eq!(cli.output.status.code(), Some(1), "{}", cli.stderr());
}

#[test]
fn a_failed_listing_is_a_failed_sweep_never_an_empty_one() {
    for (action, code, status) in [
        ("ListDeployments", "ThrottlingException", 400),
        ("BatchGetDeployments", "InternalFailure", 500),
    ] {
        let mut emulator = Emulator::start();
        emulator.build(json!({}));
        // More failures than the SDK's attempts (two here, to keep the back-off short).
        emulator.fail(action, status, code, 6);
        let schedule: Value =
            serde_json::from_str(&std::fs::read_to_string(SCHEDULE).unwrap()).unwrap();
        let attempts = [("AWS_MAX_ATTEMPTS", "2")];
        let run = emulator.invoke_lambda(&schedule, &attempts, crate::fixtures::FUNCTION_ARN);
        assert!(run.succeeded(), "{action}: {} {:?}", run.path, run.body);
        let summary = &run.body["summary"];
        assert_eq!(summary["failed"], 1, "{action}: {}", run.body);
        let report = &run.body["reports"][0];
        assert_eq!(report["outcome"], "failed", "{action}: {report}");
        assert_eq!(report["error_code"], code, "{action}: {report}");
        assert!(
            report["detail"].as_str().unwrap().contains(action),
            "{action}: {report}"
        );
        let requests = emulator.requests();
        assert!(
            !requests
                .keys()
                .any(|k| k.contains("Attach") || k.contains("Describe")),
            "{action}: {requests:?}"
        );
    }
}
