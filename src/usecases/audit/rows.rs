//! The audit's rows: why a group is in the audit, how it stands, and the counts. Pure.

use crate::domain::decision::{Skip, SkipReason};
use crate::domain::error::RelinkError;
use crate::domain::job::{Ending, Job, Subject};
use crate::domain::report::{Outcome, Report};
use crate::domain::retire::{RetireOutcome, Retirement};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why an Auto Scaling group is in the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The deployment group points at it: it serves traffic between deployments.
    Current,
    /// An in-progress deployment's replacement group, already serving traffic.
    Replacement,
    /// Neither: a copy or a `KEEP_ALIVE` original that still holds an attachment of the
    /// deployment group; `--fix` retires a copy of the deployment group's under the rule
    /// ([`crate::domain::retire`]).
    Retired,
}

/// How an Auto Scaling group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Has every desired attachment.
    Linked,
    /// Misses some (see `missing`).
    Drift,
    /// Missed some and `--fix` attached them.
    Fixed,
    /// Could not be checked or fixed (see `detail`).
    Failed,
    /// The deployment group points at a group that does not exist.
    Gone,
    /// Misses some, but its load balancers do not serve it (retired by a newer deployment, or
    /// taken out): left alone, see `detail`.
    NotLive,
    /// Misses some, but a newer deployment of its deployment group has started: left alone.
    Superseded,
    /// A retired group that still holds an attachment of the deployment group and keeps it: a
    /// group a person made, or a copy the rule keeps for now (it serves, a deployment runs);
    /// every instance it launches is registered with production. See `detail`.
    RetiredAttached,
    /// A copy of the deployment group that holds its load balancers and serves nobody, at rest:
    /// `--fix` detaches them.
    Retirable,
    /// Was retirable, and `--fix` detached them.
    Retired,
}

impl State {
    /// The state's name in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Linked => "linked",
            State::Drift => "drift",
            State::Fixed => "fixed",
            State::Failed => "failed",
            State::Gone => "gone",
            State::NotLive => "not_live",
            State::Superseded => "superseded",
            State::RetiredAttached => "retired_attached",
            State::Retirable => "retirable",
            State::Retired => "retired",
        }
    }
}

/// One Auto Scaling group of one deployment group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Why the group is audited.
    pub role: Role,
    /// How it stands.
    pub state: State,
    /// Attachments it has that `loadBalancerInfo` does not list: CodeDeploy will not copy them to
    /// the next replacement group, and relink does not add them.
    pub warnings: Vec<String>,
    /// The same report the function produces (`replacement_group` is the audited group).
    pub report: Report,
}

impl AuditRow {
    /// What the group misses (`tg:NAME`, `clb:NAME`), then what `--fix` attached (`tg:+NAME`,
    /// `clb:+NAME`).
    pub fn missing(&self) -> Vec<String> {
        let r = &self.report;
        [
            named(&r.target_groups.missing, "tg:"),
            named(&r.load_balancers.missing, "clb:"),
            named(&r.target_groups.attached, "tg:+"),
            named(&r.load_balancers.attached, "clb:+"),
        ]
        .concat()
    }

    /// What a copy holds of the deployment group's load balancers (`tg:NAME`, `clb:NAME`), with
    /// the word for it: `holds` (kept), `detach` (retirable), `detached` (retired), `failed`.
    pub fn retirement(&self) -> Option<(&'static str, Vec<String>)> {
        let r = self.report.retired.first()?;
        let word = match r.outcome {
            RetireOutcome::Retired => "detached",
            RetireOutcome::Planned => "detach",
            RetireOutcome::Kept => "holds",
            RetireOutcome::Failed => "still holds",
        };
        Some((
            word,
            [
                named(&r.target_groups, "tg:"),
                named(&r.load_balancers, "clb:"),
            ]
            .concat(),
        ))
    }

    /// Attachments the group has that the deployment group does not list (`tg:NAME`, `clb:NAME`).
    pub fn extra(&self) -> Vec<String> {
        let r = &self.report;
        [
            named(&r.target_groups.extra, "tg:"),
            named(&r.load_balancers.extra, "clb:"),
        ]
        .concat()
    }
}

/// Target group ARNs or classic load balancer names as `PREFIXname`.
fn named(items: &[String], prefix: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| format!("{prefix}{}", crate::domain::plan::short_name(i)))
        .collect()
}

/// Counts over an audit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Applications scanned.
    pub applications: usize,
    /// Deployment groups scanned.
    pub deployment_groups: usize,
    /// Deployment groups not audited, by reason (in place, not a copied fleet, …).
    pub not_audited: BTreeMap<String, usize>,
    /// Auto Scaling groups audited.
    pub auto_scaling_groups: usize,
    /// … linked, with drift, fixed, failed, gone.
    pub linked: usize,
    /// Groups missing attachments.
    pub drift: usize,
    /// Groups fixed by `--fix`.
    pub fixed: usize,
    /// Groups that could not be checked or fixed.
    pub failed: usize,
    /// Groups that do not exist.
    pub gone: usize,
    /// Groups missing attachments that their load balancers do not serve: left alone.
    pub not_live: usize,
    /// Groups missing attachments whose deployment group a newer deployment is changing: left
    /// alone.
    #[serde(default)]
    pub superseded: usize,
    /// Of the drifting or fixed groups, those whose load balancers served no instance at all
    /// (an outage) while CodeDeploy names them as the fleet: the outage repair.
    #[serde(default)]
    pub outage_repairs: usize,
    /// Retired groups (superseded copies, `KEEP_ALIVE` originals) that still hold an attachment
    /// of their deployment group and keep it for now: warning rows.
    #[serde(default)]
    pub retired_attached: usize,
    /// Copies that `--fix` would retire: drift.
    #[serde(default)]
    pub retirable: usize,
    /// Copies `--fix` retired.
    #[serde(default)]
    pub retired: usize,
    /// Warnings about attachments that will not be copied.
    pub warnings: usize,
}

impl AuditSummary {
    /// Counts the rows by state (and the outage repairs among the drifting and fixed ones). Pure.
    pub fn count(&mut self, rows: &[AuditRow]) {
        self.auto_scaling_groups = rows.len();
        for r in rows {
            match r.state {
                State::Linked => self.linked += 1,
                State::Drift => self.drift += 1,
                State::Fixed => self.fixed += 1,
                State::Failed => self.failed += 1,
                State::Gone => self.gone += 1,
                State::NotLive => self.not_live += 1,
                State::Superseded => self.superseded += 1,
                State::RetiredAttached => self.retired_attached += 1,
                State::Retirable => self.retirable += 1,
                State::Retired => self.retired += 1,
            }
            if r.report.outage_repair && matches!(r.state, State::Drift | State::Fixed) {
                self.outage_repairs += 1;
            }
            self.warnings += r.warnings.len();
        }
    }
}

/// The audit's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// One row per audited Auto Scaling group.
    pub rows: Vec<AuditRow>,
    /// Counts.
    pub summary: AuditSummary,
}

impl AuditReport {
    /// Whether something is still missing, a copy still holds what it should not (or could not
    /// be checked).
    pub fn drift_remains(&self) -> bool {
        self.summary.drift > 0 || self.summary.failed > 0 || self.summary.retirable > 0
    }
}

/// The row of one copy's retirement (or of why it kept what it holds); `error`, the failure of a
/// retirement that failed. Pure.
pub fn retire_row(
    application: &str,
    deployment_group: &str,
    retirement: Retirement,
    error: Option<&RelinkError>,
) -> AuditRow {
    let state = match retirement.outcome {
        RetireOutcome::Retired => State::Retired,
        RetireOutcome::Planned => State::Retirable,
        RetireOutcome::Kept => State::RetiredAttached,
        RetireOutcome::Failed => State::Failed,
    };
    let mut job = Job::new(Subject::of("audit", None, application, deployment_group));
    job.group = Some(retirement.group.clone());
    job.end(match (retirement.outcome, error) {
        (RetireOutcome::Failed, Some(error)) => Ending::Failed(error.clone()),
        _ => Ending::Skipped(Skip::new(SkipReason::Superseded, retirement.to_string())),
    });
    job.retired = vec![retirement];
    AuditRow {
        role: Role::Retired,
        state,
        warnings: Vec::new(),
        report: job.finish(true).report,
    }
}

/// A row from the report `link` produced. Pure.
pub fn row(role: Role, report: Report) -> AuditRow {
    let state = match report.outcome {
        Outcome::AlreadyLinked => State::Linked,
        Outcome::Planned => State::Drift,
        Outcome::Relinked => State::Fixed,
        Outcome::Skipped if report.reason == Some(SkipReason::ReplacementGroupGone) => State::Gone,
        Outcome::Skipped if report.reason == Some(SkipReason::NotLive) => State::NotLive,
        Outcome::Skipped if report.reason == Some(SkipReason::Superseded) => State::Superseded,
        Outcome::Skipped | Outcome::Failed => State::Failed,
    };
    let warnings = report
        .target_groups
        .extra
        .iter()
        .map(|arn| format!("target group {} is attached but not in the deployment group's load balancer info", crate::domain::plan::short_name(arn)))
        .chain(report.load_balancers.extra.iter().map(|name| {
            format!("classic load balancer {name} is attached but not in the deployment group's load balancer info")
        }))
        .collect();
    AuditRow {
        role,
        state,
        warnings,
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::Skip;
    use crate::domain::job::{report_of, Ending, Job, Subject};
    use crate::domain::plan::Plan;

    fn report(ending: Ending) -> Report {
        report_of(ending, true)
    }

    #[test]
    fn rows_take_their_state_from_the_outcome() {
        let cases = [
            (Ending::AlreadyLinked, State::Linked),
            (Ending::Planned, State::Drift),
            (Ending::Relinked, State::Fixed),
            (
                Ending::Skipped(Skip::new(SkipReason::ReplacementGroupGone, "")),
                State::Gone,
            ),
            (
                Ending::Skipped(Skip::new(SkipReason::NotLive, "")),
                State::NotLive,
            ),
            (
                Ending::Skipped(Skip::new(SkipReason::Superseded, "")),
                State::Superseded,
            ),
        ];
        for (ending, state) in cases {
            assert_eq!(row(Role::Current, report(ending)).state, state);
        }
        let failed = report(Ending::AlreadyLinked);
        let failed = Report {
            outcome: Outcome::Failed,
            ..failed
        };
        assert_eq!(row(Role::Current, failed).state, State::Failed);
    }

    #[test]
    fn extra_attachments_are_warnings_naming_them() {
        let mut job = Job::new(Subject::default());
        job.plan = Plan::new(
            &[],
            &["arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/legacy-tg/abc".into()],
            &[],
            &["old-clb".into()],
        );
        job.end(Ending::AlreadyLinked);
        let report = job.finish(true).report;
        let r = row(Role::Current, report);
        assert_eq!(r.warnings.len(), 2);
        assert!(r.warnings[0].contains("legacy-tg"), "{:?}", r.warnings);
        assert!(r.warnings[1].contains("old-clb"), "{:?}", r.warnings);
    }

    #[test]
    fn not_live_groups_are_not_drift() {
        let report = AuditReport {
            rows: vec![],
            summary: AuditSummary {
                not_live: 2,
                linked: 1,
                ..AuditSummary::default()
            },
        };
        assert!(!report.drift_remains());
    }
}
