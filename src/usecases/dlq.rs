//! `relink dlq`: the function's dead-letter queue, where the notification queue's redrive policy
//! moves the messages the function failed too often (SNS envelopes, EventBridge events), and
//! Lambda's on-failure destination the scheduled sweeps whose retries were exhausted. [`list`]
//! shows what waits; [`replay`] runs each message through the function's use case and edge,
//! exactly as `relink replay` does, and deletes a message only once its replay succeeded or was a
//! skip; [`purge`] deletes what is too old to matter. Messages being worked on are hidden from
//! other consumers and released when done.

use crate::aws::{sqs, Clients};
use crate::domain::error::AwsError;
use crate::domain::report::Outcome;
use crate::usecases::invocation::{self, Caller, Relinker};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

/// How long a message stays hidden while it is worked on.
const HIDE: Duration = Duration::from_secs(300);
/// The most messages any one command reads.
const MAX_MESSAGES: usize = 10_000;

/// A message, as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Letter {
    /// The SQS message id.
    pub message_id: String,
    /// How long it has waited, in seconds, when known.
    pub age_seconds: Option<u64>,
    /// The deployment ids the event names (none for a scheduled event).
    pub deployments: Vec<String>,
    /// Why the function failed it (`errorType: errorMessage` of the destination record).
    pub error: Option<String>,
}

/// What a replay did with one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    /// The message.
    pub letter: Letter,
    /// Whether it was deleted: its replay succeeded or was a skip (never in a dry run).
    pub deleted: bool,
    /// The outcomes of its reports (`relinked`, `skipped`, …).
    pub outcomes: Vec<String>,
    /// Why it was kept, when it was.
    pub kept_because: Option<String>,
}

/// Reads a message: the event it carries (the `requestPayload` of a destination record, or the
/// body itself), what it names and why it failed. Pure.
pub fn letter(message: &sqs::Received, now: SystemTime) -> (Letter, Value) {
    let body: Value = serde_json::from_str(&message.body).unwrap_or(Value::Null);
    let error = body.get("responsePayload").and_then(|p| {
        let kind = p.get("errorType")?.as_str()?;
        let text = p.get("errorMessage").and_then(Value::as_str).unwrap_or("");
        Some(format!("{kind}: {text}"))
    });
    let (event, _) = invocation::unwrap_destination_record(body);
    let event = match event.get("Type").and_then(Value::as_str) {
        // A notification queue's message that its redrive policy moved here: an SNS envelope,
        // replayed as the SQS record it was (an EventBridge event is replayed as it is).
        Some("Notification") => serde_json::json!({"Records": [{
            "eventSource": "aws:sqs",
            "messageId": message.message_id,
            "body": message.body,
        }]}),
        _ => event,
    };
    let deployments = crate::domain::event::decode(&event)
        .map(|decoded| decoded.deployment_ids())
        .unwrap_or_default();
    let age_seconds = message
        .sent
        .and_then(|sent| now.duration_since(sent).ok())
        .map(|d| d.as_secs());
    let letter = Letter {
        message_id: message.message_id.clone(),
        age_seconds,
        deployments,
        error,
    };
    (letter, event)
}

/// Every message (at most [`MAX_MESSAGES`]), hidden while read and released afterwards.
async fn take_all(clients: &Clients, queue_url: &str) -> Result<Vec<sqs::Received>, AwsError> {
    let mut seen = HashSet::new();
    let mut taken = Vec::new();
    while taken.len() < MAX_MESSAGES {
        let batch = sqs::receive(&clients.sqs, queue_url, HIDE).await?;
        let new: Vec<sqs::Received> = batch
            .into_iter()
            .filter(|m| seen.insert(m.message_id.clone()))
            .collect();
        if new.is_empty() {
            break;
        }
        taken.extend(new);
    }
    Ok(taken)
}

async fn release_all(
    clients: &Clients,
    queue_url: &str,
    messages: &[sqs::Received],
) -> Result<(), AwsError> {
    for message in messages {
        sqs::release(&clients.sqs, queue_url, message).await?;
    }
    Ok(())
}

/// What waits in the queue.
pub async fn list(clients: &Clients, queue_url: &str) -> Result<Vec<Letter>, AwsError> {
    let messages = take_all(clients, queue_url).await?;
    release_all(clients, queue_url, &messages).await?;
    let now = SystemTime::now();
    Ok(messages.iter().map(|m| letter(m, now).0).collect())
}

/// Replays up to `max` messages through the function; deletes each whose replay succeeded or was
/// a skip, unless `relinker` runs dry; releases the rest.
pub async fn replay(
    relinker: &Relinker,
    clients: &Clients,
    queue_url: &str,
    max: usize,
    dry_run: bool,
) -> Result<Vec<Replayed>, AwsError> {
    let messages = take_all(clients, queue_url).await?;
    let (now, mut results, mut kept) = (SystemTime::now(), Vec::new(), Vec::new());
    for message in messages {
        if results.len() >= max {
            kept.push(message);
            continue;
        }
        let (letter, event) = letter(&message, now);
        let (response, error) = relinker.invoke(&event, Caller::Credentials).await;
        let outcomes: Vec<String> = response
            .reports
            .iter()
            .map(|r| r.outcome.as_str().to_owned())
            .collect();
        let failed = response
            .reports
            .iter()
            .find(|r| r.outcome == Outcome::Failed);
        let kept_because = match (&error, failed) {
            (Some(error), _) => Some(error.to_string()),
            (None, Some(report)) => Some(report.detail.clone().unwrap_or_default()),
            (None, None) if dry_run => Some("dry run".to_owned()),
            (None, None) => None,
        };
        let deleted = kept_because.is_none();
        if deleted {
            sqs::delete(&clients.sqs, queue_url, &message).await?;
        } else {
            kept.push(message);
        }
        results.push(Replayed {
            letter,
            deleted,
            outcomes,
            kept_because,
        });
    }
    release_all(clients, queue_url, &kept).await?;
    Ok(results)
}

/// Deletes the messages older than `older_than`; returns them, and how many were kept.
pub async fn purge(
    clients: &Clients,
    queue_url: &str,
    older_than: Duration,
) -> Result<(Vec<Letter>, usize), AwsError> {
    let messages = take_all(clients, queue_url).await?;
    let now = SystemTime::now();
    let (mut deleted, mut kept) = (Vec::new(), Vec::new());
    for message in messages {
        let (letter, _) = letter(&message, now);
        if letter
            .age_seconds
            .is_some_and(|age| age > older_than.as_secs())
        {
            sqs::delete(&clients.sqs, queue_url, &message).await?;
            deleted.push(letter);
        } else {
            kept.push(message);
        }
    }
    release_all(clients, queue_url, &kept).await?;
    Ok((deleted, kept.len()))
}

/// Why the dead-letter queue of a stack was not found.
#[derive(Debug, thiserror::Error)]
pub enum StackQueueError {
    /// The queues could not be listed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// No queue, or more than one, has the stack's prefix.
    #[error("{count} queues are named {prefix}*: pass --queue-url (the stack output DeadLetterQueueUrl)")]
    NotOne {
        /// How many queues have the prefix.
        count: usize,
        /// `<stack>-DeadLetterQueue-`.
        prefix: String,
    },
}

/// The queue of a stack made from template.yaml: the one queue named `<stack>-DeadLetterQueue-…`
/// (how CloudFormation names it), or an error saying how to give it.
pub async fn queue_of_stack(clients: &Clients, stack: &str) -> Result<String, StackQueueError> {
    let prefix = format!("{stack}-DeadLetterQueue-");
    let mut urls = sqs::queue_url_by_prefix(&clients.sqs, &prefix).await?;
    match urls.len() {
        1 => Ok(urls.remove(0)),
        count => Err(StackQueueError::NotOne { count, prefix }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn received(body: Value) -> sqs::Received {
        sqs::Received {
            message_id: "m-1".into(),
            receipt_handle: "r-1".into(),
            body: body.to_string(),
            sent: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)),
        }
    }

    #[test]
    fn a_destination_record_is_read_for_its_event_deployments_and_error() {
        let event = json!({"deploymentId": "d-75I7MBT7C"});
        let record = json!({"requestContext": {"condition": "RetriesExhausted"},
            "requestPayload": event,
            "responsePayload": {"errorType": "Relink.Failed", "errorMessage": "1 of 1 record(s) failed"}});
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_090);
        let (letter, replayed) = letter(&received(record), now);
        assert_eq!(replayed, event);
        assert_eq!(letter.deployments, ["d-75I7MBT7C"]);
        assert_eq!(letter.age_seconds, Some(90));
        assert_eq!(
            letter.error.as_deref(),
            Some("Relink.Failed: 1 of 1 record(s) failed")
        );
    }

    #[test]
    fn a_notification_queues_sns_envelope_is_replayed_as_its_sqs_record() {
        // The body of the sample SQS event: an SNS envelope, as the topic delivers it.
        let sample: Value =
            serde_json::from_str(include_str!("../../events/sqs-sns-success.json")).unwrap();
        let envelope: Value =
            serde_json::from_str(sample["Records"][0]["body"].as_str().unwrap()).unwrap();
        let (letter, replayed) = letter(&received(envelope.clone()), SystemTime::UNIX_EPOCH);
        assert_eq!(letter.deployments, ["d-75I7MBT7C"]);
        assert_eq!(replayed["Records"][0]["body"], envelope.to_string());
        assert_eq!(replayed["Records"][0]["messageId"], "m-1");
    }

    #[test]
    fn a_bare_event_is_its_own_payload() {
        let event = json!({"deploymentId": "d-1"});
        let (letter, replayed) = letter(&received(event.clone()), SystemTime::UNIX_EPOCH);
        assert_eq!(replayed, event);
        assert_eq!(letter.error, None);
        assert_eq!(letter.age_seconds, None, "sent after now: no age");
    }
}
