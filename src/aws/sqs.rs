//! Amazon SQS adapter: the dead-letter queue, for `relink dlq`.

use super::aws_error;
use crate::domain::error::AwsError;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_sdk_sqs::Client;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The most messages one `ReceiveMessage` returns.
pub const MAX_PER_RECEIVE: i32 = 10;

/// A message taken from the queue: invisible to others until released or the time runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The message id.
    pub message_id: String,
    /// What deletes or releases it.
    pub receipt_handle: String,
    /// The body: a Lambda destination record, or an event.
    pub body: String,
    /// When it was sent to the queue.
    pub sent: Option<SystemTime>,
}

/// The URL of the one queue whose name starts with `prefix` (`ListQueues`).
pub async fn queue_url_by_prefix(client: &Client, prefix: &str) -> Result<Vec<String>, AwsError> {
    let output = client
        .list_queues()
        .queue_name_prefix(prefix)
        .send()
        .await
        .map_err(|err| aws_error("ListQueues", format!("queues named {prefix}*"), err))?;
    Ok(output.queue_urls().to_vec())
}

/// Up to [`MAX_PER_RECEIVE`] messages, hidden from other consumers for `hide` (zero: only looked
/// at, visible again at once).
pub async fn receive(
    client: &Client,
    queue_url: &str,
    hide: Duration,
) -> Result<Vec<Received>, AwsError> {
    let output = client
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(MAX_PER_RECEIVE)
        .visibility_timeout(hide.as_secs() as i32)
        .wait_time_seconds(0)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .send()
        .await
        .map_err(|err| aws_error("ReceiveMessage", format!("queue {queue_url}"), err))?;
    Ok(output
        .messages()
        .iter()
        .filter_map(|m| {
            let sent = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse::<u64>().ok())
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
            Some(Received {
                message_id: m.message_id()?.to_owned(),
                receipt_handle: m.receipt_handle()?.to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                sent,
            })
        })
        .collect())
}

/// Deletes a received message.
pub async fn delete(client: &Client, queue_url: &str, message: &Received) -> Result<(), AwsError> {
    client
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(&message.receipt_handle)
        .send()
        .await
        .map(drop)
        .map_err(|err| {
            aws_error(
                "DeleteMessage",
                format!("message {}", message.message_id),
                err,
            )
        })
}

/// Makes a received message visible again at once.
pub async fn release(client: &Client, queue_url: &str, message: &Received) -> Result<(), AwsError> {
    client
        .change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(&message.receipt_handle)
        .visibility_timeout(0)
        .send()
        .await
        .map(drop)
        .map_err(|err| {
            aws_error(
                "ChangeMessageVisibility",
                format!("message {}", message.message_id),
                err,
            )
        })
}
