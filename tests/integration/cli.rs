//! The `relink` CLI as people use it: errors in a line or two with a hint and without the SDK's
//! debug structures, input checked before any AWS call, the region and profile flags, and the
//! dead-letter queue commands against the emulator's SQS.

use crate::emulator::{relink_bare, Emulator, Run};
use crate::fixtures::*;
use serde_json::{json, Value};

const DEBUG_TEXT: [&str; 5] = [
    "DispatchFailure(",
    "ConnectorError",
    "CredentialsNotLoaded",
    "ProviderChainError",
    "IMDS",
];

/// Standard error is the error line and the hint line, and nothing of the SDK's internals; the
/// exit status is `status`.
fn assert_plain_error(run: &Run, status: i32, code: &str, hint: &str) {
    assert_eq!(run.output.status.code(), Some(status), "{}", run.stderr());
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(code),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains(hint),
        "{stderr}"
    );
    for debug in DEBUG_TEXT {
        assert!(!stderr.contains(debug), "{debug} in {stderr}");
    }
}

#[test]
fn a_deployment_id_that_is_not_one_is_refused_before_any_aws_call() {
    // No credentials, no region, no endpoint: nothing but the id is looked at.
    let run = relink_bare(&["deployment", "d-1 ; rm"], &[]);
    assert_eq!(run.output.status.code(), Some(2), "{}", run.stderr());
    let stderr = run.stderr();
    assert!(stderr.starts_with("error: the deployment id"), "{stderr}");
    assert!(stderr.contains("not a deployment id"), "{stderr}");
    assert!(
        !stderr.contains("NoCredentials") && !stderr.contains("NoRegion"),
        "{stderr}"
    );
}

#[test]
fn missing_credentials_and_region_are_said_plainly_and_not_retryable() {
    let no_credentials = relink_bare(&["deployment", "d-1"], &[("AWS_REGION", "us-east-1")]);
    // relink could not do the work at all: 2, as for a usage error.
    assert_plain_error(&no_credentials, 2, "NoCredentials", "AWS_PROFILE");
    // Said once: the error of the whole process is not repeated in a report on standard output.
    assert_eq!(no_credentials.stdout(), "", "{}", no_credentials.stderr());
    assert!(
        !no_credentials.stderr().contains("a retry may help"),
        "not retryable: {}",
        no_credentials.stderr()
    );

    let keys = [("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")];
    let no_region = relink_bare(&["deployment", "d-1"], &keys);
    assert_plain_error(&no_region, 2, "NoRegion", "--region");

    let verbose = relink_bare(&["-v", "deployment", "d-1"], &[("AWS_REGION", "us-east-1")]);
    assert!(
        verbose.stderr().contains("credential"),
        "-v shows the SDK's chain: {}",
        verbose.stderr()
    );
}

#[test]
fn access_denied_names_the_action_to_grant_and_flags_reach_the_sdk() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C"}));
    emulator.fail("GetDeployment", 400, "AccessDeniedException", 1);
    let denied = emulator.relink(&["deployment", "d-75I7MBT7C"], &[]);
    assert_plain_error(
        &denied,
        1,
        "AccessDeniedException",
        "grant codedeploy:GetDeployment",
    );

    // --region instead of AWS_REGION.
    let keys = [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "relink"),
        ("AWS_SECRET_ACCESS_KEY", "relink"),
    ];
    let flagged = relink_bare(
        &[
            "--json",
            "--region",
            "us-east-1",
            "deployment",
            "d-75I7MBT7C",
        ],
        &keys,
    );
    assert!(flagged.success(), "{}", flagged.stderr());
    assert_eq!(flagged.report()["outcome"], "relinked");
}

#[test]
fn an_unreadable_event_fails_before_any_aws_call() {
    let mut emulator = Emulator::start();
    for file in [
        "events/invalid/unknown-shape.json",
        "events/invalid/not-an-object.json",
    ] {
        let run = emulator.relink(&["replay", file], &[]);
        // An event relink cannot read: 2, as for a file that is not JSON.
        assert_eq!(run.output.status.code(), Some(2), "{}", run.stderr());
        assert!(
            run.stderr()
                .starts_with("error: the event cannot be read: "),
            "{}",
            run.stderr()
        );
    }
    // Refused as a usage error, before any client exists (exit 2, as for an unreadable file).
    let bad_id = emulator.relink(&["deployment", "../etc"], &[]);
    assert_eq!(bad_id.output.status.code(), Some(2));
    assert!(
        bad_id.stderr().contains("not a deployment id"),
        "{}",
        bad_id.stderr()
    );
    assert_eq!(emulator.requests(), counts(&[]), "no request at all");
    // Not even credentials are needed to be told the file is wrong.
    let bare = relink_bare(&["replay", "events/invalid/unknown-shape.json"], &[]);
    assert!(
        bare.stderr().contains("not a supported event"),
        "{}",
        bare.stderr()
    );
}

#[test]
fn help_shows_examples() {
    for args in [
        vec!["--help"],
        vec!["replay", "--help"],
        vec!["dlq", "replay", "--help"],
    ] {
        let run = relink_bare(&args, &[]);
        assert!(run.success());
        let out = String::from_utf8_lossy(&run.output.stdout).into_owned();
        assert!(out.contains("Example"), "{args:?}: {out}");
    }
}

/// What Lambda's on-failure destination puts in the dead-letter queue for `event`.
fn dead_letter(event: &Value) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2026-11-23T16:05:00.000Z",
        "requestContext": {"requestId": "e3c1b2a4-0000-4000-8000-000000000000",
            "functionArn": FUNCTION_ARN, "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Relink.Failed", "errorMessage": "1 of 1 record(s) failed"}
    })
}

#[test]
fn dlq_replay_deletes_exactly_what_succeeded_or_skipped() {
    let mut emulator = Emulator::start();
    let web = emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    emulator.build(json!({"application": "api", "deployment_group": "api-bg",
        "deployment_id": "d-8K2XH4RTQ", "target_groups": 2}));
    emulator.delete_target_group("api-bg-tg-2");
    let queue = emulator.queue("codedeploy-relink-DeadLetterQueue-AB12CD34");
    let relinks = dead_letter(&success_of("d-75I7MBT7C"));
    let skips = dead_letter(&success_of("d-UNKNOWN01"));
    let fails = dead_letter(&sns_event(|m| {
        m["deploymentId"] = json!("d-8K2XH4RTQ");
        m["applicationName"] = json!("api");
        m["deploymentGroupName"] = json!("api-bg");
    }));
    for letter in [&relinks, &skips, &fails] {
        emulator.send(&queue, letter);
    }

    let listed = emulator.relink(
        &["--json", "dlq", "list", "--stack", "codedeploy-relink"],
        &[],
    );
    assert!(listed.success(), "{}", listed.stderr());
    let letters = listed.response()["rows"].clone();
    assert_eq!(letters.as_array().unwrap().len(), 3, "{letters}");
    assert!(letters
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["error"] == "Relink.Failed: 1 of 1 record(s) failed"));
    assert_eq!(
        emulator.messages(&queue).len(),
        3,
        "listing deletes nothing"
    );

    let dry = emulator.relink(&["--dry-run", "dlq", "replay", "--queue-url", &queue], &[]);
    assert!(dry.success(), "{}", dry.stderr());
    assert_eq!(
        emulator.messages(&queue).len(),
        3,
        "a dry run deletes nothing"
    );
    let group = emulator.group(web["replacement_group"].as_str().unwrap());
    assert_eq!(
        group["target_group_arns"],
        json!([]),
        "a dry run attaches nothing"
    );

    let replay = emulator.relink(&["dlq", "replay", "--stack", "codedeploy-relink"], &[]);
    assert_eq!(
        replay.output.status.code(),
        Some(1),
        "one message is kept: {}",
        replay.stderr()
    );
    let out = String::from_utf8_lossy(&replay.output.stdout).into_owned();
    assert!(
        out.contains("replayed 3 message(s): 2 deleted, 1 kept"),
        "{out}"
    );
    assert_eq!(
        emulator.messages(&queue),
        vec![fails],
        "exactly the failed one is left"
    );
    let group = emulator.group(web["replacement_group"].as_str().unwrap());
    assert_eq!(group["target_group_arns"].as_array().unwrap().len(), 1);
}

#[test]
fn dlq_purge_deletes_only_what_is_older() {
    let mut emulator = Emulator::start();
    let queue = emulator.queue("codedeploy-relink-DeadLetterQueue-AB12CD34");
    emulator.send(&queue, &dead_letter(&success_of("d-75I7MBT7C")));
    let young = emulator.relink(
        &[
            "dlq",
            "purge",
            "--yes",
            "--queue-url",
            &queue,
            "--older-than",
            "1d",
        ],
        &[],
    );
    assert!(young.success(), "{}", young.stderr());
    assert_eq!(emulator.messages(&queue).len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let old = emulator.relink(
        &[
            "dlq",
            "purge",
            "--yes",
            "--queue-url",
            &queue,
            "--older-than",
            "0s",
        ],
        &[],
    );
    assert!(old.success(), "{}", old.stderr());
    assert!(String::from_utf8_lossy(&old.output.stdout).contains("purged 1 message(s)"));
    assert_eq!(emulator.messages(&queue).len(), 0);

    let missing = emulator.relink(&["dlq", "list", "--stack", "no-such-stack"], &[]);
    assert_eq!(missing.output.status.code(), Some(2));
    assert!(
        missing.stderr().contains("--queue-url"),
        "{}",
        missing.stderr()
    );
}

#[test]
fn version_completions_and_manual_need_no_aws() {
    let version = relink_bare(&["--version"], &[]);
    assert!(version.success(), "{}", version.stderr());
    let line = String::from_utf8_lossy(&version.output.stdout).into_owned();
    assert!(
        line.starts_with(concat!("relink ", env!("CARGO_PKG_VERSION"), " (")),
        "{line}"
    );

    let bash = relink_bare(&["completions", "bash"], &[]);
    let script = String::from_utf8_lossy(&bash.output.stdout).into_owned();
    assert!(bash.success() && script.contains("complete -F"), "{script}");
    for subcommand in ["deployment", "sweep", "audit", "dlq"] {
        assert!(script.contains(subcommand), "{subcommand} not completed");
    }

    let man = relink_bare(&["man"], &[]);
    let page = String::from_utf8_lossy(&man.output.stdout).into_owned();
    assert!(man.success() && page.starts_with(".ie"), "{page}");
    assert!(page.contains(".TH relink 1"), "{page}");

    let unknown = relink_bare(&["completions", "cmd.exe"], &[]);
    assert_eq!(
        unknown.output.status.code(),
        Some(2),
        "{}",
        unknown.stderr()
    );
}
