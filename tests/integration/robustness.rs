//! Oversized and hostile inputs: bounded work, a clear error or a skip, never a panic.

use crate::mocks::{clients, invoke};
use aws_sdk_codedeploy::operation::get_deployment::GetDeploymentError;
use aws_sdk_codedeploy::types::error::DeploymentDoesNotExistException;
use aws_smithy_mocks::mock;
use codedeploy_relink::domain::config::Config;
use codedeploy_relink::domain::report::Outcome;
use codedeploy_relink::usecases::invocation::InvocationError;
use codedeploy_relink::usecases::invocation::Relinker;
use serde_json::{json, Value};
use std::io::Write;
use std::process::Command;

const SNS_SUCCESS: &str = include_str!("../../events/sns-deployment-success.json");

/// An SNS event with one record per deployment id.
fn sns_event(ids: impl Iterator<Item = String>) -> Value {
    let sample: Value = serde_json::from_str(SNS_SUCCESS).unwrap();
    let template = sample["Records"][0].clone();
    let message: Value =
        serde_json::from_str(template["Sns"]["Message"].as_str().unwrap()).unwrap();
    let records: Vec<Value> = ids
        .map(|id| {
            let mut record = template.clone();
            let mut m = message.clone();
            m["deploymentId"] = json!(id);
            record["Sns"]["Message"] = json!(m.to_string());
            record
        })
        .collect();
    json!({ "Records": records })
}

fn not_found() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_codedeploy::Client::get_deployment).then_error(|| {
        GetDeploymentError::DeploymentDoesNotExistException(
            DeploymentDoesNotExistException::builder()
                .message("gone")
                .build(),
        )
    })
}

#[tokio::test]
async fn ten_thousand_records_are_each_answered() {
    let get = not_found();
    let relinker = Relinker::new(clients(&[&get], &[], &[]), Config::default());
    let event = sns_event((0..10_000).map(|i| format!("d-{i:09}")));
    let invocation = invoke(&relinker, &event).await;
    assert!(invocation.error.is_none());
    assert_eq!(invocation.response.reports.len(), 10_000);
    assert!(invocation
        .response
        .reports
        .iter()
        .all(|r| r.outcome == Outcome::Skipped));
    assert_eq!(get.num_calls(), 10_000);
}

#[tokio::test]
async fn a_deployment_named_ten_thousand_times_is_read_once() {
    let get = not_found();
    let relinker = Relinker::new(clients(&[&get], &[], &[]), Config::default());
    let event = sns_event(std::iter::repeat_n("d-75I7MBT7C".to_owned(), 10_000));
    let invocation = invoke(&relinker, &event).await;
    assert_eq!(invocation.response.reports.len(), 10_000);
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn a_six_megabyte_message_is_an_error_with_a_short_excerpt() {
    let get = not_found();
    let relinker = Relinker::new(clients(&[&get], &[], &[]), Config::default());
    let mut event: Value = serde_json::from_str(SNS_SUCCESS).unwrap();
    event["Records"][0]["Sns"]["Message"] = json!("x".repeat(6 * 1024 * 1024));
    let invocation = invoke(&relinker, &event).await;
    let Some(InvocationError::RecordsFailed { failures, .. }) = invocation.error else {
        panic!("expected a failed record: {:?}", invocation.error)
    };
    assert!(
        failures[0].contains("Records[0].Sns.Message"),
        "{}",
        &failures[0][..200]
    );
    assert!(
        failures[0].len() < 600,
        "the error quotes only an excerpt ({} bytes)",
        failures[0].len()
    );
    assert_eq!(get.num_calls(), 0);
}

/// Runs `relink replay` on raw bytes, with no AWS reachable.
fn replay_bytes(bytes: &[u8]) -> std::process::Output {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    Command::new(env!("CARGO_BIN_EXE_relink"))
        .args(["replay", file.path().to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

#[test]
fn hostile_files_are_refused_with_a_clear_error() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (bytes, expected) in [
        (
            b"\xff\xfe\x00not utf-8".to_vec(),
            "did not contain valid UTF-8",
        ),
        (deep.into_bytes(), "is not JSON"),
        (b"{\"Records\": [".to_vec(), "is not JSON"),
    ] {
        let output = replay_bytes(&bytes);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
