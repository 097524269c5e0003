//! The `relink` CLI's contract with people who hold production credentials: which account it
//! acts in (an explicit --profile wins), consent before bulk changes (a prompt, or --yes), exit
//! codes for what the user named, bounded flags, and a quiet end when the reader goes away.

use crate::emulator::{relink_bare, Emulator};
use crate::fixtures::*;
use serde_json::json;

#[test]
fn a_deployment_that_does_not_exist_is_an_error_for_relink_deployment() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    let run = emulator.relink(&["deployment", "d-ZZZZZZZZZ"], &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr());
    assert!(
        run.stderr().contains("error: no deployment d-ZZZZZZZZZ"),
        "{}",
        run.stderr()
    );
    // The function's own answer to such a notification stays a skip.
    let event = event_file(&json!({"deploymentId": "d-ZZZZZZZZZ"}));
    let replay = emulator.relink(&["replay", event.path().to_str().unwrap()], &[]);
    assert!(replay.success(), "{}", replay.stderr());
}

#[test]
fn a_closed_pipe_ends_relink_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_relink"))
        .args(["completions", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before relink writes
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        output.status.success() || output.status.signal() == Some(13),
        "{:?}: {stderr}",
        output.status
    );
}

#[test]
fn the_sweeps_look_back_is_bounded_on_the_command_line_as_in_the_environment() {
    for hours in ["18446744073709551615", "721"] {
        let run = relink_bare(&["sweep", "--lookback-hours", hours], &[]);
        assert_eq!(
            run.output.status.code(),
            Some(2),
            "{hours}: {}",
            run.stderr()
        );
        assert!(run.stderr().contains("0..=720"), "{}", run.stderr());
    }
}

#[test]
fn a_profile_named_on_the_command_line_wins_over_keys_in_the_environment() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("credential_process-ran");
    let config = dir.path().join("config");
    let process = format!(
        "sh -c 'touch {} && echo {{\\\"Version\\\":1,\\\"AccessKeyId\\\":\\\"relink-cli\\\",\\\"SecretAccessKey\\\":\\\"relink\\\"}}'",
        mark.display()
    );
    std::fs::write(
        &config,
        format!("[profile audit]\nregion = us-east-1\ncredential_process = {process}\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // Emulator::relink puts keys in the environment, as a shell with exported keys would.
    let run = emulator.relink(
        &["--profile", "audit", "--json", "audit"],
        &[("AWS_CONFIG_FILE", config)],
    );
    // It audits (exit 1: the copy drifts) with the profile's credentials.
    assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr());
    assert_eq!(run.response()["summary"]["drift"], 1, "{}", run.stdout());
    assert!(
        mark.exists(),
        "the profile's credential_process did not run"
    );
}

#[test]
fn bulk_changes_need_consent_and_name_the_account_and_region_first() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    let queue = emulator.queue("relink-dlq");
    emulator.reset_requests();
    // No terminal to ask on and no --yes: nothing is changed.
    for args in [
        &["audit", "--fix"][..],
        &["dlq", "purge", "--queue-url", &queue, "--older-than", "0s"],
    ] {
        let run = emulator.relink(args, &[]);
        assert_eq!(
            run.output.status.code(),
            Some(2),
            "{args:?}: {}",
            run.stderr()
        );
        let stderr = run.stderr();
        assert!(
            stderr.contains("in account 123456789012, region us-east-1"),
            "{stderr}"
        );
        assert!(stderr.contains("pass --yes"), "{stderr}");
    }
    assert_eq!(mutating(&emulator.requests()), 0);
    assert_eq!(
        emulator.group("CodeDeploy_web-bg_d-75I7MBT7C")["target_group_arns"],
        json!([])
    );

    // A dry run says so, asks nothing and changes nothing.
    let dry = emulator.relink(&["--dry-run", "audit", "--fix"], &[]);
    assert!(
        dry.stderr().starts_with(
            "dry run: audit --fix attaches what is missing in account 123456789012, region us-east-1: nothing will be changed"
        ),
        "{}",
        dry.stderr()
    );
    assert_eq!(mutating(&emulator.requests()), 0);

    // --yes goes ahead, after the same line.
    let fixed = emulator.relink(&["--yes", "audit", "--fix"], &[]);
    assert!(fixed.success(), "{}", fixed.stderr());
    assert!(
        fixed.stderr().contains("in account 123456789012"),
        "{}",
        fixed.stderr()
    );
    assert_eq!(
        emulator.group("CodeDeploy_web-bg_d-75I7MBT7C")["target_group_arns"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn a_sweep_that_fails_says_why_in_its_error_line() {
    // An endpoint that refuses every request: the sweep's listing fails.
    let run = relink_bare(
        &["sweep"],
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "relink"),
            ("AWS_SECRET_ACCESS_KEY", "relink"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr());
    let error = run
        .stderr()
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("ListDeployments") && error.contains("EndpointUnreachable"),
        "{error}"
    );
}

#[test]
fn filters_that_match_nothing_are_named_in_a_warning() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    let run = emulator.relink(&["audit", "--deployment-group", "web/*"], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("warning: no deployment group matches --deployment-group 'web/*'"),
        "{}",
        run.stderr()
    );
    let run = emulator.relink(&["audit"], &[("RELINK_DEPLOYMENT_GROUPS", "Web/*")]);
    assert!(run.success(), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("warning: RELINK_DEPLOYMENT_GROUPS allows none of the 1 deployment group(s)"),
        "{}",
        run.stderr()
    );
    // A filter that matches says nothing.
    let run = emulator.relink(&["audit", "--application", "web"], &[]);
    assert!(
        !run.stderr().contains("warning: no deployment group"),
        "{}",
        run.stderr()
    );
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    // Standard error is a pipe here: -v's logs and the error of an invalid event are plain.
    let run = relink_bare(
        &["-v", "replay", "events/invalid/unknown-shape.json"],
        &[("AWS_REGION", "us-east-1")],
    );
    assert!(!run.stderr().is_empty());
    assert!(!run.stderr().contains('\u{1b}'), "{:?}", run.stderr());
}

#[test]
fn the_manual_page_has_its_exit_status_and_names_no_page_that_does_not_ship() {
    let run = relink_bare(&["man"], &[]);
    assert!(run.success(), "{}", run.stderr());
    let page = run.stdout();
    assert!(page.contains(".TH relink 1"), "{page}");
    for section in [
        "COMMANDS",
        "\"EXAMPLES\"",
        "\"ENVIRONMENT\"",
        "\"EXIT STATUS\"",
    ] {
        assert!(
            page.contains(&format!(".SH {section}")),
            "{section}: {page}"
        );
    }
    assert!(page.contains("\\fBrelink audit\\fR"), "{page}");
    // Only relink(1) ships: no relink-audit(1) and the like.
    assert!(!page.contains("(1)"), "{page}");
}
