//! relink at a terminal, as a person runs it: script(1) gives it one. A spinner while it waits for
//! AWS, and a hint naming the endpoint that never answered; colour by the terminal's rules; the
//! prompt before a bulk change.

use crate::emulator::Emulator;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `relink ARGS` at a terminal with `vars` (and nothing else of this environment), types
/// `input` on it, and returns the exit status and what the terminal showed.
fn at_a_terminal(args: &str, vars: &[(&str, &str)], input: &str) -> (Option<i32>, String) {
    let relink = env!("CARGO_BIN_EXE_relink");
    let mut child = Command::new("script")
        .args(["-qec", &format!("{relink} {args}"), "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run relink under script(1)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&output.stdout).replace('\r', "\n");
    (output.status.code(), screen)
}

#[test]
fn an_endpoint_that_never_answers_shows_the_wait_and_is_named_in_the_hint() {
    // Connections are queued and never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let vars = [
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "y"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let (code, screen) = at_a_terminal("deployment d-75I7MBT7C", &vars, "");
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("deployment: asking AWS"),
        "no spinner: {screen}"
    );
    assert!(screen.contains("Timeout"), "{screen}");
    assert!(
        screen.contains(&format!(
            "hint: no answer from {endpoint} (AWS_ENDPOINT_URL"
        )),
        "{screen}"
    );
    drop(silent);
}

#[test]
fn logs_are_coloured_on_a_terminal_unless_no_color_says_otherwise() {
    let args = "-v replay events/invalid/unknown-shape.json";
    let (_, coloured) = at_a_terminal(args, &[], "");
    assert!(coloured.contains("\u{1b}["), "{coloured}");
    for off in [("NO_COLOR", "1"), ("CLICOLOR", "0"), ("TERM", "dumb")] {
        let (_, plain) = at_a_terminal(args, &[off], "");
        assert!(plain.contains("ERROR invalid event"), "{off:?}: {plain}");
        assert!(!plain.contains("\u{1b}["), "{off:?}: {plain}");
    }
}

#[test]
fn a_bulk_change_waits_for_a_yes() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    let endpoint = emulator.endpoint.clone();
    let vars = [
        ("AWS_ACCESS_KEY_ID", "relink-cli"),
        ("AWS_SECRET_ACCESS_KEY", "relink"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let attached = |emulator: &mut Emulator| {
        emulator.group("CodeDeploy_web-bg_d-75I7MBT7C")["target_group_arns"]
            .as_array()
            .map_or(0, Vec::len)
    };

    let (code, screen) = at_a_terminal("audit --fix", &vars, "n\n");
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains("in account 123456789012, region us-east-1"),
        "{screen}"
    );
    assert!(screen.contains("Go ahead? [y/N]"), "{screen}");
    assert!(
        screen.contains("cancelled: nothing was changed"),
        "{screen}"
    );
    assert_eq!(attached(&mut emulator), 0);

    let (code, screen) = at_a_terminal("audit --fix", &vars, "y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("fixed"), "{screen}");
    assert_eq!(attached(&mut emulator), 1);
}
