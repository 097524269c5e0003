//! A notification about another region or account is an error, raised before any Describe or
//! attach call: in the Lambda (which knows its account from its own ARN, without an AWS call) and
//! in `relink replay` (which asks STS once, because the notification names an account).

use crate::emulator::Emulator;
use crate::fixtures::*;
use serde_json::{json, Value};

fn world(emulator: &mut Emulator) {
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 1}));
    emulator.reset_requests();
}

fn eventbridge(account: &str) -> Value {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string("events/eventbridge-success.json").unwrap())
            .unwrap();
    event["account"] = json!(account);
    event
}

/// The EventBridge deployment sample in another region.
fn eventbridge_in(region: &str) -> Value {
    let mut event = eventbridge("123456789012");
    event["region"] = json!(region);
    event["detail"]["region"] = json!(region);
    event
}

/// CodeDeploy's instance trigger for d-75I7MBT7C, its message changed by `change`.
fn instance_trigger(change: impl FnOnce(&mut Value)) -> Value {
    let mut event = instance_success_sns("d-75I7MBT7C", "i-0a1b2c3d4e5f67890");
    let sns = &mut event["Records"][0]["Sns"];
    let mut message: Value = serde_json::from_str(sns["Message"].as_str().unwrap()).unwrap();
    change(&mut message);
    sns["Message"] = json!(message.to_string());
    event
}

/// Each foreign notification, the error code it gets and the two sides its message names.
fn foreign() -> Vec<(Value, &'static str, [&'static str; 2])> {
    vec![
        (
            eventbridge_in("eu-west-1"),
            "ForeignRegion",
            ["eu-west-1", "us-east-1"],
        ),
        (
            instance_trigger(|m| {
                m["accountId"] = json!("333333333333");
                m["instanceId"] = json!("arn:aws:ec2:us-east-1:333333333333:instance/i-0a1");
            }),
            "ForeignAccount",
            ["333333333333", "123456789012"],
        ),
        (
            // The message's accountId alone names the account (an instance named by its id).
            instance_trigger(|m| {
                m["accountId"] = json!("555555555555");
                m["instanceId"] = json!("i-0a1b2c3d4e5f67890");
            }),
            "ForeignAccount",
            ["555555555555", "123456789012"],
        ),
        (
            // The instance's ARN alone names the account.
            instance_trigger(|m| {
                m.as_object_mut().unwrap().remove("accountId");
                m["instanceId"] = json!("arn:aws:ec2:us-east-1:444444444444:instance/i-0a1");
            }),
            "ForeignAccount",
            ["444444444444", "123456789012"],
        ),
        (
            sns_event(|m| m["region"] = json!("eu-west-1")),
            "ForeignRegion",
            ["eu-west-1", "us-east-1"],
        ),
        (
            sns_event(|m| m["accountId"] = json!("111111111111")),
            "ForeignAccount",
            ["111111111111", "123456789012"],
        ),
        (
            eventbridge("222222222222"),
            "ForeignAccount",
            ["222222222222", "123456789012"],
        ),
    ]
}

#[test]
fn replay_refuses_another_region_or_account_after_asking_sts_only() {
    let mut emulator = Emulator::start();
    world(&mut emulator);
    for (event, code, sides) in foreign() {
        let file = event_file(&event);
        let run = emulator.relink(&["--json", "replay", file.path().to_str().unwrap()], &[]);
        assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr());
        let report = run.report();
        assert_eq!(report["outcome"], "failed", "{report}");
        assert_eq!(report["error_code"], code, "{report}");
        for side in sides {
            assert!(
                report["detail"].as_str().unwrap().contains(side),
                "{side}: {report}"
            );
        }
        assert!(
            run.stderr().starts_with("error: ") && !run.stderr().contains("a retry may help"),
            "{}",
            run.stderr()
        );
        assert_eq!(emulator.requests(), counts(&[(STS, 1)]), "{event}");
        emulator.reset_requests();
    }
}

#[test]
fn the_lambda_refuses_them_without_any_aws_call() {
    let mut emulator = Emulator::start();
    world(&mut emulator);
    for (event, code, sides) in foreign() {
        let run = emulator.invoke_lambda(&event, &[], FUNCTION_ARN);
        assert!(run.path.ends_with("/error"), "{} {:?}", run.path, run.body);
        assert_eq!(run.body["errorType"], "Relink.Failed", "{}", run.body);
        let message = run.body["errorMessage"].as_str().unwrap();
        for side in sides {
            assert!(message.contains(side), "{side}: {message}");
        }
        assert!(
            run.logs.iter().any(|l| l.contains(code)),
            "the failure is logged with its code: {:?}",
            run.logs
        );
        assert_eq!(emulator.requests(), counts(&[]), "{event}");
    }
}

#[test]
fn the_lambda_acts_on_its_own_account_without_asking_sts() {
    let mut emulator = Emulator::start();
    world(&mut emulator);
    let event: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let run = emulator.invoke_lambda(&event, &[], FUNCTION_ARN);
    assert!(run.succeeded(), "{} {:?}", run.path, run.body);
    assert_eq!(
        run.body["reports"][0]["outcome"], "relinked",
        "{}",
        run.body
    );
    assert!(!emulator.requests().contains_key(STS));

    // The same function deployed in another account refuses the notification.
    let elsewhere = "arn:aws:lambda:us-east-1:999999999999:function:codedeploy-relink";
    let refused = emulator.invoke_lambda(&event, &[], elsewhere);
    assert!(refused.path.ends_with("/error"), "{:?}", refused.body);
    assert!(
        refused.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("999999999999"),
        "{}",
        refused.body
    );
}
