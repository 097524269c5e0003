//! One invocation's use case: a payload in ([`Relinker::invoke`]); one report per record (per
//! swept deployment for a scheduled event) and the records that failed out, answered as the
//! function's response or error ([`answer()`]). The Lambda function, `relink replay` and
//! `relink dlq replay` all go through [`Relinker::invoke`].

mod answer;

pub use answer::{answer, decode, unwrap_destination_record, InvocationError, Response};

use crate::aws::Clients;
use crate::domain::config::Config;
use crate::domain::crosscheck::{account_of_arn, Home};
use crate::domain::decision::{Skip, SkipReason};
use crate::domain::error::RelinkError;
use crate::domain::event::{DecodedEvent, DeploymentRef, EventShape, Ignored, Item, Notification};
use crate::domain::job::{Ending, Job, Subject};
use crate::domain::report::{Attempt, Report};
use crate::usecases::relink::relink;
use crate::usecases::sweep::{sweep, SweepSummary};
use std::time::SystemTime;

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

/// What an invocation did: its reports and failed records, before they are answered.
#[derive(Debug, Clone)]
pub struct Handled {
    /// The event's outer shape (SQS events answer failed records one by one).
    pub shape: EventShape,
    /// One report per record; for a scheduled event, one per deployment the sweep saw.
    pub reports: Vec<Report>,
    /// The records that failed, in order. Swept deployments that failed are in `reports` only:
    /// a scheduled invocation never fails.
    pub failed: Vec<FailedRecord>,
    /// Scheduled events only: what the sweep saw and did.
    pub summary: Option<SweepSummary>,
}

/// A record that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecord {
    /// Where it is in the event, e.g. `Records[1]`.
    pub location: String,
    /// Its SQS message id, for SQS events.
    pub sqs_message_id: Option<String>,
    /// Why, naming the deployment, the call and the AWS error code.
    pub message: String,
    /// Whether a later retry may help (a throttle, a server error, a timeout).
    pub retryable: bool,
}

/// The function's state, built once per process: AWS clients and configuration.
#[derive(Debug)]
pub struct Relinker {
    clients: Clients,
    config: Config,
}

impl Relinker {
    /// Builds the relinker from clients and configuration created at start-up.
    pub fn new(clients: Clients, config: Config) -> Self {
        Relinker { clients, config }
    }

    /// One invocation from its payload to its answer: decoded ([`decode`]), handled
    /// ([`Relinker::handle`]) and answered ([`answer()`]): the response, and the error that fails the
    /// invocation, if any.
    pub async fn invoke(
        &self,
        payload: &serde_json::Value,
        caller: Caller<'_>,
    ) -> (Response, Option<InvocationError>) {
        let handled = match decode(payload) {
            // Boxed: the handling's state machine is deep (records, rounds, flights), and the
            // runtime's and the CLI's futures nest it in theirs; unboxed, rustc's layout query
            // overflowed its depth limit in a non-incremental build of the function.
            Ok(event) => Ok(Box::pin(self.handle(&event, caller)).await),
            Err(error) => Err(error),
        };
        answer(handled)
    }

    /// Handles one decoded invocation ([`crate::domain::event::decode`]). Every record is processed
    /// before any is reported failed; a deployment named by several records is read once, and a
    /// group linked once (the others follow it: [`crate::usecases::relink`]). A scheduled event
    /// runs the sweep.
    pub async fn handle(&self, event: &DecodedEvent, caller: Caller<'_>) -> Handled {
        let notified: Vec<(&DeploymentRef, &str)> = event
            .items
            .iter()
            .filter_map(|item| match &item.notification {
                Ok(Notification::Deployment(deployment)) => Some((deployment, &*item.location)),
                _ => None,
            })
            .collect();
        let wants_sweep = event
            .items
            .iter()
            .any(|item| matches!(item.notification, Ok(Notification::Sweep)));
        let needs_account = notified.iter().any(|(d, _)| d.account.is_some());
        let home = self.home(caller, needs_account).await;
        let (relinked, swept) = tokio::join!(
            relink(&self.clients, &self.config, &home, &notified),
            async {
                if wants_sweep {
                    sweep(&self.clients, &self.config, SystemTime::now()).await
                } else {
                    Vec::new()
                }
            }
        );

        let mut handled = Handled {
            shape: event.shape,
            reports: Vec::with_capacity(event.items.len()),
            failed: Vec::new(),
            summary: None,
        };
        // One attempt per deployment notification, in the event's order.
        let mut relinked = relinked.into_iter();
        for item in &event.items {
            let attempt = match &item.notification {
                Ok(Notification::Sweep) => {
                    // Failures are reported and logged at error level, never failing the
                    // invocation.
                    let reports = swept.iter().map(|a| a.report.clone());
                    handled.reports.extend(reports);
                    continue;
                }
                Ok(Notification::Deployment(_)) => match relinked.next() {
                    Some(attempt) => attempt,
                    None => continue,
                },
                Ok(Notification::Ignored(ignored)) => {
                    ignored_job(&item.location, ignored).finish(self.config.dry_run)
                }
                Err(error) => {
                    let mut job = Job::new(Subject::source(&item.location));
                    job.end(Ending::Failed(RelinkError::InvalidMessage(error.clone())));
                    job.finish(self.config.dry_run)
                }
            };
            handled.record(item, attempt);
        }
        for report in &handled.reports {
            report.log(wants_sweep);
        }
        if wants_sweep {
            let summary = SweepSummary::of(&handled.reports);
            tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "{summary}");
            handled.summary = Some(summary);
        }
        handled
    }

    /// The region and account this invocation acts on.
    async fn home(&self, caller: Caller<'_>, needs_account: bool) -> Home {
        let account = match caller {
            Caller::Function(arn) => account_of_arn(arn)
                .map(str::to_owned)
                .ok_or_else(|| format!("the function ARN {arn:?} names no account")),
            Caller::Credentials if needs_account => self
                .clients
                .caller_account()
                .await
                .map_err(|e| e.to_string()),
            Caller::Credentials => Err("not asked: no notification names an account".into()),
        };
        Home {
            region: self.clients.region.clone(),
            account,
        }
    }
}

impl Handled {
    fn record(&mut self, item: &Item, Attempt { report, error }: Attempt) {
        if let Some(error) = error {
            self.failed.push(FailedRecord {
                location: item.location.clone(),
                sqs_message_id: item.sqs_message_id.clone(),
                message: error.to_string(),
                retryable: error.is_retryable(),
            });
        }
        self.reports.push(report);
    }
}

/// The job of a notification the function reads and leaves alone, ended as skipped.
fn ignored_job(location: &str, ignored: &Ignored) -> Job {
    let (subject, skip) = match ignored {
        Ignored::TriggerTest { subject } => (
            Subject::source(location),
            Skip::new(
                SkipReason::TriggerTestMessage,
                format!(
                    "CodeDeploy's trigger set-up test message ({})",
                    subject.as_deref().unwrap_or("no subject")
                ),
            ),
        ),
        Ignored::InstanceNotification {
            deployment_id,
            instance_id,
            status,
        } => (
            Subject {
                deployment_id: deployment_id.clone(),
                instance_id: instance_id.clone(),
                ..Subject::source(location)
            },
            Skip::new(
                SkipReason::InstanceNotification,
                format!(
                    "instance {} is {}: only an instance's success can mean that traffic moved",
                    instance_id.as_deref().unwrap_or("(not named)"),
                    status.as_deref().unwrap_or("(no status)")
                ),
            ),
        ),
    };
    let mut job = Job::new(subject);
    job.end(Ending::Skipped(skip));
    job
}
