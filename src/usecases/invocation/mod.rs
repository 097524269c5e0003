//! One invocation's use case: a payload in ([`Relinker::invoke`]); one report per record (per
//! swept deployment for a scheduled event) and the records that failed out, answered as the
//! function's response or error ([`answer`]). The Lambda function, `relink replay` and
//! `relink dlq replay` all go through [`Relinker::invoke`].

mod answer;

pub use answer::{answer, decode, unwrap_destination_record, InvocationError, Response};

use crate::aws::{sts, Clients};
use crate::domain::config::Config;
use crate::domain::crosscheck::{account_of_arn, Home};
use crate::domain::decision::{Skip, SkipReason};
use crate::domain::error::{InputError, RelinkError};
use crate::domain::event::{DecodedEvent, DeploymentRef, EventShape, Ignored, Item, Notification};
use crate::domain::report::{Attempt, Ending, Finding, Report, Subject};
use crate::usecases::relink::relink;
use crate::usecases::sweep::{sweep, SweepSummary};
use std::collections::HashMap;
use std::time::SystemTime;
use tokio::sync::OnceCell;

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

/// What an invocation did.
#[derive(Debug, Clone)]
pub struct Outcome {
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

    /// One invocation from its payload to its answer: decoded ([`decode`]), handled
    /// ([`Relinker::handle`]) and answered ([`answer`]): the response, and the error that fails the
    /// invocation, if any.
    pub async fn invoke(
        &self,
        payload: &serde_json::Value,
        caller: Caller<'_>,
    ) -> (Response, Option<InvocationError>) {
        let outcome = match decode(payload) {
            Ok(event) => Ok(self.handle(&event, caller).await),
            Err(error) => Err(error),
        };
        answer(outcome)
    }

    /// Handles one decoded invocation ([`crate::domain::event::decode`]). Every record is processed
    /// before any is reported failed; a deployment named by several records is relinked once. A
    /// scheduled event runs the sweep.
    pub async fn handle(&self, event: &DecodedEvent, caller: Caller<'_>) -> Outcome {
        // Each distinct deployment reference once, in the order first named.
        let mut distinct: Vec<(&DeploymentRef, &str)> = Vec::new();
        let mut first: HashMap<&DeploymentRef, usize> = HashMap::new();
        for item in &event.items {
            if let Ok(Notification::Deployment(deployment)) = &item.notification {
                first.entry(deployment).or_insert_with(|| {
                    distinct.push((deployment, &item.location));
                    distinct.len() - 1
                });
            }
        }
        let wants_sweep = event
            .items
            .iter()
            .any(|item| matches!(item.notification, Ok(Notification::Sweep)));
        let needs_account = distinct.iter().any(|(d, _)| d.account.is_some());
        let home = self.home(caller, needs_account).await;
        let (relinked, swept) = tokio::join!(
            relink(&self.clients, &self.config, &home, &distinct),
            async {
                if wants_sweep {
                    sweep(&self.clients, &self.config, SystemTime::now()).await
                } else {
                    Vec::new()
                }
            }
        );

        let mut outcome = Outcome {
            shape: event.shape,
            reports: Vec::with_capacity(event.items.len()),
            failed: Vec::new(),
            summary: None,
        };
        for item in &event.items {
            match &item.notification {
                Ok(Notification::Sweep) => {
                    // Failures are reported and logged at error level, never failing the invocation.
                    outcome
                        .reports
                        .extend(swept.iter().map(|a| a.report.clone()));
                }
                Ok(Notification::Deployment(deployment)) => {
                    let attempt = first.get(deployment).and_then(|i| relinked.get(*i));
                    if let Some(attempt) = attempt {
                        let mut report = attempt.report.clone();
                        report.source = item.location.clone();
                        outcome.record(item, report, attempt.error.as_ref());
                    }
                }
                Ok(Notification::Ignored(ignored)) => {
                    let attempt = ignored_attempt(&item.location, ignored, self.config.dry_run);
                    outcome.record(item, attempt.report, None);
                }
                Err(error) => {
                    let attempt = invalid_attempt(&item.location, error, self.config.dry_run);
                    outcome.record(item, attempt.report, attempt.error.as_ref());
                }
            }
        }
        for report in &outcome.reports {
            report.log(wants_sweep);
        }
        if wants_sweep {
            let summary = SweepSummary::of(&outcome.reports);
            tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "{summary}");
            outcome.summary = Some(summary);
        }
        outcome
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
}

impl Outcome {
    fn record(&mut self, item: &Item, report: Report, error: Option<&RelinkError>) {
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

fn ignored_attempt(location: &str, ignored: &Ignored, dry_run: bool) -> Attempt {
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
        Ignored::InstanceNotification {
            deployment_id,
            instance_id,
            status,
        } => (
            deployment_id.clone(),
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
    let instance_id = match ignored {
        Ignored::InstanceNotification { instance_id, .. } => instance_id.clone(),
        Ignored::TriggerTest { .. } => None,
    };
    let subject = Subject {
        source: location.to_owned(),
        deployment_id,
        instance_id,
        ..Subject::default()
    };
    Attempt::new(subject, Finding::ended(Ending::Skipped(skip)), 0, dry_run)
}

fn invalid_attempt(location: &str, error: &InputError, dry_run: bool) -> Attempt {
    let subject = Subject {
        source: location.to_owned(),
        ..Subject::default()
    };
    let ending = Ending::Failed(RelinkError::InvalidMessage(error.clone()));
    Attempt::new(subject, Finding::ended(ending), 0, dry_run)
}
