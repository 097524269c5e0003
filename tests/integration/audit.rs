//! `relink audit` against the emulator: a region with deployment groups in mixed states.

use crate::emulator::Emulator;
use crate::fixtures::mutating;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Builds the region; returns the worlds by name.
fn region(emulator: &mut Emulator) -> BTreeMap<&'static str, Value> {
    let specs = [
        (
            "linked",
            json!({"application": "linked", "deployment_group": "linked-bg", "target_groups": 2, "linked": true}),
        ),
        (
            "missing_tg",
            json!({"application": "shop", "deployment_group": "shop-bg", "target_groups": 3,
            "linked": true, "unlinked": ["shop-bg-tg-2"]}),
        ),
        (
            "missing_clb",
            json!({"application": "shop", "deployment_group": "shop-green", "classic_load_balancers": 1,
            "linked": true, "unlinked": ["shop-green-clb-1"]}),
        ),
        (
            "in_place",
            json!({"application": "batch", "deployment_group": "batch-ip",
            "deployment_type": "IN_PLACE", "deployment_option": "WITHOUT_TRAFFIC_CONTROL"}),
        ),
        (
            "shifted",
            json!({"application": "web", "deployment_group": "web-bg", "status": "InProgress",
            "traffic_shifted": true, "extra_target_group": true}),
        ),
        (
            "waiting",
            json!({"application": "api", "deployment_group": "api-bg", "status": "InProgress",
            "traffic_shifted": false}),
        ),
        (
            "failed",
            json!({"application": "pay", "deployment_group": "pay-bg", "status": "Failed", "traffic_shifted": false}),
        ),
        (
            "gone",
            json!({"application": "gone", "deployment_group": "gone-bg", "replacement": "deleted"}),
        ),
    ];
    specs
        .into_iter()
        .map(|(name, spec)| (name, emulator.build(spec)))
        .collect()
}

fn rows_by_group(audit: &Value) -> BTreeMap<String, Value> {
    audit["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["report"]["replacement_group"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r.clone(),
            )
        })
        .collect()
}

#[test]
fn audit_reports_exactly_the_drift_and_fix_heals_it() {
    let mut emulator = Emulator::start_with(&[("RELINK_EMULATOR_PAGE_SIZE", "3")]);
    let worlds = region(&mut emulator);
    emulator.reset_requests();

    let run = emulator.relink(&["--json", "audit"], &[]);
    assert_eq!(
        run.output.status.code(),
        Some(1),
        "drift remains: {}",
        run.stderr()
    );
    let audit = run.response();
    let summary = &audit["summary"];
    assert_eq!(summary["applications"], 7, "{summary}");
    assert_eq!(summary["deployment_groups"], 8, "{summary}");
    assert_eq!(summary["not_audited"], json!({"in_place": 1}), "{summary}");
    assert_eq!(summary["auto_scaling_groups"], 8, "{summary}");
    assert_eq!(
        (
            summary["linked"].as_u64(),
            summary["drift"].as_u64(),
            summary["gone"].as_u64()
        ),
        (Some(4), Some(3), Some(1)),
        "{summary}"
    );
    assert_eq!(summary["warnings"], 1, "{summary}");

    let rows = rows_by_group(&audit);
    let replacement = |name: &str| {
        worlds[name]["replacement_group"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let original = |name: &str| worlds[name]["original_group"].as_str().unwrap().to_owned();
    let missing_tg = &rows[&replacement("missing_tg")];
    assert_eq!(missing_tg["state"], "drift");
    assert_eq!(
        missing_tg["report"]["target_groups"]["missing"],
        json!([worlds["missing_tg"]["target_groups"]["shop-bg-tg-2"]])
    );
    let missing_clb = &rows[&replacement("missing_clb")];
    assert_eq!(
        missing_clb["report"]["load_balancers"]["missing"],
        json!(["shop-green-clb-1"])
    );
    let shifted = &rows[&replacement("shifted")];
    assert_eq!(
        (shifted["role"].as_str(), shifted["state"].as_str()),
        (Some("replacement"), Some("drift"))
    );
    let web_original = &rows[&original("shifted")];
    assert_eq!(
        (
            web_original["role"].as_str(),
            web_original["state"].as_str()
        ),
        (Some("current"), Some("linked"))
    );
    assert!(
        web_original["warnings"][0]
            .as_str()
            .unwrap()
            .contains("web-bg-legacy"),
        "{web_original}"
    );
    assert_eq!(rows[&original("waiting")]["state"], "linked");
    assert!(
        !rows.contains_key(&replacement("waiting")),
        "traffic not shifted: not audited"
    );
    assert_eq!(rows[&original("failed")]["state"], "linked");
    assert_eq!(rows[&replacement("gone")]["state"], "gone");
    assert_eq!(rows[&replacement("linked")]["state"], "linked");

    // Requests grow with applications and batches, not with Auto Scaling groups; the live-fleet
    // check reads each load balancer some group misses once.
    let requests = emulator.requests();
    let expected: BTreeMap<String, u64> = [
        ("codedeploy:ListApplications", 3), // 7 applications, 3 per page
        // running deployments; then, before each attach, the deployments of each deployment
        // group whose group misses something (shop-bg, shop-green, web-bg, api-bg)
        ("codedeploy:ListDeployments", 5),
        ("codedeploy:ListDeploymentGroups", 7),
        ("codedeploy:BatchGetDeploymentGroups", 7),
        // running deployments; the deployments whose copies the deployment groups name; those
        // of the copies found among the region's groups (whose deployments are they?)
        ("codedeploy:BatchGetDeployments", 3),
        // api's running deployment: has CodeDeploy routed every replacement instance yet? (The
        // emulator's world keeps no targets for it, so the answer cannot spare the ELB read.)
        ("codedeploy:ListDeploymentTargets", 1),
        ("elasticloadbalancing:DescribeTargetGroups", 1),
        // The groups audited, and every group of the region (retired ones holding attachments).
        ("autoscaling:DescribeAutoScalingGroups", 2),
        // shop-bg-tg-2 (drift), web-bg-tg-1 (web's running copy), api-bg-tg-1 (api's running
        // copy, not serving yet: left out of the audit)
        ("elasticloadbalancing:DescribeTargetHealth", 3),
        ("elasticloadbalancing:DescribeInstanceHealth", 1), // shop-green-clb-1 (drift)
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(requests, expected);

    emulator.reset_requests();
    let fix = emulator.relink(&["--json", "audit", "--fix", "--yes"], &[]);
    assert_eq!(fix.output.status.code(), Some(0), "{}", fix.stderr());
    let fixed = fix.response();
    assert_eq!(fixed["summary"]["fixed"], 3, "{}", fixed["summary"]);
    let attaches = emulator.requests();
    assert_eq!(
        attaches["autoscaling:AttachLoadBalancerTargetGroups"], 2,
        "{attaches:?}"
    );
    assert_eq!(
        attaches["autoscaling:AttachLoadBalancers"], 1,
        "{attaches:?}"
    );

    let again = emulator.relink(&["audit"], &[]);
    assert_eq!(again.output.status.code(), Some(0), "{}", again.stderr());
    let table = String::from_utf8_lossy(&again.output.stdout).into_owned();
    assert!(
        table.contains("8 Auto Scaling group(s): 7 linked, 1 gone, 1 warning(s)\n"),
        "{table}"
    );
    assert!(table.contains("  extra: tg:web-bg-legacy\n"), "{table}");
    // The warning is a diagnostic: standard error.
    assert!(
        again
            .stderr()
            .contains("warning: web-bg-asg: target group web-bg-legacy"),
        "{}",
        again.stderr()
    );
}

#[test]
fn audit_filters_by_application_and_group() {
    let mut emulator = Emulator::start();
    region(&mut emulator);
    let run = emulator.relink(
        &[
            "--json",
            "audit",
            "--application",
            "sh?p",
            "--deployment-group",
            "*-bg",
        ],
        &[],
    );
    let audit = run.response();
    assert_eq!(audit["summary"]["applications"], 1);
    assert_eq!(audit["summary"]["deployment_groups"], 1);
    let rows = audit["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["report"]["deployment_group"], "shop-bg");
}

#[test]
fn a_failed_listing_fails_the_audit_never_reports_an_empty_region() {
    for (action, code) in [
        ("ListApplications", "ThrottlingException"),
        ("ListDeploymentGroups", "ThrottlingException"),
        ("BatchGetDeploymentGroups", "AccessDeniedException"),
        ("ListDeployments", "ThrottlingException"),
        ("BatchGetDeployments", "ThrottlingException"),
    ] {
        let mut emulator = Emulator::start();
        emulator.build(json!({"status": "InProgress", "traffic_shifted": true}));
        // More failures than the SDK's attempts (two here, to keep the back-off short).
        emulator.fail(action, 400, code, 6);
        let run = emulator.relink(&["--json", "audit"], &[("AWS_MAX_ATTEMPTS", "2")]);
        assert_eq!(
            run.output.status.code(),
            Some(2),
            "{action}: {}",
            run.stderr()
        );
        // No table and no rows: the envelope carries the error alone.
        let envelope = run.response();
        assert_eq!(envelope["rows"], Value::Null, "{action}: {envelope}");
        assert_eq!(envelope["summary"], Value::Null, "{action}: {envelope}");
        let message = envelope["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(action), "{action}: {envelope}");
        assert!(
            run.stderr().contains(action) && run.stderr().contains(code),
            "{action}: {}",
            run.stderr()
        );
    }
}

#[test]
fn a_copy_a_keep_alive_deployment_superseded_is_retired_and_a_persons_group_never_changed() {
    // d1's copy was linked; d2 succeeded with KEEP_ALIVE: G1 keeps running, still attached, and
    // so does the original group d1 replaced, which a person made.
    let mut emulator = Emulator::start();
    let d1 = emulator.build(
        json!({"deployment_id": "d-75I7MBT7C", "termination": "KEEP_ALIVE",
        "target_groups": 1, "linked": true}),
    );
    let g1 = d1["replacement_group"].as_str().unwrap().to_owned();
    let d2 = emulator.deploy(json!({"status": "Succeeded"}));
    let g2 = d2["replacement_group"].as_str().unwrap().to_owned();
    let original = d1["original_group"].as_str().unwrap().to_owned();

    // A plain audit changes nothing and says what --fix would: G1 is retirable, which is drift.
    emulator.reset_requests();
    let plain = emulator.relink(&["--json", "audit"], &[]);
    assert_eq!(plain.output.status.code(), Some(1), "{}", plain.stderr());
    let response = plain.response();
    let row = |response: &Value, group: &str| {
        response["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["report"]["replacement_group"] == group)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {group}: {response}"))
    };
    assert_eq!(row(&response, &g1)["state"], "retirable", "{response}");
    assert_eq!(mutating(&emulator.requests()), 0);

    let fix = emulator.relink(&["--json", "audit", "--fix", "--yes"], &[]);
    assert_eq!(fix.output.status.code(), Some(0), "{}", fix.stderr());
    let response = fix.response();
    assert_eq!(row(&response, &g2)["state"], "fixed");
    let retired = row(&response, &g1);
    assert_eq!(
        (retired["role"].as_str(), retired["state"].as_str()),
        (Some("retired"), Some("retired")),
        "{retired}"
    );
    let retirement = &retired["report"]["retired"][0];
    assert_eq!(retirement["outcome"], "retired", "{retired}");
    assert!(
        retirement["detail"]
            .as_str()
            .unwrap()
            .contains("the copy of d-75I7MBT7C, serves none of web/web-bg's load balancers"),
        "{retired}"
    );
    assert_eq!(emulator.group(&g1)["target_group_arns"], json!([]));
    let kept = row(&response, &original);
    assert_eq!(kept["state"], "retired_attached", "{kept}");
    assert_eq!(
        (
            &response["summary"]["retired_attached"],
            &response["summary"]["retired"]
        ),
        (&json!(1), &json!(1)),
        "{}",
        response["summary"]
    );
    let requests = emulator.requests();
    assert_eq!(
        requests["autoscaling:AttachLoadBalancerTargetGroups"], 1,
        "G2 only: {requests:?}"
    );
    assert_eq!(
        requests["autoscaling:DetachLoadBalancerTargetGroups"], 1,
        "G1 only, never the original: {requests:?}"
    );
    assert_eq!(
        emulator.group(&original)["target_group_arns"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let text = emulator.relink(&["audit"], &[]);
    let stdout = String::from_utf8_lossy(&text.output.stdout).to_string();
    assert!(
        stdout.contains("retired_attached") && stdout.contains("1 retired still attached"),
        "{stdout}"
    );
}
