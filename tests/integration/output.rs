//! What `relink` prints, as scripts and people read it: one JSON envelope for every command,
//! output that fits the terminal, the sweep's changes without its many non-events, `--quiet`,
//! errors and hints on standard error in the CLI's own words, and the account named before a
//! change. (At a terminal itself: terminal.rs.)

use crate::emulator::{relink_bare, Emulator, Run};
use crate::fixtures::*;
use serde_json::{json, Value};

/// The envelope's keys, and the one payload key (`reports` or `rows`) or none for an error.
fn assert_envelope(run: &Run, command: &str, payload: Option<&str>) -> Value {
    let envelope = run.response();
    assert_eq!(envelope["version"], 1, "{envelope}");
    assert!(
        envelope["relink"].as_str().unwrap().starts_with("0."),
        "{envelope}"
    );
    assert_eq!(envelope["command"], command, "{envelope}");
    assert!(envelope["dry_run"].is_boolean(), "{envelope}");
    let keys: Vec<&str> = ["reports", "rows"]
        .into_iter()
        .filter(|k| envelope.get(*k).is_some())
        .collect();
    assert_eq!(keys, payload.into_iter().collect::<Vec<_>>(), "{envelope}");
    assert!(envelope.get("summary").is_some() && envelope.get("error").is_some());
    envelope
}

#[test]
fn every_command_prints_one_envelope_with_json() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    let queue = emulator.queue("codedeploy-relink-DeadLetterQueue-AB12CD34");
    emulator.send(&queue, &json!({"deploymentId": "d-75I7MBT7C"}));
    let json = |emulator: &Emulator, args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        emulator.relink(&all, &[])
    };

    let audit = json(&emulator, &["audit"]);
    let envelope = assert_envelope(&audit, "audit", Some("rows"));
    assert_eq!(envelope["summary"]["drift"], 1, "{envelope}");
    // No dry run was asked for: neither the envelope nor a row says one.
    assert_eq!(envelope["dry_run"], false);
    assert_eq!(
        envelope["rows"][0]["report"]["dry_run"], false,
        "{envelope}"
    );
    let dry = json(&emulator, &["--dry-run", "audit", "--fix"]);
    let envelope = assert_envelope(&dry, "audit", Some("rows"));
    assert_eq!(envelope["dry_run"], true);
    assert_eq!(envelope["rows"][0]["report"]["dry_run"], true, "{envelope}");

    let replay = json(&emulator, &["--dry-run", "replay", SUCCESS]);
    let envelope = assert_envelope(&replay, "replay", Some("reports"));
    assert_eq!(envelope["summary"]["planned"], 1, "{envelope}");
    let sweep = json(&emulator, &["--dry-run", "sweep"]);
    assert_envelope(&sweep, "sweep", Some("reports"));
    let deployment = json(&emulator, &["deployment", "d-75I7MBT7C"]);
    let envelope = assert_envelope(&deployment, "deployment", Some("reports"));
    assert_eq!(envelope["summary"]["relinked"], 1, "{envelope}");
    assert_eq!(envelope["error"], Value::Null);

    let list = json(&emulator, &["dlq", "list", "--queue-url", &queue]);
    let envelope = assert_envelope(&list, "dlq list", Some("rows"));
    assert_eq!(envelope["summary"]["messages"], 1, "{envelope}");
    let replayed = json(&emulator, &["dlq", "replay", "--queue-url", &queue]);
    let envelope = assert_envelope(&replayed, "dlq replay", Some("rows"));
    assert_eq!(envelope["summary"]["deleted"], 1, "{envelope}");
    let purge = json(
        &emulator,
        &[
            "--yes",
            "dlq",
            "purge",
            "--queue-url",
            &queue,
            "--older-than",
            "0s",
        ],
    );
    let envelope = assert_envelope(&purge, "dlq purge", Some("rows"));
    assert_eq!(envelope["summary"]["deleted"], 0, "{envelope}");

    // A command that could not do its work: the error and its hint, no rows, no summary.
    let keys = [("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")];
    let failed = relink_bare(&["--json", "audit"], &keys);
    assert_eq!(failed.output.status.code(), Some(2), "{}", failed.stderr());
    let envelope = assert_envelope(&failed, "audit", None);
    assert_eq!(envelope["summary"], Value::Null);
    assert!(envelope["error"]["message"]
        .as_str()
        .unwrap()
        .contains("NoRegion"));
    assert!(envelope["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("--region"));
    // A replay whose record failed: its report and the error together.
    let missing = event_file(&json!({"deploymentId": "d-75I7MBT7C"}));
    emulator.fail("GetDeployment", 400, "AccessDeniedException", 1);
    let denied = json(&emulator, &["replay", missing.path().to_str().unwrap()]);
    assert_eq!(denied.output.status.code(), Some(1), "{}", denied.stderr());
    let envelope = assert_envelope(&denied, "replay", Some("reports"));
    assert_eq!(envelope["summary"]["failed"], 1, "{envelope}");
    assert_eq!(
        envelope["error"]["hint"], "grant codedeploy:GetDeployment to the credentials in use",
        "{envelope}"
    );
}

#[test]
fn output_fits_eighty_columns_and_the_sweep_shows_what_changed() {
    let mut emulator = Emulator::start();
    emulator.build(
        json!({"application": "storefront", "deployment_group": "storefront-blue-green",
        "created_hours_ago": 2, "target_groups": 4, "classic_load_balancers": 2}),
    );
    for name in ["api", "pay", "search", "docs"] {
        emulator.build(
            json!({"application": name, "deployment_group": format!("{name}-bg"),
            "linked": true}),
        );
    }
    let narrow = [("COLUMNS", "80")];
    let audit = emulator.relink(&["audit"], &narrow);
    let mut printed = audit.stdout();
    printed.push_str(&audit.stderr());
    for command in [&["--help"][..], &["audit", "--help"], &["sweep", "--help"]] {
        printed.push_str(&emulator.relink(command, &narrow).stdout());
    }
    for line in printed.lines() {
        assert!(line.chars().count() <= 80, "{line:?}\n{printed}");
        assert_eq!(line, line.trim_end(), "trailing spaces: {line:?}");
    }
    // The help's examples are laid out for 80 columns, not rewrapped by clap.
    assert!(
        printed.contains(
            "\n  relink audit --accounts organization --regions all --role-name RelinkAudit\n"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("\n      --regions us-east-1,eu-west-1 --role-name RelinkAudit\n"),
        "{printed}"
    );
    // Names are never broken to fit.
    assert!(
        audit
            .stdout()
            .contains("CodeDeploy_storefront-blue-green_d-"),
        "{}",
        audit.stdout()
    );

    // The sweep shows what it changed and its summary, not the four groups that needed nothing.
    let sweep = emulator.relink(&["sweep"], &narrow);
    assert!(sweep.success(), "{}", sweep.stderr());
    let out = sweep.stdout();
    assert!(out.starts_with("RELINKED  storefront/"), "{out}");
    assert!(!out.contains("ALREADY_LINKED"), "{out}");
    assert!(
        out.contains("sweep: 5 deployment(s) seen, 1 relinked, 4 already linked"),
        "{out}"
    );
    // Quiet: nothing at all when nothing failed.
    let quiet = emulator.relink(&["-q", "sweep"], &[]);
    assert!(quiet.success(), "{}", quiet.stderr());
    assert_eq!(quiet.stdout(), "", "{}", quiet.stderr());
    let quiet_audit = emulator.relink(&["--quiet", "audit"], &[]);
    assert!(quiet_audit.success(), "{}", quiet_audit.stderr());
    assert_eq!(quiet_audit.stdout(), "");
}

#[test]
fn errors_and_hints_are_on_standard_error_in_the_clis_words() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));

    // An attach refused during `audit --fix`: the table on standard output, the error and the IAM
    // action to grant on standard error.
    emulator.fail("AttachLoadBalancerTargetGroups", 400, "AccessDenied", 1);
    let fix = emulator.relink(&["--yes", "audit", "--fix"], &[("AWS_MAX_ATTEMPTS", "1")]);
    assert_eq!(fix.output.status.code(), Some(1), "{}", fix.stderr());
    assert!(!fix.stdout().contains("error"), "{}", fix.stdout());
    assert!(
        fix.stdout()
            .contains("web/web-bg\n  failed  CodeDeploy_web-bg_"),
        "{}",
        fix.stdout()
    );
    let stderr = fix.stderr();
    assert!(
        stderr.contains("error: ") && stderr.contains("AccessDenied"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "hint: grant autoscaling:AttachLoadBalancerTargetGroups to the credentials in use"
        ),
        "{stderr}"
    );

    // An event of the wrong shape: the CLI's words, the input quoted as it is, no log line.
    let bad = event_file(&json!({"Records": [{"foo": "bar"}]}));
    let run = emulator.relink(&["replay", bad.path().to_str().unwrap()], &[]);
    assert_eq!(run.output.status.code(), Some(2), "{}", run.stderr());
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    assert!(
        run.stderr()
            .starts_with("error: the event cannot be read: Records[0]: "),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains(r#"received: {"foo":"bar"}"#),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("Relink."), "{}", run.stderr());
    // JSON of the right shape whose one record cannot be read: the same contract (exit 2).
    let wrong = event_file(&json!({"deploymentId": 5}));
    let run = emulator.relink(&["replay", wrong.path().to_str().unwrap()], &[]);
    assert_eq!(run.output.status.code(), Some(2), "{}", run.stderr());
    assert!(
        run.stderr()
            .starts_with("error: the event cannot be read: event: invalid direct invocation"),
        "{}",
        run.stderr()
    );

    // The dead-letter commands and an endpoint without a region: the hint names --region.
    let keys = [("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")];
    let endpoint = [
        keys[0],
        keys[1],
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
    ];
    for (args, vars) in [
        (
            &["dlq", "list", "--stack", "codedeploy-relink"][..],
            &keys[..],
        ),
        (
            &[
                "dlq",
                "list",
                "--queue-url",
                "https://sqs.us-east-1.amazonaws.com/1/q",
            ],
            &keys,
        ),
        (&["audit"], &endpoint),
        (&["deployment", "d-75I7MBT7C"], &endpoint),
    ] {
        let run = relink_bare(args, vars);
        assert_eq!(
            run.output.status.code(),
            Some(2),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(
            run.stderr()
                .contains("\nhint: set AWS_REGION or pass --region"),
            "{args:?}: {}",
            run.stderr()
        );
        assert_eq!(run.stdout(), "", "{args:?}");
    }
}

#[test]
fn the_account_and_region_are_named_once_before_the_first_change() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 2}));
    emulator.build(json!({"application": "api", "deployment_group": "api-bg",
        "deployment_id": "d-8K2XH4RTQ", "linked": true}));
    let said = |run: &Run, line: &str| run.stderr().lines().filter(|l| *l == line).count();

    // Nothing to change: nothing said, and no account asked for.
    emulator.reset_requests();
    let linked = emulator.relink(&["deployment", "d-8K2XH4RTQ"], &[]);
    assert!(linked.success(), "{}", linked.stderr());
    assert_eq!(linked.stderr(), "");
    assert_eq!(emulator.requests().get(STS), None);

    let dry = emulator.relink(&["--dry-run", "sweep"], &[]);
    let line = "dry run: sweep in account 123456789012, region us-east-1: nothing will be changed";
    assert_eq!(said(&dry, line), 1, "{}", dry.stderr());

    emulator.reset_requests();
    let run = emulator.relink(&["deployment", "d-75I7MBT7C"], &[]);
    assert!(run.success(), "{}", run.stderr());
    let line = "deployment: changes go to account 123456789012, region us-east-1";
    assert_eq!(said(&run, line), 1, "{}", run.stderr());
    assert_eq!(emulator.requests().get(STS), Some(&1));
}
