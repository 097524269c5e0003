//! End to end: the real `relink` binary, the sample events of `events/`, and a blue/green world
//! built through the AWS APIs in the emulator. End states are read back with describe calls and
//! every AWS request the function makes is counted per action.
//!
//! The sample notifications name their account, so each `relink replay` asks STS once which
//! account its credentials act in (the Lambda reads it from its own ARN instead).
//!
//! `attach`: what gets attached; `skips`: what is left alone and why; `inputs`: the shapes of
//! input and how failed records are answered.

mod attach;
mod inputs;
mod skips;

use crate::emulator::Emulator;
use crate::fixtures::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const REPLACEMENT: &str = "CodeDeploy_web-bg_d-75I7MBT7C";

/// The world of `events/sns-deployment-success.json` (web/web-bg, d-75I7MBT7C), changed by `spec`.
fn build(emulator: &mut Emulator, spec: Value) -> Value {
    let mut full =
        json!({"application": "web", "deployment_group": "web-bg", "deployment_id": "d-75I7MBT7C"});
    full.as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    let world = emulator.build(full);
    emulator.reset_requests();
    world
}

fn assert_linked(emulator: &mut Emulator, world: &Value) {
    let group = emulator.group(world["replacement_group"].as_str().unwrap());
    assert_eq!(
        strings(&group["target_group_arns"]),
        target_group_arns(world)
    );
    assert_eq!(
        strings(&group["load_balancer_names"]),
        strings(&world["load_balancers"])
    );
}

fn assert_untouched(emulator: &mut Emulator, group: &str) {
    let group = emulator.group(group);
    assert_eq!(group["target_group_arns"], json!([]), "{group}");
    assert_eq!(group["load_balancer_names"], json!([]), "{group}");
}

/// `scripts/demo`'s story, with the relink binary under test: it must tell the story it says.
#[test]
fn the_demo_tells_its_whole_story() {
    let output = std::process::Command::new(crate::emulator::python())
        .args([
            "tests/emulator/relink_emulator.py",
            "demo",
            "--relink",
            env!("CARGO_BIN_EXE_relink"),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "rerouting",
        "(the last one)",
        "RELINKED",
        "copy            retired CodeDeploy_web-bg_d-",
        "(outage repair:",
        "Done:",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
}
