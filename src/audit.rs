//! `relink audit`: every blue/green deployment group with a copied fleet in a region, the Auto
//! Scaling groups it points at and any running deployment's replacement group, compared with
//! the attachments its `loadBalancerInfo` asks for; `--fix` attaches what is missing with the
//! same code as the function, so only under the live-fleet rule ([`crate::live`]). While a newer
//! deployment runs (its termination wait too) the deployment group still names the previous
//! copy; that copy is reported `superseded` (from the audit's own listing of running
//! deployments) and left alone, while the running deployment's copy is fixed. An outage repair
//! (a load balancer that serves no instance at all, and the group CodeDeploy names as the fleet)
//! is counted apart.
//!
//! Requests: `ListApplications` (per 100 applications) ∥ `ListDeployments` (running); per
//! application `ListDeploymentGroups` and `BatchGetDeploymentGroups` (per 100 groups), at most 8
//! applications at a time, ∥ `BatchGetDeployments` (per 25); then [`link`]'s rounds:
//! `DescribeTargetGroups` (per 20 names) ∥ `DescribeAutoScalingGroups` (per 100 groups), for the
//! groups missing something `DescribeTargetHealth` ∥ `DescribeInstanceHealth` (per load
//! balancer), and with `--fix` the attach calls.

use crate::aws::{codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::config::{AllowList, AttachWhen, Config};
use crate::decision::{
    decide, decide_group, replacement_group_name, Decision, DeploymentFacts, DeploymentGroupFacts,
    Newer, SkipReason,
};
use crate::error::AwsError;
use crate::live::STARTED_STATUSES;
use crate::relink::{link, Job};
use crate::report::{Outcome, Report, Subject};
use crate::sweep::RUNNING;
use futures::{StreamExt, TryStreamExt};
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
        .map(|i| format!("{prefix}{}", crate::plan::short_name(i)))
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
    /// Warnings about attachments that will not be copied.
    pub warnings: usize,
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
    /// Whether something is still missing (or could not be checked).
    pub fn drift_remains(&self) -> bool {
        self.summary.drift > 0 || self.summary.failed > 0
    }
}

/// Audits the region (the deployment groups `filter` allows); with `fix` (and no dry run)
/// attaches what is missing to live groups. `progress` is told (applications done, applications
/// in all) as the scan goes.
pub async fn audit(
    clients: &Clients,
    config: &Config,
    filter: &AllowList,
    fix: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<AuditReport, AwsError> {
    let cd = &clients.codedeploy;
    let (applications, running) = tokio::join!(
        codedeploy::list_applications(cd),
        codedeploy::list_deployments(cd, &RUNNING, None),
    );
    let applications: Vec<String> = applications?
        .into_iter()
        .filter(|a| filter.allows_application(a))
        .collect();
    let running = running?;

    let total = applications.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    progress(0, total);
    let scan = futures::stream::iter(&applications)
        .map(|application| async {
            let names: Vec<String> = codedeploy::list_deployment_groups(cd, application)
                .await?
                .into_iter()
                .filter(|g| filter.allows(application, g))
                .collect();
            let groups = codedeploy::batch_get_deployment_groups(cd, application, &names).await?;
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            Ok::<_, AwsError>(groups)
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .try_collect::<Vec<Vec<DeploymentGroupFacts>>>();
    let (groups, deployments) = tokio::join!(scan, codedeploy::batch_get_deployments(cd, &running));
    let groups: Vec<DeploymentGroupFacts> = groups?.into_iter().flatten().collect();
    let deployments = deployments?;

    let dry_run = !fix || config.dry_run;
    let mut summary = AuditSummary {
        applications: total,
        deployment_groups: groups.len(),
        ..AuditSummary::default()
    };
    let mut roles = Vec::new();
    let mut jobs = Vec::new();
    for group in &groups {
        match decide_group(group, config, newer_than_fleet(group, &deployments)) {
            Err(skip) => {
                *summary
                    .not_audited
                    .entry(skip.reason.code().to_owned())
                    .or_default() += 1
            }
            Ok(targets) => {
                for target in targets {
                    let subject =
                        Subject::of("audit", None, &group.application, &group.deployment_group);
                    roles.push(Role::Current);
                    jobs.push(Job::decided(subject, 0, Decision::Relink(target)));
                }
            }
        }
    }
    // Running deployments' replacement groups, whatever RELINK_ATTACH_WHEN says: the live-fleet
    // check tells those already serving traffic.
    let running_mode = Config {
        attach_when: AttachWhen::TrafficShifted,
        ..config.clone()
    };
    for facts in &deployments {
        if !filter.allows(&facts.application, &facts.deployment_group) {
            continue;
        }
        let Decision::Relink(mut target) = decide(facts, &running_mode) else {
            continue;
        };
        // Only one deployment of a deployment group runs at a time: a running one is the newest.
        target.newer = Newer::Known(None);
        let listed = jobs.iter().any(
            |job| matches!(&job.step, crate::relink::Step::Link(t) if t.group == target.group),
        );
        if !listed {
            let subject = Subject::of(
                "audit",
                Some(&facts.deployment_id),
                &facts.application,
                &facts.deployment_group,
            );
            roles.push(Role::Replacement);
            jobs.push(Job::decided(subject, 0, Decision::Relink(target)));
        }
    }

    let attempts = link(clients, dry_run, jobs).await;
    let rows: Vec<AuditRow> = attempts
        .into_iter()
        .zip(roles)
        // A running deployment whose traffic has not moved yet has nothing to audit.
        .filter(|(attempt, _)| attempt.report.reason != Some(SkipReason::TrafficNotShifted))
        .map(|(attempt, role)| row(role, attempt.report))
        .collect();
    summary.auto_scaling_groups = rows.len();
    for r in &rows {
        match r.state {
            State::Linked => summary.linked += 1,
            State::Drift => summary.drift += 1,
            State::Fixed => summary.fixed += 1,
            State::Failed => summary.failed += 1,
            State::Gone => summary.gone += 1,
            State::NotLive => summary.not_live += 1,
            State::Superseded => summary.superseded += 1,
        }
        if r.report.outage_repair && matches!(r.state, State::Drift | State::Fixed) {
            summary.outage_repairs += 1;
        }
        summary.warnings += r.warnings.len();
    }
    Ok(AuditReport { rows, summary })
}

/// The running deployment of `group` that has started and whose copy the deployment group does
/// not name yet, if any: it supersedes the groups the deployment group names. Pure.
fn newer_than_fleet<'a>(
    group: &DeploymentGroupFacts,
    running: &'a [DeploymentFacts],
) -> Option<&'a str> {
    running
        .iter()
        .filter(|d| {
            d.application == group.application && d.deployment_group == group.deployment_group
        })
        .filter(|d| STARTED_STATUSES.contains(&d.status.as_str()))
        .find(|d| {
            let copy = replacement_group_name(&d.deployment_group, &d.deployment_id);
            !group.auto_scaling_groups.contains(&copy)
        })
        .map(|d| d.deployment_id.as_str())
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
        .map(|arn| format!("target group {} is attached but not in the deployment group's load balancer info", crate::plan::short_name(arn)))
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
    use crate::decision::Skip;
    use crate::plan::Plan;
    use crate::report::{Attempt, Ending, Finding};

    fn report(ending: Ending) -> Report {
        Attempt::new(Subject::default(), Finding::ended(ending), 2, true).report
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
        let finding = Finding {
            plan: Plan::new(
                &[],
                &["arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/legacy-tg/abc".into()],
                &[],
                &["old-clb".into()],
            ),
            ..Finding::ended(Ending::AlreadyLinked)
        };
        let report = Attempt::new(Subject::default(), finding, 2, true).report;
        let r = row(Role::Current, report);
        assert_eq!(r.warnings.len(), 2);
        assert!(r.warnings[0].contains("legacy-tg"), "{:?}", r.warnings);
        assert!(r.warnings[1].contains("old-clb"), "{:?}", r.warnings);
    }

    #[test]
    fn a_started_running_deployment_supersedes_the_named_fleet() {
        let group = DeploymentGroupFacts {
            application: "web".into(),
            deployment_group: "web-bg".into(),
            auto_scaling_groups: vec!["CodeDeploy_web-bg_d-1".into()],
            ..DeploymentGroupFacts::default()
        };
        let running = |id: &str, status: &str| DeploymentFacts {
            deployment_id: id.into(),
            application: "web".into(),
            deployment_group: "web-bg".into(),
            status: status.into(),
            ..DeploymentFacts::default()
        };
        assert_eq!(
            newer_than_fleet(&group, &[running("d-2", "InProgress")]),
            Some("d-2")
        );
        assert_eq!(newer_than_fleet(&group, &[running("d-2", "Queued")]), None);
        // The deployment group already names the running deployment's copy.
        assert_eq!(newer_than_fleet(&group, &[running("d-1", "Baking")]), None);
        let other = DeploymentFacts {
            deployment_group: "api-bg".into(),
            ..running("d-3", "InProgress")
        };
        assert_eq!(newer_than_fleet(&group, &[other]), None);
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
