//! One invocation: decode the event, relink every deployment it names, report, and decide
//! whether the invocation fails. The Lambda binary and the CLI both call [`Relinker::handle`].

use crate::aws::{sts, Clients};
use crate::config::Config;
use crate::crosscheck::{account_of_arn, Home};
use crate::decision::{Skip, SkipReason};
use crate::error::{InputError, RelinkError};
use crate::event::{decode, DeploymentRef, EventShape, Ignored, Notification};
use crate::relink::relink;
use crate::report::{Attempt, Ending, Finding, Report, Subject};
use crate::sweep::{sweep, SweepSummary};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;
use thiserror::Error;
use tokio::sync::OnceCell;

/// The invocation's response: one report per notification, and for SQS events the records to
/// redeliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// One report per record.
    pub reports: Vec<Report>,
    /// SQS only: the messages that failed, so that Lambda redelivers them and only them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<Vec<ItemFailure>>,
    /// Scheduled events only: what the sweep saw and did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<SweepSummary>,
}

/// An SQS message to redeliver (the shape Lambda's partial batch response expects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// The SQS message id.
    pub item_identifier: String,
}

/// Why an invocation fails.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum InvocationError {
    /// The event as a whole could not be read.
    #[error("invalid event: {0}")]
    InvalidEvent(InputError),
    /// Some records (or swept deployments) failed; every other one was processed.
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

/// What an invocation produced: the response (always, for the record) and the error that fails
/// the invocation, if any.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The reports.
    pub response: Response,
    /// Set when the invocation must fail (never for SQS record failures, which are reported in
    /// `batchItemFailures`).
    pub error: Option<InvocationError>,
}

/// How the function learns which account it acts on, to check the account a notification names.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The Lambda function: the account in its own ARN (the invocation context's
    /// `invoked_function_arn`); no AWS call.
    Function(&'a str),
    /// The CLI: `sts:GetCallerIdentity`, once per process and only when a notification names an
    /// account.
    Credentials,
}

/// The function's state, built once per process: AWS clients and configuration.
#[derive(Debug)]
pub struct Relinker {
    clients: Clients,
    config: Config,
    /// The credentials' account, once asked ([`Caller::Credentials`]).
    account: OnceCell<String>,
}

impl Relinker {
    /// Builds the relinker from clients and configuration created at start-up.
    pub fn new(clients: Clients, config: Config) -> Self {
        Relinker {
            clients,
            config,
            account: OnceCell::new(),
        }
    }

    /// The region and account this invocation acts on.
    async fn home(&self, caller: Caller<'_>, needs_account: bool) -> Home {
        let account = match caller {
            Caller::Function(arn) => account_of_arn(arn)
                .map(str::to_owned)
                .ok_or_else(|| format!("the function ARN {arn:?} names no account")),
            Caller::Credentials if needs_account => self
                .account
                .get_or_try_init(|| sts::caller_account(&self.clients.sts))
                .await
                .cloned()
                .map_err(|e| e.to_string()),
            Caller::Credentials => Err("not asked: no notification names an account".into()),
        };
        Home {
            region: self.clients.region.clone(),
            account,
        }
    }

    /// Handles one invocation payload. Every record is processed before the invocation is failed
    /// for any of them; a deployment named by several records is relinked once. A scheduled
    /// event runs the sweep, whose failures are reported and logged but never fail the
    /// invocation: a retry of the whole sweep would not help, and the dead-letter queue is kept
    /// for notifications worth replaying.
    pub async fn handle(&self, payload: &serde_json::Value, caller: Caller<'_>) -> Invocation {
        let event = match decode(payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(location = %error.location, reason = %error.reason, excerpt = %error.excerpt, "invalid event");
                return Invocation {
                    response: Response::default(),
                    error: Some(InvocationError::InvalidEvent(error)),
                };
            }
        };

        // Each distinct (deployment, names) is relinked once, at most MAX_CONCURRENT_CALLS at a
        // time (an SQS batch can hold thousands of records), alongside a sweep when asked for.
        let mut index: HashMap<&DeploymentRef, usize> = HashMap::new();
        let mut distinct: Vec<(&DeploymentRef, &str)> = Vec::new();
        let mut wants_sweep = false;
        for item in &event.items {
            match &item.notification {
                Ok(Notification::Deployment(deployment)) => {
                    index.entry(deployment).or_insert_with(|| {
                        distinct.push((deployment, &item.location));
                        distinct.len() - 1
                    });
                }
                Ok(Notification::Sweep) => wants_sweep = true,
                _ => {}
            }
        }
        let needs_account = distinct.iter().any(|(d, _)| d.account.is_some());
        let home = self.home(caller, needs_account).await;
        let relinks = relink(&self.clients, &self.config, &home, &distinct);
        let sweep = async {
            if wants_sweep {
                sweep(&self.clients, &self.config, SystemTime::now()).await
            } else {
                Vec::new()
            }
        };
        let (attempts, swept): (Vec<Attempt>, Vec<Attempt>) = tokio::join!(relinks, sweep);

        let dry_run = self.config.dry_run;
        let mut reports = Vec::with_capacity(event.items.len());
        let mut failures = Vec::new();
        let mut retryable = false;
        let mut item_failures = Vec::new();
        let mut failed_ids: HashSet<String> = HashSet::new();
        for item in &event.items {
            let outcomes: Vec<(Report, Option<String>)> = match &item.notification {
                Err(error) => vec![(
                    invalid_report(&item.location, error, dry_run),
                    Some(error.to_string()),
                )],
                Ok(Notification::Ignored(ignored)) => {
                    vec![(ignored_report(&item.location, ignored, dry_run), None)]
                }
                Ok(Notification::Deployment(deployment)) => index
                    .get(deployment)
                    .and_then(|i| attempts.get(*i))
                    .map(|attempt| {
                        let mut report = attempt.report.clone();
                        report.source = item.location.clone();
                        retryable |= attempt
                            .error
                            .as_ref()
                            .is_some_and(RelinkError::is_retryable);
                        (report, attempt.error.as_ref().map(ToString::to_string))
                    })
                    .into_iter()
                    .collect(),
                // Reported and logged (at error level), never failing the invocation.
                Ok(Notification::Sweep) => swept.iter().map(|a| (a.report.clone(), None)).collect(),
            };
            let quiet = matches!(item.notification, Ok(Notification::Sweep));
            for (report, failure) in outcomes {
                report.log(quiet);
                reports.push(report);
                if let Some(message) = failure {
                    match (&event.shape, &item.sqs_message_id) {
                        (EventShape::Sqs, Some(id)) => {
                            if failed_ids.insert(id.clone()) {
                                item_failures.push(ItemFailure {
                                    item_identifier: id.clone(),
                                })
                            }
                        }
                        _ => failures.push(format!("{}: {message}", item.location)),
                    }
                }
            }
        }

        let summary = wants_sweep.then(|| {
            let summary = SweepSummary::of(&reports);
            tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "sweep: {} deployment(s) seen, {} relinked, {} already linked, {} failed", summary.deployments_seen, summary.relinked, summary.already_linked, summary.failed);
            summary
        });
        let batch_item_failures = (event.shape == EventShape::Sqs).then_some(item_failures);
        let error = (!failures.is_empty()).then_some(InvocationError::RecordsFailed {
            total: reports.len(),
            failures,
            retryable,
        });
        Invocation {
            response: Response {
                reports,
                batch_item_failures,
                summary,
            },
            error,
        }
    }
}

fn ignored_report(location: &str, ignored: &Ignored, dry_run: bool) -> Report {
    let (deployment_id, skip) = match ignored {
        Ignored::TriggerTest { subject } => (
            None,
            Skip::new(
                SkipReason::TriggerTestMessage,
                format!(
                    "CodeDeploy's trigger set-up test message ({})",
                    subject.as_deref().unwrap_or("no subject")
                ),
            ),
        ),
        Ignored::InstanceNotification { deployment_id } => (
            deployment_id.clone(),
            Skip::new(
                SkipReason::InstanceNotification,
                "an instance-level notification; subscribe deployment-level events",
            ),
        ),
    };
    let subject = Subject {
        source: location.to_owned(),
        deployment_id,
        ..Subject::default()
    };
    Attempt::new(subject, Finding::ended(Ending::Skipped(skip)), 0, dry_run).report
}

fn invalid_report(location: &str, error: &InputError, dry_run: bool) -> Report {
    let subject = Subject {
        source: location.to_owned(),
        ..Subject::default()
    };
    let ending = Ending::Failed(RelinkError::InvalidMessage(error.clone()));
    Attempt::new(subject, Finding::ended(ending), 0, dry_run).report
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
