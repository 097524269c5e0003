//! The CodeDeploy trigger message: the `Message` of an SNS notification (or an SQS body), and the
//! deployment ids it may carry. Pure.

use super::{
    instance_id_of, DeploymentRef, Ignored, InstanceEvent, Notification, MAX_DEPLOYMENT_ID_LEN,
};
use crate::domain::error::{excerpt, InputError};
use serde::Deserialize;
use serde_json::Value;

/// The CodeDeploy trigger message inside an SNS message; every field is optional here and
/// checked by [`classify_message`]. Unknown fields are ignored, since CodeDeploy adds some.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TriggerMessage {
    region: Option<Value>,
    account_id: Option<Value>,
    deployment_id: Option<Value>,
    application_name: Option<Value>,
    deployment_group_name: Option<Value>,
    instance_id: Option<Value>,
    instance_status: Option<Value>,
    status: Option<Value>,
}

/// The string at `location.name`, none when absent or null; any other JSON is an error naming it.
fn string_field(
    location: &str,
    name: &str,
    value: Option<Value>,
) -> Result<Option<String>, InputError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(InputError::new(
            format!("{location}.{name}"),
            format!("expected a string, got {}", json_kind(&other)),
            &other.to_string(),
        )),
    }
}

/// The region and account a message names. An instance's ARN names them too: they must agree
/// with the message's own, and are checked against the function's like them.
fn origin(
    region: Option<String>,
    account: Option<String>,
    instance_arn: Option<&str>,
    location: &str,
) -> Result<(Option<String>, Option<String>), InputError> {
    let (arn_region, arn_account) = instance_arn.map_or((None, None), arn_origin);
    let at = format!("{location}.instanceId");
    Ok((
        agreeing(region, arn_region, &at, "region")?,
        agreeing(account, arn_account, &at, "account")?,
    ))
}

/// Reads a CodeDeploy trigger message (the `Message` of an SNS notification).
pub fn classify_message(
    message: &str,
    subject: Option<&str>,
    location: &str,
) -> Result<Notification, InputError> {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        return not_json(message, subject, location);
    }
    let parsed: TriggerMessage = serde_json::from_str(trimmed).map_err(|e| {
        InputError::new(
            location,
            format!("not a CodeDeploy trigger message: {e}"),
            message,
        )
    })?;
    let field = |name: &str, value: Option<Value>| string_field(location, name, value);
    let deployment_id = field("deploymentId", parsed.deployment_id)?;
    let is_instance = parsed.instance_id.is_some() || parsed.instance_status.is_some();
    let instance_arn = field("instanceId", parsed.instance_id)?;
    let instance_id = instance_arn
        .as_deref()
        .map(|i| instance_id_of(i).to_owned());
    let instance_status = field("instanceStatus", parsed.instance_status)?;
    let Some(deployment_id) = deployment_id else {
        return Err(InputError::new(
            location,
            "a trigger message without deploymentId",
            message,
        ));
    };
    check_deployment_id(&deployment_id, &format!("{location}.deploymentId"))?;
    let instance = match (is_instance, instance_id, instance_status) {
        (false, ..) => None,
        // An instance's success (after AllowTraffic, for a replacement instance) may mean that
        // traffic moved: relink its deployment, through the same rule.
        (true, Some(instance_id), Some(status)) if status.eq_ignore_ascii_case("Succeeded") => {
            Some(InstanceEvent {
                instance_id,
                status,
            })
        }
        (true, instance_id, status) => {
            return Ok(Notification::Ignored(Ignored::InstanceNotification {
                deployment_id: Some(deployment_id),
                instance_id,
                status,
            }))
        }
    };
    let reported_status = match &instance {
        Some(i) => Some(i.status.clone()),
        None => field("status", parsed.status)?,
    };
    let (region, account) = origin(
        field("region", parsed.region)?,
        field("accountId", parsed.account_id)?,
        instance_arn.as_deref(),
        location,
    )?;
    Ok(Notification::Deployment(DeploymentRef {
        deployment_id,
        application: field("applicationName", parsed.application_name)?,
        deployment_group: field("deploymentGroupName", parsed.deployment_group_name)?,
        reported_status,
        region,
        account,
        instance,
    }))
}

/// The region and account of an EC2 instance ARN (`arn:<partition>:ec2:<region>:<account>:
/// instance/<id>`), each when present; nothing for a bare instance id.
fn arn_origin(arn: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "ec2", region, account, _] => (
            Some(region.to_string()).filter(|r| !r.is_empty()),
            Some(account.to_string()).filter(|a| !a.is_empty()),
        ),
        _ => (None, None),
    }
}

/// The message's own `what` (region or account) and the instance ARN's, which must agree: the
/// one that is given, or an error naming both.
fn agreeing(
    own: Option<String>,
    arn: Option<String>,
    location: &str,
    what: &str,
) -> Result<Option<String>, InputError> {
    match (own, arn) {
        (Some(own), Some(arn)) if own != arn => Err(InputError::new(
            location,
            format!("the instance ARN names {what} {arn:?} but the message names {own:?}"),
            &arn,
        )),
        (own, arn) => Ok(own.or(arn)),
    }
}

/// A message that is not JSON: CodeDeploy's trigger test message, or an error.
fn not_json(
    message: &str,
    subject: Option<&str>,
    location: &str,
) -> Result<Notification, InputError> {
    if is_trigger_test(message, subject) {
        return Ok(Notification::Ignored(Ignored::TriggerTest {
            subject: subject.map(str::to_owned),
        }));
    }
    Err(InputError::new(
        location,
        "not JSON and not CodeDeploy's trigger test message",
        message,
    ))
}

fn is_trigger_test(message: &str, subject: Option<&str>) -> bool {
    const MARKER: &str = "aws codedeploy notification setup";
    let mentions = |text: &str| text.to_ascii_lowercase().contains(MARKER);
    subject.is_some_and(mentions) || mentions(message)
}

/// Rejects deployment ids that cannot be real: empty, too long, or with characters outside
/// letters, digits, `-` and `_`. The API defines no pattern, so nothing stricter is assumed.
pub fn check_deployment_id(id: &str, location: &str) -> Result<(), InputError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_DEPLOYMENT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(InputError {
            location: location.into(),
            reason: format!(
                "not a deployment id (1 to {MAX_DEPLOYMENT_ID_LEN} letters, digits, '-' or '_')"
            ),
            excerpt: excerpt(id),
        })
    }
}

pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_trigger_message_with_string_encoded_members() {
        let message = r#"{"region":"us-east-1","accountId":"123456789012","eventTriggerName":"relink","applicationName":"web","deploymentId":"d-75I7MBT7C","deploymentGroupName":"web-bg","createTime":"Thu Oct 13 15:50:45 UTC 2022","completeTime":null,"deploymentOverview":"{\"Succeeded\":2}","status":"SUCCEEDED"}"#;
        let n = classify_message(message, None, "m").unwrap();
        let Notification::Deployment(r) = n else {
            panic!("{n:?}")
        };
        assert_eq!(r.deployment_id, "d-75I7MBT7C");
        assert_eq!(r.application.as_deref(), Some("web"));
        assert_eq!(r.deployment_group.as_deref(), Some("web-bg"));
        assert_eq!(r.reported_status.as_deref(), Some("SUCCEEDED"));
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        assert_eq!(r.account.as_deref(), Some("123456789012"));
    }

    #[test]
    fn documentation_sample_with_object_members() {
        let message = r#"{"applicationName":"web","deploymentId":"d-1","deploymentGroupName":"g","deploymentOverview":{"Failed":"1"},"errorInformation":{"ErrorCode":"X"},"status":"Failed"}"#;
        assert!(matches!(
            classify_message(message, None, "m"),
            Ok(Notification::Deployment(_))
        ));
    }

    #[test]
    fn the_instance_arn_names_a_region_and_an_account_that_are_checked_too() {
        let message = |region: &str, account: &str, arn: &str| {
            format!(
                r#"{{{region}{account}"deploymentId":"d-1","instanceId":"{arn}","instanceStatus":"Succeeded"}}"#
            )
        };
        let arn = "arn:aws:ec2:eu-west-1:210987654321:instance/i-0abc";
        // Without the message's own fields, the ARN's are the notification's.
        let Notification::Deployment(d) =
            classify_message(&message("", "", arn), None, "m").unwrap()
        else {
            panic!("not a deployment")
        };
        assert_eq!(
            (d.region.as_deref(), d.account.as_deref()),
            (Some("eu-west-1"), Some("210987654321"))
        );
        // Disagreeing with them is refused, naming both.
        let error =
            classify_message(&message(r#""region":"us-east-1","#, "", arn), None, "m").unwrap_err();
        assert_eq!(error.location, "m.instanceId");
        assert!(
            error
                .reason
                .contains(r#"region "eu-west-1" but the message names "us-east-1""#),
            "{error:?}"
        );
        let error = classify_message(
            &message(r#""accountId":"123456789012","#, "", arn),
            None,
            "m",
        )
        .unwrap_err();
        assert!(error.reason.contains("account"), "{error:?}");
        // A bare instance id names neither.
        let Notification::Deployment(d) =
            classify_message(&message("", "", "i-0abc"), None, "m").unwrap()
        else {
            panic!("not a deployment")
        };
        assert_eq!((d.region, d.account), (None, None));
    }

    #[test]
    fn trigger_test_message_is_ignored() {
        let n = classify_message(
            "This is a test notification",
            Some("SUCCESS: AWS CodeDeploy notification setup for trigger relink"),
            "m",
        )
        .unwrap();
        assert!(matches!(
            n,
            Notification::Ignored(Ignored::TriggerTest { .. })
        ));
    }

    #[test]
    fn an_instance_success_relinks_its_deployment_and_other_statuses_are_ignored() {
        let message = r#"{"region":"us-east-1","accountId":"123456789012","deploymentId":"d-1","instanceId":"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc","instanceStatus":"Succeeded","lifecycleEvents":"[]"}"#;
        let Notification::Deployment(d) = classify_message(message, None, "m").unwrap() else {
            panic!("not a deployment")
        };
        assert_eq!(d.deployment_id, "d-1");
        assert_eq!((d.application, d.deployment_group), (None, None));
        assert_eq!(d.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            d.instance,
            Some(InstanceEvent {
                instance_id: "i-0abc".into(),
                status: "Succeeded".into()
            })
        );

        let failed = r#"{"deploymentId":"d-1","instanceId":"i-0","instanceStatus":"Failed","lifecycleEvents":"[]"}"#;
        assert_eq!(
            classify_message(failed, None, "m").unwrap(),
            Notification::Ignored(Ignored::InstanceNotification {
                deployment_id: Some("d-1".into()),
                instance_id: Some("i-0".into()),
                status: Some("Failed".into()),
            })
        );
        let e = classify_message(
            r#"{"instanceId":"i-0","instanceStatus":"Succeeded"}"#,
            None,
            "m",
        )
        .unwrap_err();
        assert!(e.reason.contains("without deploymentId"), "{e}");
    }

    #[test]
    fn bad_messages_say_where_and_why() {
        let e = classify_message("hello", None, "Records[0].Sns.Message").unwrap_err();
        assert_eq!(e.location, "Records[0].Sns.Message");
        assert_eq!(e.excerpt, "hello");

        let e = classify_message(r#"{"status":"SUCCEEDED"}"#, None, "m").unwrap_err();
        assert!(e.reason.contains("without deploymentId"), "{e}");

        let e = classify_message(r#"{"deploymentId":7}"#, None, "m").unwrap_err();
        assert_eq!(e.location, "m.deploymentId");

        let e = classify_message(r#"{"deploymentId":"../../etc"}"#, None, "m").unwrap_err();
        assert!(e.reason.contains("not a deployment id"), "{e}");

        let e = classify_message(r#"{"deploymentId": "d-1""#, None, "m").unwrap_err();
        assert!(e.reason.contains("not a CodeDeploy trigger message"), "{e}");
    }

    #[test]
    fn deployment_id_shapes() {
        for ok in ["d-75I7MBT7C", "0b4a1f6e-7c0e-4b1b-9d1e-1f2a3b4c5d6e", "x"] {
            assert!(check_deployment_id(ok, "l").is_ok(), "{ok}");
        }
        let long = "d".repeat(MAX_DEPLOYMENT_ID_LEN + 1);
        for bad in ["", "d 1", "d-1\n", "a/b", "é", long.as_str()] {
            assert!(check_deployment_id(bad, "l").is_err(), "{bad:?}");
        }
    }
}
