//! An invocation's answer, as the Lambda function gives it and the CLI prints it: the response
//! (reports, and for SQS events the partial batch response that makes Lambda redeliver only the
//! failed messages) or an error whose type says whether a retry can help.

use super::Handled;
use crate::domain::error::InputError;
use crate::domain::event::{self, DecodedEvent};
use crate::domain::report::Report;
use crate::usecases::sweep::SweepSummary;
use aws_lambda_events::sqs::SqsBatchResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The invocation's response: one report per notification, for SQS events the records to
/// redeliver (`batchItemFailures`), and for scheduled events the sweep's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// One report per record.
    pub reports: Vec<Report>,
    /// SQS only: the messages that failed, so that Lambda redelivers them and only them.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<SqsBatchResponse>,
    /// Scheduled events only: what the sweep saw and did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<SweepSummary>,
}

impl Response {
    /// The ids of the SQS messages Lambda would redeliver (none for other events).
    pub fn redelivered(&self) -> Vec<&str> {
        self.sqs
            .iter()
            .flat_map(|sqs| &sqs.batch_item_failures)
            .map(|f| f.item_identifier.as_str())
            .collect()
    }
}

/// Why an invocation fails.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum InvocationError {
    /// The event as a whole could not be read.
    #[error("invalid event: {0}")]
    InvalidEvent(InputError),
    /// Some records failed; every other one was processed.
    #[error("{} of {total} record(s) failed: {}", failures.len(), first_failures(failures))]
    RecordsFailed {
        /// How many reports the invocation produced.
        total: usize,
        /// One message per failed record.
        failures: Vec<String>,
        /// Whether a retry may help (some failure was a throttle, a server error or a timeout).
        retryable: bool,
    },
}

/// The failures an error message lists; the rest are counted (every one is in the log).
const LISTED_FAILURES: usize = 10;

fn first_failures(failures: &[String]) -> String {
    let mut text = failures[..failures.len().min(LISTED_FAILURES)].join(" | ");
    if failures.len() > LISTED_FAILURES {
        text.push_str(&format!(" | and {} more", failures.len() - LISTED_FAILURES));
    }
    text
}

impl InvocationError {
    /// A short type name for Lambda's error response (`errorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::InvalidEvent(_) => "Relink.InvalidEvent",
            InvocationError::RecordsFailed {
                retryable: true, ..
            } => "Relink.Retryable",
            InvocationError::RecordsFailed { .. } => "Relink.Failed",
        }
    }
}

/// The response an invocation's handling gives, and the error that fails the invocation, if any: failed records
/// of an SQS event are answered in `batchItemFailures` (each message once) and fail nothing; any
/// other failed record fails the invocation, after every record was processed.
pub fn answer(handled: Result<Handled, InputError>) -> (Response, Option<InvocationError>) {
    let handled = match handled {
        Ok(handled) => handled,
        Err(error) => {
            return (
                Response::default(),
                Some(InvocationError::InvalidEvent(error)),
            )
        }
    };
    let mut error = None;
    let sqs = if handled.shape == event::EventShape::Sqs {
        let mut batch = SqsBatchResponse::default();
        for id in handled
            .failed
            .iter()
            .filter_map(|f| f.sqs_message_id.as_ref())
        {
            if !batch
                .batch_item_failures
                .iter()
                .any(|f| &f.item_identifier == id)
            {
                batch.add_failure(id.clone());
            }
        }
        Some(batch)
    } else {
        if !handled.failed.is_empty() {
            error = Some(InvocationError::RecordsFailed {
                total: handled.reports.len(),
                failures: handled
                    .failed
                    .iter()
                    .map(|f| format!("{}: {}", f.location, f.message))
                    .collect(),
                retryable: handled.failed.iter().any(|f| f.retryable),
            });
        }
        None
    };
    let response = Response {
        reports: handled.reports,
        sqs,
        summary: handled.summary,
    };
    (response, error)
}

/// The event a record of the function's on-failure destination (its dead-letter queue) wraps in
/// `requestPayload`, and `true`; any other payload as it is, and `false`.
pub fn unwrap_destination_record(mut payload: Value) -> (Value, bool) {
    if payload.get("requestContext").is_some() {
        if let Some(event) = payload.get_mut("requestPayload") {
            return (event.take(), true);
        }
    }
    (payload, false)
}

/// Decodes a payload; an unreadable one is logged as the invalid event it is.
pub fn decode(payload: &Value) -> Result<DecodedEvent, InputError> {
    event::decode(payload).inspect_err(|error| {
        tracing::error!(location = %error.location, reason = %error.reason, excerpt = %error.excerpt, "invalid event");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EventShape;
    use crate::usecases::invocation::FailedRecord;

    fn failed(location: &str, id: Option<&str>, retryable: bool) -> FailedRecord {
        FailedRecord {
            location: location.into(),
            sqs_message_id: id.map(Into::into),
            message: "boom".into(),
            retryable,
        }
    }

    fn handled(shape: EventShape, failed: Vec<FailedRecord>) -> Handled {
        Handled {
            shape,
            reports: Vec::new(),
            failed,
            summary: None,
        }
    }

    #[test]
    fn long_failure_lists_are_cut_in_the_message() {
        let failures: Vec<String> = (0..25).map(|i| format!("Records[{i}]: boom")).collect();
        let error = InvocationError::RecordsFailed {
            total: 30,
            failures,
            retryable: false,
        };
        let text = error.to_string();
        assert!(
            text.starts_with("25 of 30 record(s) failed: Records[0]: boom"),
            "{text}"
        );
        assert!(text.contains("Records[9]: boom | and 15 more"), "{text}");
        assert!(!text.contains("Records[10]"), "{text}");
    }

    #[test]
    fn sqs_failures_are_redelivered_once_each_and_fail_nothing() {
        let (response, error) = answer(Ok(handled(
            EventShape::Sqs,
            vec![
                failed("Records[0]", Some("m-1"), false),
                failed("Records[1]", Some("m-1"), false),
                failed("Records[2]", Some("m-2"), true),
            ],
        )));
        assert_eq!(error, None);
        let ids: Vec<String> = response
            .sqs
            .unwrap()
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(ids, ["m-1", "m-2"]);
    }

    #[test]
    fn other_failures_fail_the_invocation_retryable_if_any_is() {
        let (response, error) = answer(Ok(handled(
            EventShape::Sns,
            vec![
                failed("Records[0]", None, false),
                failed("Records[1]", None, true),
            ],
        )));
        assert_eq!(response.sqs, None);
        let error = error.unwrap();
        assert_eq!(error.error_type(), "Relink.Retryable");
        assert!(error
            .to_string()
            .starts_with("2 of 0 record(s) failed: Records[0]: boom"));
    }

    #[test]
    fn the_response_keeps_its_wire_shape() {
        let mut sqs = SqsBatchResponse::default();
        sqs.add_failure("m-1");
        let json = serde_json::to_value(Response {
            reports: Vec::new(),
            sqs: Some(sqs),
            summary: None,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"reports": [], "batchItemFailures": [{"itemIdentifier": "m-1"}]})
        );
        let plain = serde_json::to_value(Response::default()).unwrap();
        assert_eq!(plain, serde_json::json!({"reports": []}));
    }
}
