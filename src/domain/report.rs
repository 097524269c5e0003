//! The record of what the function did with one notification (or, in an audit, one group):
//! built once, from the job's record, by [`crate::domain::job::Job::finish`].

use crate::domain::error::RelinkError;
use crate::domain::retire::{RetireOutcome, Retirement};
use crate::domain::skip::SkipReason;
use serde::{Deserialize, Serialize};

/// The result of one notification or group: always a report, and the error when it failed.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// What was done.
    pub report: Report,
    /// Why it failed, when `report.outcome` is [`Outcome::Failed`].
    pub error: Option<RelinkError>,
}

/// How a notification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Missing attachments were attached.
    Relinked,
    /// Nothing was missing; no mutating call was made.
    AlreadyLinked,
    /// Dry run: the report lists what would be attached; nothing was changed.
    Planned,
    /// Left alone for the reason given.
    Skipped,
    /// Could not be completed; the invocation fails so that Lambda retries it.
    Failed,
}

impl Outcome {
    /// The outcome's name, as it appears in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Relinked => "relinked",
            Outcome::AlreadyLinked => "already_linked",
            Outcome::Planned => "planned",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// How one kind of attachment (target groups or classic load balancers) ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachments {
    /// Attached by this invocation.
    pub attached: Vec<String>,
    /// Missing and not attached: in a dry run, or because the attach call failed.
    pub missing: Vec<String>,
    /// Desired and already attached before this invocation.
    pub already_present: Vec<String>,
    /// Attached to the group but not listed by the deployment group; left alone.
    pub extra: Vec<String>,
}

impl Attachments {
    /// Whether it lists nothing at all.
    pub fn is_empty(&self) -> bool {
        self.attached.is_empty()
            && self.missing.is_empty()
            && self.already_present.is_empty()
            && self.extra.is_empty()
    }
}

/// One structured outcome per notification: returned as the invocation's response and logged as
/// one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Where the notification was in the event, e.g. `Records[1]`.
    pub source: String,
    /// The deployment id, when the notification named one.
    pub deployment_id: Option<String>,
    /// The application (from the API once read, else from the notification).
    pub application: Option<String>,
    /// The deployment group (from the API once read, else from the notification).
    pub deployment_group: Option<String>,
    /// The instance an instance-level notification is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The replacement Auto Scaling group.
    pub replacement_group: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it was skipped.
    pub reason: Option<SkipReason>,
    /// Whether the attach (or, in a dry run, the plan) is the outage repair: the load balancers
    /// served no instance at all and CodeDeploy names the group as the deployment group's fleet.
    #[serde(default)]
    pub outage_repair: bool,
    /// A sentence for people: the skip's explanation, the error, or the outage repair's evidence.
    pub detail: Option<String>,
    /// The AWS error code of a failure.
    pub error_code: Option<String>,
    /// The AWS operation that failed, when a call is behind the failure (`GetDeployment`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_operation: Option<String>,
    /// Target group ARNs.
    pub target_groups: Attachments,
    /// Classic load balancer names.
    pub load_balancers: Attachments,
    /// Whether the function ran in dry-run mode.
    pub dry_run: bool,
    /// Sequential rounds of AWS calls made for this notification.
    pub aws_rounds: u8,
    /// Seconds from the deployment's success to this attach (relinks of succeeded deployments):
    /// at least how long the group ran without its load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_delay_seconds: Option<u64>,
    /// The deployment group's copies that held some of its load balancers: retired (detached),
    /// planned (dry run), kept (and why) or failed, each with its evidence
    /// ([`crate::domain::retire`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<Retirement>,
}

impl Report {
    /// Writes the report as one structured log line: failures at error level, the rest at info;
    /// `quiet` (the sweep) logs what changed nothing at debug level, so that a sweep every few
    /// minutes does not repeat itself.
    pub fn log(&self, quiet: bool) {
        self.log_outcome(quiet);
        for retirement in &self.retired {
            self.log_retirement(retirement, quiet);
        }
    }

    /// Whether it changed something, would in a dry run, or failed: what the sweep shows.
    pub fn changed(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Relinked | Outcome::Planned | Outcome::Failed
        ) || self
            .retired
            .iter()
            .any(|r| r.outcome != RetireOutcome::Kept)
    }

    /// One line per copy the deployment group's reconcile looked at: retired, planned and failed
    /// at info (failed at error), kept at info too unless `quiet`.
    fn log_retirement(&self, retirement: &Retirement, quiet: bool) {
        let list = |items: &[String]| (!items.is_empty()).then(|| items.join(","));
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(
                    source = %self.source,
                    deployment_id = self.deployment_id.as_deref(),
                    application = self.application.as_deref(),
                    deployment_group = self.deployment_group.as_deref(),
                    retired_group = %retirement.group,
                    retire_outcome = retirement.outcome.as_str(),
                    retire_reason = retirement.reason.map(|r| r.code()),
                    target_groups = list(&retirement.target_groups).as_deref(),
                    load_balancers = list(&retirement.load_balancers).as_deref(),
                    detail = %retirement.detail,
                    dry_run = self.dry_run,
                    "{retirement}"
                )
            };
        }
        match retirement.outcome {
            RetireOutcome::Failed => emit!(error),
            RetireOutcome::Kept if quiet => emit!(debug),
            _ => emit!(info),
        }
    }

    fn log_outcome(&self, quiet: bool) {
        // Each field of the report is a field of the line; lists are comma-separated, and what a
        // report does not have is left out.
        let list = |items: &[String]| (!items.is_empty()).then(|| items.join(","));
        let (tg, lb) = (&self.target_groups, &self.load_balancers);
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(
                    source = %self.source,
                    deployment_id = self.deployment_id.as_deref(),
                    application = self.application.as_deref(),
                    deployment_group = self.deployment_group.as_deref(),
                    instance_id = self.instance_id.as_deref(),
                    replacement_group = self.replacement_group.as_deref(),
                    outcome = self.outcome.as_str(),
                    reason = self.reason.map(SkipReason::code),
                    outage_repair = self.outage_repair,
                    detail = self.detail.as_deref(),
                    error_code = self.error_code.as_deref(),
                    target_groups_attached = list(&tg.attached).as_deref(),
                    target_groups_missing = list(&tg.missing).as_deref(),
                    target_groups_already_present = list(&tg.already_present).as_deref(),
                    target_groups_extra = list(&tg.extra).as_deref(),
                    load_balancers_attached = list(&lb.attached).as_deref(),
                    load_balancers_missing = list(&lb.missing).as_deref(),
                    load_balancers_already_present = list(&lb.already_present).as_deref(),
                    load_balancers_extra = list(&lb.extra).as_deref(),
                    dry_run = self.dry_run,
                    aws_rounds = self.aws_rounds,
                    attach_delay_seconds = self.attach_delay_seconds,
                    "{self}"
                )
            };
        }
        match self.outcome {
            Outcome::Failed => emit!(error),
            Outcome::Skipped | Outcome::AlreadyLinked if quiet => emit!(debug),
            _ => emit!(info),
        }
    }
}

/// One sentence for people: what happened (the log line's message, the CLI's summary).
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |a: &Attachments| (a.attached.len(), a.missing.len());
        let (tg_done, tg_missing) = count(&self.target_groups);
        let (lb_done, lb_missing) = count(&self.load_balancers);
        let repair = match (&self.detail, self.outage_repair) {
            (Some(detail), true) => format!(" (outage repair: {detail})"),
            _ => String::new(),
        };
        match self.outcome {
            Outcome::Relinked => write!(
                f,
                "attached {tg_done} target group(s) and {lb_done} classic load balancer(s){repair}"
            ),
            Outcome::AlreadyLinked => f.write_str("nothing missing; no change made"),
            Outcome::Planned => write!(
                f,
                "dry run: would attach {tg_missing} target group(s) and {lb_missing} classic load balancer(s){repair}"
            ),
            Outcome::Skipped | Outcome::Failed => {
                f.write_str(self.detail.as_deref().unwrap_or_default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::{Ending, Job, Subject};
    use crate::domain::skip::Skip;

    #[test]
    fn serialises_with_snake_case_codes() {
        let mut job = Job::new(Subject {
            source: "Records[0]".into(),
            deployment_id: Some("d-1".into()),
            ..Subject::default()
        });
        job.end(Ending::Skipped(Skip::new(
            SkipReason::DeploymentFailed,
            "the deployment failed",
        )));
        let report = job.finish(false).report;
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["outcome"], "skipped");
        assert_eq!(json["reason"], "deployment_failed");
        assert_eq!(json["deployment_id"], "d-1");
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }
}
