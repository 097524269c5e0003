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
mod tests {
    use super::*;
    use crate::domain::decision::SkipReason;

    fn job() -> Job {
        Job::new(Subject {
            source: "Records[0]".into(),
            deployment_id: Some("d-1".into()),
            ..Subject::default()
        })
    }

    #[test]
    fn a_skip_becomes_a_report_with_its_reason_and_rounds() {
        let mut job = job();
        job.round();
        job.decide(Decision::Skip(Skip::new(
            SkipReason::DeploymentFailed,
            "the deployment failed",
        )));
        let attempt = job.finish(false);
        assert!(attempt.error.is_none());
        let report = attempt.report;
        assert_eq!(report.outcome, Outcome::Skipped);
        assert_eq!(report.reason, Some(SkipReason::DeploymentFailed));
        assert_eq!(report.detail.as_deref(), Some("the deployment failed"));
        assert_eq!(report.aws_rounds, 1);
    }

    #[test]
    fn attachments_come_from_the_plan_and_what_was_attached() {
        let mut job = job();
        for _ in 0..4 {
            job.round();
        }
        job.group = Some("G".into());
        job.plan = Plan::new(
            &["arn:a".into(), "arn:b".into(), "arn:c".into()],
            &["arn:a".into(), "arn:x".into()],
            &["clb".into()],
            &[],
        );
        job.attached_target_groups = vec!["arn:b".into()];
        job.end(Ending::Relinked);
        let report = job.finish(false).report;
        assert_eq!(report.outcome, Outcome::Relinked);
        assert_eq!(report.aws_rounds, 4);
        assert_eq!(report.replacement_group.as_deref(), Some("G"));
        assert_eq!(report.target_groups.attached, vec!["arn:b".to_owned()]);
        assert_eq!(report.target_groups.missing, vec!["arn:c".to_owned()]);
        assert_eq!(
            report.target_groups.already_present,
            vec!["arn:a".to_owned()]
        );
        assert_eq!(report.target_groups.extra, vec!["arn:x".to_owned()]);
        assert_eq!(report.load_balancers.missing, vec!["clb".to_owned()]);
    }

    #[test]
    fn a_failure_carries_its_code_operation_and_subject() {
        let mut job = job();
        job.round();
        job.fail(AwsError {
            operation: "GetDeployment",
            resource: "d-1".into(),
            code: "ThrottlingException".into(),
            message: "slow down".into(),
            retryable: true,
        });
        let attempt = job.finish(true);
        let report = &attempt.report;
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(report.error_code.as_deref(), Some("ThrottlingException"));
        assert_eq!(report.error_operation.as_deref(), Some("GetDeployment"));
        assert!(report
            .detail
            .as_deref()
            .unwrap()
            .starts_with("deployment d-1: "));
        assert!(report.dry_run);
        assert!(attempt.error.unwrap().is_retryable());
    }

    #[test]
    fn a_job_found_by_a_listing_starts_from_its_rounds_and_a_follower_keeps_its_subject() {
        let mut listing = Job::new(Subject::source("sweep"));
        listing.round();
        listing.round();
        let mut leader = listing.found(Subject::of("sweep", Some("d-1"), "app", "dg"));
        assert_eq!(leader.rounds(), 2);
        leader.round();
        leader.group = Some("G".into());
        leader.end(Ending::AlreadyLinked);

        let mut follower = job();
        follower.subject.source = "Records[3]".into();
        follower.follow(&leader);
        let report = follower.finish(false).report;
        assert_eq!(report.source, "Records[3]");
        assert_eq!(report.deployment_id.as_deref(), Some("d-1"));
        assert_eq!(report.aws_rounds, 3);
        assert_eq!(report.outcome, Outcome::AlreadyLinked);
        assert_eq!(report.replacement_group.as_deref(), Some("G"));
    }

    #[test]
    fn a_job_that_never_ended_is_a_retryable_failure_not_a_panic() {
        let attempt = job().finish(false);
        assert_eq!(attempt.report.outcome, Outcome::Failed);
        assert_eq!(attempt.report.error_code.as_deref(), Some("Unfinished"));
        assert!(attempt.error.unwrap().is_retryable());
    }
}
