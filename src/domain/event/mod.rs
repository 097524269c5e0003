//! Decoding of invocation payloads into notifications. Pure: no I/O, no AWS types.
//!
//! Supported shapes, detected automatically:
//! - SNS events whose records carry CodeDeploy trigger messages (every record is read);
//! - SQS events whose bodies are SNS envelopes (SNS → SQS → Lambda) or raw trigger messages;
//! - EventBridge `CodeDeploy Deployment State-change Notification` events, and `CodeDeploy
//!   Instance State-change Notification` events (an instance's success relinks its deployment);
//! - instance-level trigger messages (`InstanceSuccess` and the other instance triggers), inside
//!   SNS, SQS and dead-letter records like the deployment-level ones;
//! - a direct invocation `{"deploymentId": "d-…"}`, optionally naming the application and
//!   deployment group to cross-check;
//! - an EventBridge scheduled event (`source: aws.events`, `detail-type: Scheduled Event`), which
//!   runs the sweep.

mod eventbridge;
mod message;
mod records;

pub use message::{check_deployment_id, classify_message};

use crate::domain::error::InputError;
pub use eventbridge::SCHEDULED_DETAIL_TYPE;
use eventbridge::{decode_eventbridge, is_scheduled_event};
use message::json_kind;
use records::decode_records;
use serde::Deserialize;
use serde_json::Value;

/// The EventBridge `detail-type` of deployment state changes.
pub const DEPLOYMENT_DETAIL_TYPE: &str = "CodeDeploy Deployment State-change Notification";
/// The EventBridge `detail-type` of instance state changes.
pub const INSTANCE_DETAIL_TYPE: &str = "CodeDeploy Instance State-change Notification";
/// The longest deployment id accepted. Real ids are 11 characters (`d-` and 9 more).
pub const MAX_DEPLOYMENT_ID_LEN: usize = 64;

/// The outer shape of an invocation payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventShape {
    /// An SNS event (`Records[].Sns`).
    Sns,
    /// An SQS event (`Records[].body`); failures are answered per record with `batchItemFailures`.
    Sqs,
    /// An EventBridge event from `aws.codedeploy`.
    EventBridge,
    /// A direct invocation naming a deployment.
    Direct,
    /// An EventBridge scheduled event: run the sweep.
    Schedule,
}

/// A decoded invocation payload: its shape and one item per record.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent {
    /// The outer shape.
    pub shape: EventShape,
    /// One item per record (a single item for EventBridge and direct invocations).
    pub items: Vec<Item>,
}

impl DecodedEvent {
    /// The deployment ids its records name, each once, in order.
    pub fn deployment_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for item in &self.items {
            if let Ok(Notification::Deployment(d)) = &item.notification {
                if !ids.contains(&d.deployment_id) {
                    ids.push(d.deployment_id.clone());
                }
            }
        }
        ids
    }
}

/// One record of an event and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Where the record is in the event, e.g. `Records[1]`.
    pub location: String,
    /// The SQS message id, which `batchItemFailures` must name.
    pub sqs_message_id: Option<String>,
    /// The notification the record carries, or why it could not be read.
    pub notification: Result<Notification, InputError>,
}

/// What a record tells the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A deployment to look at.
    Deployment(DeploymentRef),
    /// A message that is recognised and deliberately not acted on.
    Ignored(Ignored),
    /// A scheduled event: sweep every in-progress and recently succeeded deployment.
    Sweep,
}

/// A message the function recognises and ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The plain-text message CodeDeploy sends when a trigger is created.
    TriggerTest {
        /// The message's subject, when there was one.
        subject: Option<String>,
    },
    /// An instance-level notification of anything but the instance's success: only a success
    /// (after AllowTraffic, for a replacement instance) can mean that traffic moved.
    InstanceNotification {
        /// The deployment the instance belongs to, when given.
        deployment_id: Option<String>,
        /// The instance, when given.
        instance_id: Option<String>,
        /// Its status (`instanceStatus`, or EventBridge's `state`), when given.
        status: Option<String>,
    },
}

/// The instance an instance-level notification reports a success of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct InstanceEvent {
    /// The instance id (`i-…`; an ARN in the trigger message is reduced to its id).
    pub instance_id: String,
    /// The status as the message says it (`Succeeded`, `SUCCESS`).
    pub status: String,
}

/// The instance id of `i-…` or `arn:aws:ec2:<region>:<account>:instance/i-…`.
pub fn instance_id_of(value: &str) -> &str {
    value.rsplit_once("instance/").map_or(value, |(_, id)| id)
}

/// A deployment named by a notification. Only the id is trusted; the names are cross-checked
/// against the CodeDeploy API and the region and account against the function's own
/// ([`crate::domain::crosscheck`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DeploymentRef {
    /// The deployment id.
    pub deployment_id: String,
    /// The application the message names, if any.
    pub application: Option<String>,
    /// The deployment group the message names, if any.
    pub deployment_group: Option<String>,
    /// The status or state the message reports (informational only).
    pub reported_status: Option<String>,
    /// The region the message says the deployment ran in, if any.
    pub region: Option<String>,
    /// The AWS account the message says the deployment belongs to, if any.
    pub account: Option<String>,
    /// For an instance-level notification: the instance whose success it reports.
    pub instance: Option<InstanceEvent>,
}

/// A direct invocation. Unknown fields are rejected so that a typo does not pass silently.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DirectRequest {
    deployment_id: String,
    application_name: Option<String>,
    deployment_group_name: Option<String>,
}

/// Decodes an invocation payload. A payload whose outer shape is not recognised is an error; a
/// record that cannot be read is an item whose `notification` is an error, so the other records
/// are still processed.
pub fn decode(payload: &Value) -> Result<DecodedEvent, InputError> {
    let Some(object) = payload.as_object() else {
        return Err(InputError::new(
            "event",
            format!("expected a JSON object, got {}", json_kind(payload)),
            &payload.to_string(),
        ));
    };
    let (shape, notification) = if let Some(records) = object.get("Records") {
        let (shape, items) = decode_records(records, payload)?;
        return Ok(DecodedEvent { shape, items });
    } else if is_scheduled_event(payload) {
        (EventShape::Schedule, Ok(Notification::Sweep))
    } else if object.contains_key("detail-type") || object.contains_key("detail") {
        (EventShape::EventBridge, decode_eventbridge(payload))
    } else if object.contains_key("deploymentId") {
        (EventShape::Direct, decode_direct(payload))
    } else {
        return Err(InputError::new(
            "event",
            "not a supported event: expected an SNS or SQS event (Records), an EventBridge event from aws.codedeploy or a scheduled event (detail-type), or {\"deploymentId\": \"d-…\"}",
            &payload.to_string(),
        ));
    };
    Ok(DecodedEvent {
        shape,
        items: vec![Item {
            location: "event".into(),
            sqs_message_id: None,
            notification,
        }],
    })
}

/// `{"deploymentId": …}`, optionally with the application and deployment group to cross-check.
fn decode_direct(payload: &Value) -> Result<Notification, InputError> {
    let direct = serde_json::from_value::<DirectRequest>(payload.clone()).map_err(|e| {
        InputError::new(
            "event",
            format!("invalid direct invocation: {e}"),
            &payload.to_string(),
        )
    })?;
    check_deployment_id(&direct.deployment_id, "event.deploymentId")?;
    Ok(Notification::Deployment(DeploymentRef {
        deployment_id: direct.deployment_id,
        application: direct.application_name,
        deployment_group: direct.deployment_group_name,
        ..DeploymentRef::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(id: &str, app: Option<&str>, group: Option<&str>) -> Notification {
        Notification::Deployment(DeploymentRef {
            deployment_id: id.into(),
            application: app.map(Into::into),
            deployment_group: group.map(Into::into),
            ..DeploymentRef::default()
        })
    }

    #[test]
    fn direct_invocation() {
        let event = decode(&json!({"deploymentId": "d-1", "applicationName": "web"})).unwrap();
        assert_eq!(event.shape, EventShape::Direct);
        assert_eq!(
            event.items[0].notification,
            Ok(deployment("d-1", Some("web"), None))
        );

        let event = decode(&json!({"deploymentID": "d-1"})).unwrap_err();
        assert_eq!(event.location, "event");

        let event = decode(&json!({"deploymentId": "d-1", "dryrun": true})).unwrap();
        let e = event.items[0].notification.clone().unwrap_err();
        assert!(e.reason.contains("unknown field"), "{e}");
    }

    #[test]
    fn unsupported_payloads() {
        for payload in [json!([]), json!("x"), json!(null), json!({"hello": 1})] {
            let e = decode(&payload).unwrap_err();
            assert_eq!(e.location, "event", "{payload}");
        }
        assert_eq!(
            decode(&json!({"Records": 3})).unwrap_err().location,
            "Records"
        );
        assert_eq!(
            decode(&json!({"Records": []})).unwrap_err().location,
            "Records"
        );
        assert_eq!(
            decode(&json!({"Records": [{"kinesis": {}}]}))
                .unwrap_err()
                .location,
            "Records[0]"
        );
    }

    #[test]
    fn eventbridge_instance_success_relinks_its_deployment() {
        let event = |state: &str| {
            json!({"source": "aws.codedeploy", "detail-type": INSTANCE_DETAIL_TYPE,
                "region": "us-east-1", "account": "123456789012",
                "detail": {"instanceId": "i-0abc", "region": "us-east-1", "state": state,
                    "application": "web", "deploymentId": "d-1", "instanceGroupId": "x",
                    "deploymentGroup": "web-bg"}})
        };
        let decoded = decode(&event("SUCCESS")).unwrap();
        let Ok(Notification::Deployment(d)) = &decoded.items[0].notification else {
            panic!("{decoded:?}")
        };
        assert_eq!(d.deployment_id, "d-1");
        assert_eq!(d.deployment_group.as_deref(), Some("web-bg"));
        assert_eq!(d.region.as_deref(), Some("us-east-1"));
        assert_eq!(d.account.as_deref(), Some("123456789012"));
        assert_eq!(d.instance.as_ref().unwrap().instance_id, "i-0abc");

        let failed = decode(&event("FAILURE")).unwrap();
        assert_eq!(
            failed.items[0].notification,
            Ok(Notification::Ignored(Ignored::InstanceNotification {
                deployment_id: Some("d-1".into()),
                instance_id: Some("i-0abc".into()),
                status: Some("FAILURE".into()),
            }))
        );
        let mut bad = event("SUCCESS");
        bad["detail"]["deploymentId"] = json!(7);
        let e = decode(&bad).unwrap().items[0]
            .notification
            .clone()
            .unwrap_err();
        assert_eq!(e.location, "event.detail.deploymentId");
    }

    #[test]
    fn eventbridge_from_another_source_is_rejected() {
        let event =
            decode(&json!({"source": "aws.ec2", "detail-type": "x", "detail": {}})).unwrap();
        let e = event.items[0].notification.clone().unwrap_err();
        assert_eq!(e.location, "event.source");
    }
}
