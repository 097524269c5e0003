//! Every file in `events/` decodes to what it is meant to say, and every file in
//! `events/invalid/` produces the error written beside it, so samples and tests cannot drift.

use codedeploy_relink::domain::event::{decode, EventShape, Ignored, Notification};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What each sample must decode to: its shape and, per record, `deployment:<id>/<app>/<group>`,
/// `instance-success:<id>/<app>/<group>/<instance>`, `trigger_test` or
/// `instance:<id>/<instance>/<status>`.
fn expected(name: &str) -> (EventShape, Vec<&'static str>) {
    match name {
        "direct.json" => (EventShape::Direct, vec!["deployment:d-75I7MBT7C/-/-"]),
        "scheduled-sweep.json" => (EventShape::Schedule, vec!["sweep"]),
        "eventbridge-success.json" | "eventbridge-failure.json" => (
            EventShape::EventBridge,
            vec!["deployment:d-75I7MBT7C/web/web-bg"],
        ),
        "sns-deployment-success.json" | "sns-deployment-failure.json" => {
            (EventShape::Sns, vec!["deployment:d-75I7MBT7C/web/web-bg"])
        }
        "sns-instance-success.json" => (
            EventShape::Sns,
            vec!["instance-success:d-75I7MBT7C/-/-/i-0a1b2c3d4e5f67890"],
        ),
        "eventbridge-instance-success.json" => (
            EventShape::EventBridge,
            vec!["instance-success:d-75I7MBT7C/web/web-bg/i-0a1b2c3d4e5f67890"],
        ),
        "sns-instance-failure.json" => (
            EventShape::Sns,
            vec!["instance:d-75I7MBT7C/i-0a1b2c3d4e5f67890/Failed"],
        ),
        "sns-trigger-test.json" => (EventShape::Sns, vec!["trigger_test"]),
        "sns-two-groups.json" => (
            EventShape::Sns,
            vec![
                "deployment:d-75I7MBT7C/web/web-bg",
                "deployment:d-8K2XH4RTQ/api/api-bg",
            ],
        ),
        "sqs-sns-success.json" => (
            EventShape::Sqs,
            vec![
                "deployment:d-75I7MBT7C/web/web-bg",
                "deployment:d-8K2XH4RTQ/api/api-bg",
            ],
        ),
        // The template's notification queue: an EventBridge rule's event as an SQS body.
        "sqs-eventbridge-instance-success.json" => (
            EventShape::Sqs,
            vec!["instance-success:d-75I7MBT7C/web/web-bg/i-0a1b2c3d4e5f67890"],
        ),
        other => panic!("events/{other} has no expectation: add it to tests/integration/events.rs"),
    }
}

fn describe(notification: &Notification) -> String {
    match notification {
        Notification::Deployment(d) => {
            let names = format!(
                "{}/{}/{}",
                d.deployment_id,
                d.application.as_deref().unwrap_or("-"),
                d.deployment_group.as_deref().unwrap_or("-")
            );
            match &d.instance {
                Some(i) => format!("instance-success:{names}/{}", i.instance_id),
                None => format!("deployment:{names}"),
            }
        }
        Notification::Ignored(Ignored::TriggerTest { .. }) => "trigger_test".into(),
        Notification::Sweep => "sweep".into(),
        Notification::Ignored(Ignored::InstanceNotification {
            deployment_id,
            instance_id,
            status,
        }) => format!(
            "instance:{}/{}/{}",
            deployment_id.as_deref().unwrap_or("-"),
            instance_id.as_deref().unwrap_or("-"),
            status.as_deref().unwrap_or("-")
        ),
    }
}

#[test]
fn every_sample_decodes_to_what_it_says() {
    let files = json_files(&events_dir());
    assert!(files.len() >= 9, "samples missing: {files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (shape, notes) = expected(name);
        let event = decode(&read(&path)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.shape, shape, "{name}");
        let got: Vec<String> = event
            .items
            .iter()
            .map(|item| match &item.notification {
                Ok(n) => describe(n),
                Err(e) => panic!("{name}: {e}"),
            })
            .collect();
        assert_eq!(got, notes, "{name}");
        if shape == EventShape::Sqs {
            assert!(
                event.items.iter().all(|i| i.sqs_message_id.is_some()),
                "{name}"
            );
        }
    }
}

#[test]
fn every_invalid_sample_gives_its_error() {
    let files = json_files(&events_dir().join("invalid"));
    assert!(files.len() >= 10, "invalid samples missing: {files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let expected = std::fs::read_to_string(path.with_extension("error"))
            .unwrap_or_else(|_| panic!("events/invalid/{name} has no .error file beside it"));
        let expected = expected.trim();
        let error = match decode(&read(&path)) {
            Err(e) => e,
            Ok(event) => {
                let errors: Vec<_> = event
                    .items
                    .into_iter()
                    .filter_map(|i| i.notification.err())
                    .collect();
                assert_eq!(errors.len(), 1, "{name}: expected exactly one bad record");
                errors.into_iter().next().unwrap()
            }
        };
        let text = error.to_string();
        assert!(
            text.starts_with(expected),
            "{name}: got {text:?}, expected it to start with {expected:?}"
        );
        assert!(text.contains("received: "), "{name}: {text}");
    }
}
