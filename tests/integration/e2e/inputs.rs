//! The shapes of input: SQS-wrapped SNS, direct invocations, failed records redelivered alone,
//! instance notifications, invalid records, the trigger test and dead-letter records.

use super::*;

#[test]
fn trigger_test_message_makes_no_request() {
    let mut emulator = Emulator::start();
    let run = emulator.relink(&["--json", "replay", "events/sns-trigger-test.json"], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["reason"], "trigger_test_message");
    assert_eq!(emulator.requests(), counts(&[]));
}

#[test]
fn sqs_wrapped_sns_and_direct_invocation() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({"target_groups": 1}));
    // The SQS sample's second record names api/api-bg, which does not exist here.
    let run = emulator.relink(&["--json", "replay", "events/sqs-sns-success.json"], &[]);
    assert!(run.success(), "{}", run.stderr());
    let response = run.response();
    assert_eq!(response["summary"]["batch_item_failures"], json!([]));
    assert_eq!(response["reports"][0]["outcome"], "relinked");
    assert_eq!(response["reports"][1]["reason"], "deployment_not_found");
    assert_linked(&mut emulator, &world);

    let direct = emulator.relink(&["--json", "deployment", "d-75I7MBT7C"], &[]);
    assert!(direct.success(), "{}", direct.stderr());
    assert_eq!(direct.report()["outcome"], "already_linked");
}

#[test]
fn sqs_record_that_fails_is_the_only_one_redelivered() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({}));
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string("events/sqs-sns-success.json").unwrap())
            .unwrap();
    event["Records"][1]["body"] = json!("not a notification");
    let file = event_file(&event);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(!run.success());
    let response = run.response();
    assert_eq!(
        response["summary"]["batch_item_failures"],
        json!([event["Records"][1]["messageId"]])
    );
    assert_eq!(response["reports"][0]["outcome"], "relinked");
    assert_eq!(response["reports"][1]["outcome"], "failed");
    assert_linked(&mut emulator, &world);
}

#[test]
fn unresolvable_target_group_fails_after_the_other_records() {
    let mut emulator = Emulator::start();
    build(&mut emulator, json!({"target_groups": 2}));
    let api = emulator.build(json!({"application": "api", "deployment_group": "api-bg",
        "deployment_id": "d-8K2XH4RTQ", "target_groups": 1}));
    emulator.delete_target_group("web-bg-tg-2");
    emulator.reset_requests();
    let run = emulator.relink(&["--json", "replay", "events/sns-two-groups.json"], &[]);
    assert!(
        !run.success(),
        "a deployment that cannot be relinked must fail the invocation"
    );
    let reports = run.response()["reports"].clone();
    assert_eq!(reports[0]["outcome"], "failed");
    assert_eq!(reports[0]["error_code"], "TargetGroupNotFound");
    assert!(
        reports[0]["detail"]
            .as_str()
            .unwrap()
            .contains("web-bg-tg-2"),
        "{}",
        reports[0]
    );
    assert!(
        !reports[0]["detail"]
            .as_str()
            .unwrap()
            .contains("web-bg-tg-1"),
        "{}",
        reports[0]
    );
    assert_eq!(reports[1]["outcome"], "relinked");
    assert_linked(&mut emulator, &api);
    assert_untouched(&mut emulator, REPLACEMENT);
    let stderr = run.stderr();
    assert!(
        stderr.contains("\nerror: 1 of 2 record(s) failed; the first (Records[0]): ")
            && stderr.contains("d-75I7MBT7C")
            && !stderr.contains("a retry may help"),
        "{stderr}"
    );
}

#[test]
fn instance_event_and_invalid_input_are_reported() {
    let emulator = Emulator::start();
    let run = emulator.relink(
        &["--json", "replay", "events/sns-instance-failure.json"],
        &[],
    );
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["reason"], "instance_notification");
    assert_eq!(run.report()["instance_id"], "i-0a1b2c3d4e5f67890");

    let bad = emulator.relink(&["replay", "events/invalid/unknown-shape.json"], &[]);
    assert!(!bad.success());
    assert!(
        bad.stderr()
            .starts_with("error: the event cannot be read: "),
        "{}",
        bad.stderr()
    );
    assert!(
        bad.stderr().contains("not a supported event"),
        "{}",
        bad.stderr()
    );

    let config = emulator.relink(&["replay", SUCCESS], &[("RELINK_ATTACH_WHEN", "soon")]);
    assert_eq!(config.output.status.code(), Some(2));
    assert!(
        config.stderr().contains("RELINK_ATTACH_WHEN"),
        "{}",
        config.stderr()
    );
}

#[test]
fn a_dead_letter_record_replays_the_event_it_wraps() {
    let mut emulator = Emulator::start();
    let world = build(&mut emulator, json!({}));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    // What Lambda's on-failure destination puts in the dead-letter queue.
    let record = json!({
        "version": "1.0",
        "timestamp": "2022-10-13T16:05:00.000Z",
        "requestContext": {"requestId": "e3c1b2a4-0000-4000-8000-000000000000",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:relink:$LATEST",
            "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Relink.Failed", "errorMessage": "…"}
    });
    let file = event_file(&record);
    let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
    assert!(run.success(), "{}", run.stderr());
    assert_eq!(run.report()["outcome"], "relinked");
    assert_linked(&mut emulator, &world);
}
