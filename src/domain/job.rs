//! One job's record, from what a notification, a listing or the audit names to its report: it
//! gains what each round finds, counts the rounds in one place ([`Job::round`]) and becomes its
//! report once ([`Job::finish`]). Plain data: the use case `relink` runs the rounds.

use crate::domain::decision::{Decision, RelinkTarget, Skip};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::event::DeploymentRef;
use crate::domain::plan::{Diff, Plan};
use crate::domain::report::{Attachments, Attempt, Outcome, Report};
use crate::domain::retire::Retirement;
use std::time::Duration;

/// What a job is about, known before any AWS call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// Where the notification was in the event (`Records[1]`, `event`), or `sweep`, `audit`.
    pub source: String,
    /// The deployment, when there is one.
    pub deployment_id: Option<String>,
    /// The application (from the API once read, else from the notification).
    pub application: Option<String>,
    /// The deployment group (from the API once read, else from the notification).
    pub deployment_group: Option<String>,
    /// The instance an instance-level notification is about.
    pub instance_id: Option<String>,
}

impl Subject {
    /// What a notification names, before the API is asked.
    pub fn notified(source: &str, notified: &DeploymentRef) -> Self {
        Subject {
            source: source.to_owned(),
            deployment_id: Some(notified.deployment_id.clone()),
            application: notified.application.clone(),
            deployment_group: notified.deployment_group.clone(),
            instance_id: notified.instance.as_ref().map(|i| i.instance_id.clone()),
        }
    }

    /// A deployment or deployment group as the API reports it.
    pub fn of(
        source: &str,
        deployment_id: Option<&str>,
        application: &str,
        deployment_group: &str,
    ) -> Self {
        Subject {
            source: source.to_owned(),
            deployment_id: deployment_id.map(str::to_owned),
            application: Some(application.to_owned()),
            deployment_group: Some(deployment_group.to_owned()),
            instance_id: None,
        }
    }

    /// Just a source: `sweep`, or a record that names no deployment.
    pub fn source(source: &str) -> Self {
        Subject {
            source: source.to_owned(),
            ..Subject::default()
        }
    }

    /// How errors name it: `deployment d-…`, in an audit `deployment group app/group`, else its
    /// source (`sweep`).
    pub fn describe(&self) -> String {
        match (
            &self.deployment_id,
            &self.application,
            &self.deployment_group,
        ) {
            (Some(id), _, _) => format!("deployment {id}"),
            (None, Some(application), Some(group)) => {
                format!("deployment group {application}/{group}")
            }
            _ => self.source.clone(),
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone)]
pub enum Step {
    /// Its deployment is still to be read and decided.
    Read,
    /// Decided: link this group, if the live-fleet rule allows.
    Link(RelinkTarget),
    /// Done.
    Ended(Ending),
}

/// How a job ended.
#[derive(Debug, Clone)]
pub enum Ending {
    /// What was missing was attached.
    Relinked,
    /// Nothing was missing.
    AlreadyLinked,
    /// Dry run: what is missing would have been attached.
    Planned,
    /// Left alone.
    Skipped(Skip),
    /// Could not be completed.
    Failed(RelinkError),
}

/// One job: its subject, where it stands, what the rounds found so far, and how many sequential
/// rounds of AWS calls it took.
#[derive(Debug, Clone)]
pub struct Job {
    /// What it is about.
    pub subject: Subject,
    /// Where it stands.
    pub step: Step,
    /// Sequential rounds of AWS calls made for it; only [`Job::round`] counts.
    rounds: u8,
    /// The Auto Scaling group, once one was chosen.
    pub group: Option<String>,
    /// Desired against current attachments (empty before the group is described).
    pub plan: Plan,
    /// Target group ARNs attached by this run.
    pub attached_target_groups: Vec<String>,
    /// Classic load balancer names attached by this run.
    pub attached_load_balancers: Vec<String>,
    /// From the deployment's success to this run's attach, when both are known.
    pub attach_delay: Option<Duration>,
    /// The outage repair's evidence, when the attach (or the plan) is one
    /// ([`crate::domain::live::repair`]).
    pub repair: Option<String>,
    /// What its deployment group's reconcile did with the copies that held its load balancers.
    pub retired: Vec<Retirement>,
}

impl Job {
    /// A job about `subject`, before any round: its deployment still to be read.
    pub fn new(subject: Subject) -> Self {
        Job {
            subject,
            step: Step::Read,
            rounds: 0,
            group: None,
            plan: Plan::default(),
            attached_target_groups: Vec::new(),
            attached_load_balancers: Vec::new(),
            attach_delay: None,
            repair: None,
            retired: Vec::new(),
        }
    }

    /// A job about `subject` that starts after `rounds` rounds made for it (its deployment
    /// group's observation).
    pub fn started(subject: Subject, rounds: u8) -> Self {
        Job {
            rounds,
            ..Job::new(subject)
        }
    }

    /// A job that this one's rounds found (a listing's deployments): it took the same rounds.
    pub fn found(&self, subject: Subject) -> Self {
        Job {
            rounds: self.rounds,
            ..Job::new(subject)
        }
    }

    /// Counts one more sequential round of AWS calls made for this job.
    pub fn round(&mut self) {
        self.rounds = self.rounds.saturating_add(1);
    }

    /// The sequential rounds of AWS calls made for it so far.
    pub fn rounds(&self) -> u8 {
        self.rounds
    }

    /// Counts at least `rounds` sequential rounds: work that ran beside its own (its deployment
    /// group's reconcile) and ended later.
    pub fn rounds_at_least(&mut self, rounds: u8) {
        self.rounds = self.rounds.max(rounds);
    }

    /// Whether it ended having changed something, or would have in a dry run, or failed: an
    /// ending its report must show.
    pub fn changed(&self) -> bool {
        matches!(
            self.step,
            Step::Ended(Ending::Relinked | Ending::Planned | Ending::Failed(_))
        )
    }

    /// Whether it failed.
    pub fn failed(&self) -> bool {
        matches!(self.step, Step::Ended(Ending::Failed(_)))
    }

    /// Its deployment group, `(application, deployment group)`, once known.
    pub fn key(&self) -> Option<(&str, &str)> {
        Some((
            self.subject.application.as_deref()?,
            self.subject.deployment_group.as_deref()?,
        ))
    }

    /// Takes the decision about its deployment (or group): link, or skip.
    pub fn decide(&mut self, decision: Decision) {
        self.step = match decision {
            Decision::Relink(target) => Step::Link(target),
            Decision::Skip(skip) => Step::Ended(Ending::Skipped(skip)),
        };
    }

    /// Ends it.
    pub fn end(&mut self, ending: Ending) {
        self.step = Step::Ended(ending);
    }

    /// The ending of a failed AWS call made for it, naming its subject.
    pub fn failure(&self, error: AwsError) -> Ending {
        Ending::Failed(RelinkError::Aws {
            subject: self.subject.describe(),
            error,
        })
    }

    /// Ends it with a failed AWS call.
    pub fn fail(&mut self, error: AwsError) {
        self.step = Step::Ended(self.failure(error));
    }

    /// Takes over what another job for the same group found and how it ended (two records of
    /// one deployment, a deployment and its instances' successes), keeping its own subject.
    pub fn follow(&mut self, leader: &Job) {
        *self = Job {
            subject: std::mem::take(&mut self.subject),
            ..leader.clone()
        };
    }

    /// The one place a report is built. A job that did not end (a bug, never expected) is
    /// reported as a retryable failure rather than a panic.
    pub fn finish(self, dry_run: bool) -> Attempt {
        let unfinished = |step| {
            Ending::Failed(RelinkError::Unfinished {
                subject: self.subject.describe(),
                step,
            })
        };
        let ending = match self.step {
            Step::Ended(ending) => ending,
            Step::Read => unfinished("to be read"),
            Step::Link(_) => unfinished("to be linked"),
        };
        let subject = self.subject;
        let mut report = Report {
            source: subject.source,
            deployment_id: subject.deployment_id,
            application: subject.application,
            deployment_group: subject.deployment_group,
            instance_id: subject.instance_id,
            replacement_group: self.group,
            outcome: Outcome::Skipped,
            reason: None,
            outage_repair: self.repair.is_some(),
            detail: self.repair,
            error_code: None,
            error_operation: None,
            target_groups: attachments(&self.plan.target_groups, self.attached_target_groups),
            load_balancers: attachments(&self.plan.load_balancers, self.attached_load_balancers),
            dry_run,
            aws_rounds: self.rounds,
            attach_delay_seconds: self.attach_delay.map(|d| d.as_secs()),
            retired: self.retired,
        };
        let mut error = None;
        report.outcome = match ending {
            Ending::Relinked => Outcome::Relinked,
            Ending::AlreadyLinked => Outcome::AlreadyLinked,
            Ending::Planned => Outcome::Planned,
            Ending::Skipped(skip) => {
                report.reason = Some(skip.reason);
                report.detail = Some(skip.detail);
                Outcome::Skipped
            }
            Ending::Failed(failure) => {
                report.error_code = Some(failure.code().to_owned());
                report.error_operation = failure.operation().map(str::to_owned);
                report.detail = Some(failure.to_string());
                error = Some(failure);
                Outcome::Failed
            }
        };
        Attempt { report, error }
    }
}

/// A report that ended as `ending` with a default subject: for the tests of what reads reports.
#[cfg(test)]
pub(crate) fn report_of(ending: Ending, dry_run: bool) -> Report {
    let mut job = Job::new(Subject::default());
    job.end(ending);
    job.finish(dry_run).report
}

/// One kind of attachment in the report: the plan's diff, less what this run attached.
fn attachments(diff: &Diff, attached: Vec<String>) -> Attachments {
    Attachments {
        missing: diff
            .missing
            .iter()
            .filter(|m| !attached.contains(m))
            .cloned()
            .collect(),
        already_present: diff.present.clone(),
        extra: diff.extra.clone(),
        attached,
    }
}

#[cfg(test)]
mod tests;
