//! SNS and SQS events: every record read, each into its own item (an SQS message's body is an
//! SNS envelope, an EventBridge event or a raw trigger message).

use super::eventbridge::decode_eventbridge;
use super::{classify_message, EventShape, Item, Notification};
use crate::domain::error::InputError;
use aws_lambda_events::sns::{SnsMessage, SnsRecord};
use aws_lambda_events::sqs::SqsMessage;
use serde_json::Value;

/// The items of an SNS or SQS event's `Records`, its shape told by the first record.
pub(super) fn decode_records(
    records: &Value,
    payload: &Value,
) -> Result<(EventShape, Vec<Item>), InputError> {
    let records = records
        .as_array()
        .ok_or_else(|| InputError::new("Records", "expected an array", &records.to_string()))?;
    let first = records.first().ok_or_else(|| {
        InputError::new("Records", "the event has no records", &payload.to_string())
    })?;
    let shape = if first.get("Sns").is_some() || source_of(first) == Some("aws:sns") {
        EventShape::Sns
    } else if first.get("body").is_some() || source_of(first) == Some("aws:sqs") {
        EventShape::Sqs
    } else {
        return Err(InputError::new(
            "Records[0]",
            "a record that is neither an SNS record (EventSource aws:sns) nor an SQS record (eventSource aws:sqs)",
            &first.to_string(),
        ));
    };
    let decode_record = match shape {
        EventShape::Sns => decode_sns_record,
        _ => decode_sqs_record,
    };
    let items = records
        .iter()
        .enumerate()
        .map(|(index, record)| decode_record(format!("Records[{index}]"), record))
        .collect();
    Ok((shape, items))
}

pub(super) fn source_of(record: &Value) -> Option<&str> {
    record
        .get("EventSource")
        .or_else(|| record.get("eventSource"))
        .and_then(Value::as_str)
}

pub(super) fn decode_sns_record(location: String, record: &Value) -> Item {
    let notification = serde_json::from_value::<SnsRecord>(record.clone())
        .map_err(|e| {
            InputError::new(
                &location,
                format!("not an SNS record: {e}"),
                &record.to_string(),
            )
        })
        .and_then(|r| {
            classify_message(
                &r.sns.message,
                r.sns.subject.as_deref(),
                &format!("{location}.Sns.Message"),
            )
        });
    Item {
        location,
        sqs_message_id: None,
        notification,
    }
}

pub(super) fn decode_sqs_record(location: String, record: &Value) -> Item {
    let message = serde_json::from_value::<SqsMessage>(record.clone()).map_err(|e| {
        InputError::new(
            &location,
            format!("not an SQS record: {e}"),
            &record.to_string(),
        )
    });
    let sqs_message_id = message.as_ref().ok().and_then(|m| m.message_id.clone());
    let notification = message.and_then(|m| {
        let body = m.body.unwrap_or_default();
        classify_sqs_body(&body, &format!("{location}.body"))
    });
    Item {
        location,
        sqs_message_id,
        notification,
    }
}

/// An SQS body is an SNS envelope (the default for SNS → SQS subscriptions), an EventBridge
/// event (a rule whose target is the queue) or, with raw message delivery, the trigger message
/// itself.
pub(super) fn classify_sqs_body(body: &str, location: &str) -> Result<Notification, InputError> {
    let parsed = serde_json::from_str::<Value>(body).ok();
    if let Some(event) = parsed.as_ref().filter(|v| v.get("detail-type").is_some()) {
        return decode_eventbridge(event).map_err(|error| InputError {
            location: error.location.replacen("event", location, 1),
            ..error
        });
    }
    let envelope = parsed.filter(|v| v.get("Type").and_then(Value::as_str) == Some("Notification"));
    match envelope {
        Some(envelope) => {
            let sns = serde_json::from_value::<SnsMessage>(envelope).map_err(|e| {
                InputError::new(
                    location,
                    format!("not an SNS notification envelope: {e}"),
                    body,
                )
            })?;
            classify_message(
                &sns.message,
                sns.subject.as_deref(),
                &format!("{location}.Message"),
            )
        }
        None => classify_message(body, None, location),
    }
}
