//! `relink audit --accounts … --regions …` against the emulator: several accounts (moto keeps
//! each account's and region's state apart; AssumeRole returns credentials acting in the role's
//! account) and regions, drift in some, an account whose role is missing.

use crate::emulator::{relink_bare, Emulator};
use serde_json::{json, Value};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

/// (account, region, state) of every row, in the report's order.
fn places(audit: &Value) -> Vec<(String, Option<String>, String)> {
    audit["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().to_owned(),
                r["region"].as_str().map(str::to_owned),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn place(account: &str, region: Option<&str>, state: &str) -> (String, Option<String>, String) {
    (
        account.to_owned(),
        region.map(str::to_owned),
        state.to_owned(),
    )
}

#[test]
fn three_accounts_two_regions_report_exactly_the_drift_and_the_unreachable_account_and_fix_heals_the_drift(
) {
    let mut emulator = Emulator::start();
    emulator.role(A, "RelinkAudit", None);
    emulator.role(B, "RelinkAudit", Some("relink-ext"));
    // C has no RelinkAudit role.
    let mut drifted = Vec::new();
    for (account, region, drift) in [
        (A, "us-east-1", true),
        (A, "eu-west-1", false),
        (B, "us-east-1", false),
        (B, "eu-west-1", true),
        (C, "us-east-1", true),
    ] {
        let name = format!("web-{}-{region}", &account[..1]);
        let mut spec = json!({"application": name, "deployment_group": format!("{name}-bg"),
            "target_groups": 2, "linked": true});
        if drift {
            spec["unlinked"] = json!([format!("{name}-bg-tg-2")]);
        }
        let world = emulator.build_in(account, region, spec);
        if drift && account != C {
            drifted.push((account, region, world));
        }
    }
    emulator.reset_requests();
    let accounts = format!("{A},{B},{C}");
    let regions = REGIONS.join(",");
    let args = [
        "--json",
        "audit",
        "--accounts",
        &accounts,
        "--regions",
        &regions,
        "--role-name",
        "RelinkAudit",
        "--external-id",
        "relink-ext",
    ];

    let run = emulator.relink(&args, &[]);
    assert_eq!(
        run.output.status.code(),
        Some(5),
        "drift and an unreachable account: {}",
        run.stderr()
    );
    let audit = run.response();
    assert_eq!(
        places(&audit),
        [
            place(A, Some("eu-west-1"), "linked"),
            place(A, Some("us-east-1"), "drift"),
            place(B, Some("eu-west-1"), "drift"),
            place(B, Some("us-east-1"), "linked"),
            place(C, None, "unreachable"),
        ]
    );
    let unreachable = &audit["rows"][4]["detail"];
    assert!(
        unreachable.as_str().unwrap().contains("AccessDenied")
            && unreachable.as_str().unwrap().contains(C),
        "{unreachable}"
    );
    assert_eq!(
        audit["rows"][1]["missing"],
        json!(["tg:web-1-us-east-1-bg-tg-2"])
    );
    let summary = &audit["summary"];
    assert_eq!(
        (
            &summary["accounts"],
            &summary["pairs"],
            &summary["unreachable"]
        ),
        (&json!(3), &json!(4), &json!(1)),
        "{summary}"
    );
    let requests = emulator.requests();
    assert_eq!(
        requests.get("sts:AssumeRole"),
        Some(&3),
        "one session per account: {requests:?}"
    );
    assert_eq!(
        requests.get("codedeploy:ListApplications"),
        Some(&4),
        "one scan per reachable pair: {requests:?}"
    );
    assert!(
        !requests.keys().any(|k| k.contains(":Attach")),
        "no --fix, no attach: {requests:?}"
    );

    // --fix heals exactly the drift, in each account and region.
    let mut fix = args.to_vec();
    fix.extend(["--fix", "--yes"]);
    let fixed = emulator.relink(&fix, &[]);
    assert_eq!(fixed.output.status.code(), Some(4), "{}", fixed.stderr());
    assert_eq!(
        places(&fixed.response()),
        [
            place(A, Some("eu-west-1"), "linked"),
            place(A, Some("us-east-1"), "fixed"),
            place(B, Some("eu-west-1"), "fixed"),
            place(B, Some("us-east-1"), "linked"),
            place(C, None, "unreachable"),
        ]
    );
    for (account, region, world) in &drifted {
        let group = world["replacement_group"].as_str().unwrap();
        let state = emulator.group_in(account, region, group);
        assert_eq!(
            state["target_group_arns"].as_array().unwrap().len(),
            2,
            "{account} {region}: {state}"
        );
    }
    // Nothing was attached where nothing was missing: a third run finds everything linked.
    let again = emulator.relink(&args, &[]);
    assert_eq!(again.output.status.code(), Some(4), "{}", again.stderr());
    assert!(places(&again.response())
        .iter()
        .all(|(_, region, state)| state == "linked" || region.is_none()));

    // The wrong external id: B's role refuses it, B is unreachable, A is still audited.
    let wrong = emulator.relink(
        &[
            "audit",
            "--accounts",
            &accounts,
            "--regions",
            "us-east-1",
            "--role-name",
            "RelinkAudit",
            "--external-id",
            "wrong",
        ],
        &[],
    );
    assert_eq!(wrong.output.status.code(), Some(4), "{}", wrong.stderr());
    let table = String::from_utf8_lossy(&wrong.output.stdout).into_owned();
    assert!(
        table.contains("111111111111  us-east-1  web-1-us-east-1/"),
        "{table}"
    );
    assert!(
        wrong
            .stderr()
            .contains("unreachable: 222222222222: AssumeRole"),
        "{}",
        wrong.stderr()
    );
}

#[test]
fn the_organization_and_its_enabled_regions() {
    let mut emulator = Emulator::start();
    let members = emulator.organization(2);
    let (member, other) = (&members[0], &members[1]);
    emulator.role(member, "RelinkAudit", None);
    emulator.opt_in(member, "af-south-1");
    let world = emulator.build_in(
        member,
        "af-south-1",
        json!({"application": "cape", "deployment_group": "cape-bg", "target_groups": 1}),
    );

    let run = emulator.relink(
        &[
            "--json",
            "audit",
            "--accounts",
            "organization",
            "--regions",
            "all",
            "--role-name",
            "RelinkAudit",
        ],
        &[],
    );
    assert_eq!(run.output.status.code(), Some(5), "{}", run.stderr());
    let audit = run.response();
    let rows = places(&audit);
    // The management account and the other member have no role; the member is audited in its
    // six default regions and the one it opted in to, where its copy misses its target group.
    assert!(
        rows.contains(&place("123456789012", None, "unreachable")),
        "{rows:?}"
    );
    assert!(
        rows.contains(&place(other, None, "unreachable")),
        "{rows:?}"
    );
    assert_eq!(
        rows.iter()
            .filter(|(a, _, _)| a == member)
            .collect::<Vec<_>>(),
        [&place(member, Some("af-south-1"), "drift")],
        "{rows:?}"
    );
    assert_eq!(audit["summary"]["pairs"], 7, "{}", audit["summary"]);
    assert_eq!(
        audit["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["state"] == "drift")
            .unwrap()["auto_scaling_group"],
        world["replacement_group"]
    );

    // --regions alone: the caller's own account, in those regions, with its own credentials.
    let own = emulator.relink(
        &["--json", "audit", "--regions", "us-east-1,eu-west-1"],
        &[],
    );
    assert_eq!(own.output.status.code(), Some(0), "{}", own.stderr());
    assert_eq!(own.response()["summary"]["pairs"], 2);
}

#[test]
fn bad_accounts_and_regions_are_refused_before_any_call() {
    let no_aws = [("AWS_ENDPOINT_URL", "http://127.0.0.1:9")];
    let run = relink_bare(
        &[
            "audit",
            "--accounts",
            "111111111111,12345",
            "--role-name",
            "R",
        ],
        &no_aws,
    );
    assert_eq!(run.output.status.code(), Some(2));
    assert!(
        run.stderr().contains("\"12345\" is not an AWS account id"),
        "{}",
        run.stderr()
    );

    let run = relink_bare(&["audit", "--regions", "eu-west-1,Europe"], &no_aws);
    assert_eq!(run.output.status.code(), Some(2));
    assert!(
        run.stderr().contains("\"Europe\" is not a region name"),
        "{}",
        run.stderr()
    );

    let run = relink_bare(&["audit", "--accounts", "organization"], &no_aws);
    assert_eq!(run.output.status.code(), Some(2));
    assert!(run.stderr().contains("--role-name"), "{}", run.stderr());

    // No home region: the run cannot start, rather than every account being "unreachable".
    let run = relink_bare(
        &["audit", "--accounts", "111111111111", "--role-name", "R"],
        &[("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "x")],
    );
    assert_eq!(run.output.status.code(), Some(2), "{}", run.stderr());
    assert!(
        run.stderr().contains("no AWS region is configured"),
        "{}",
        run.stderr()
    );
}
