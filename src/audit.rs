//! `relink audit`: every blue/green deployment group with a copied fleet in a region, the Auto
//! Scaling groups it points at and any in-progress replacement group whose traffic has shifted,
//! compared with the attachments its `loadBalancerInfo` asks for; `--fix` attaches what is missing
//! with the same code as the function.
//!
//! Requests: `ListApplications` (per 100 applications) ∥ `ListDeployments` (in progress); per
//! application `ListDeploymentGroups` and `BatchGetDeploymentGroups` (per 100 groups), at most 8
//! applications at a time, ∥ `BatchGetDeployments` (per 25); then `DescribeTargetGroups` (per 20
//! names) ∥ `DescribeAutoScalingGroups` (per 100 groups); with `--fix`, the attach calls.

use crate::aws::{codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::config::{AttachWhen, Config};
use crate::decision::{decide, decide_group, Decision, DeploymentGroupFacts, SkipReason};
use crate::error::AwsError;
use crate::event::DeploymentRef;
use crate::relink::{link, Job};
use crate::report::{Outcome, Report};
use aws_sdk_codedeploy::types::DeploymentStatus;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wildmatch::WildMatch;

/// Which applications and deployment groups to audit (`*` and `?` wildcards).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Application name pattern; none means every application.
    pub application: Option<String>,
    /// Deployment group name pattern; none means every group.
    pub deployment_group: Option<String>,
}

impl AuditFilter {
    fn allows_application(&self, application: &str) -> bool {
        self.application
            .as_deref()
            .is_none_or(|p| WildMatch::new(p).matches(application))
    }

    fn allows(&self, application: &str, deployment_group: &str) -> bool {
        self.allows_application(application)
            && self
                .deployment_group
                .as_deref()
                .is_none_or(|p| WildMatch::new(p).matches(deployment_group))
    }
}

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

/// Audits the region; with `fix` (and no dry run) attaches what is missing. `progress` is told
/// (applications done, applications in all) as the scan goes.
pub async fn audit(
    clients: &Clients,
    config: &Config,
    filter: &AuditFilter,
    fix: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<AuditReport, AwsError> {
    let cd = &clients.codedeploy;
    let (applications, running) = tokio::join!(
        codedeploy::list_applications(cd),
        codedeploy::list_deployments(cd, DeploymentStatus::InProgress, None),
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
        match decide_group(group, config) {
            Err(skip) => {
                *summary
                    .not_audited
                    .entry(skip.reason.code().to_owned())
                    .or_default() += 1
            }
            Ok(targets) => {
                for target in targets {
                    let mut report = Report::new("audit", None, dry_run);
                    report.application = Some(group.application.clone());
                    report.deployment_group = Some(group.deployment_group.clone());
                    roles.push(Role::Current);
                    jobs.push(Job { target, report });
                }
            }
        }
    }
    // Replacement groups already serving traffic, whatever RELINK_ATTACH_WHEN says.
    let shifted = Config {
        attach_when: AttachWhen::TrafficShifted,
        ..config.clone()
    };
    for facts in deployments {
        if !filter.allows(&facts.application, &facts.deployment_group) {
            continue;
        }
        let notified = DeploymentRef {
            deployment_id: facts.deployment_id.clone(),
            application: None,
            deployment_group: None,
            reported_status: None,
        };
        if let Decision::Relink(target) = decide(&facts, &notified, &shifted) {
            if jobs
                .iter()
                .any(|j| j.target.replacement_group == target.replacement_group)
            {
                continue;
            }
            let mut report = Report::new("audit", Some(facts.deployment_id.clone()), dry_run);
            report.application = Some(facts.application.clone());
            report.deployment_group = Some(facts.deployment_group.clone());
            roles.push(Role::Replacement);
            jobs.push(Job { target, report });
        }
    }

    let attempts = link(clients, dry_run, jobs).await;
    let rows: Vec<AuditRow> = attempts
        .into_iter()
        .zip(roles)
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
        }
        summary.warnings += r.warnings.len();
    }
    Ok(AuditReport { rows, summary })
}

/// A row from the report `link` produced. Pure.
pub fn row(role: Role, report: Report) -> AuditRow {
    let state = match report.outcome {
        Outcome::AlreadyLinked => State::Linked,
        Outcome::Planned => State::Drift,
        Outcome::Relinked => State::Fixed,
        Outcome::Skipped if report.reason == Some(SkipReason::ReplacementGroupGone) => State::Gone,
        Outcome::Skipped | Outcome::Failed => State::Failed,
    };
    let warnings = report
        .target_groups
        .extra
        .iter()
        .map(|arn| format!("target group {} is attached but not in the deployment group's load balancer info", short_name(arn)))
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

/// A target group's name from its ARN (`…:targetgroup/NAME/ID`); anything else as it is.
pub fn short_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Skip;

    #[test]
    fn rows_take_their_state_from_the_outcome() {
        let report = |outcome| {
            let mut r = Report::new("audit", None, true);
            r.outcome = outcome;
            r
        };
        assert_eq!(
            row(Role::Current, report(Outcome::AlreadyLinked)).state,
            State::Linked
        );
        assert_eq!(
            row(Role::Current, report(Outcome::Planned)).state,
            State::Drift
        );
        assert_eq!(
            row(Role::Current, report(Outcome::Relinked)).state,
            State::Fixed
        );
        assert_eq!(
            row(Role::Current, report(Outcome::Failed)).state,
            State::Failed
        );
        let gone = Report::new("audit", None, true).skipped(Skip {
            reason: SkipReason::ReplacementGroupGone,
            detail: String::new(),
        });
        assert_eq!(row(Role::Current, gone).state, State::Gone);
    }

    #[test]
    fn extra_attachments_are_warnings_naming_them() {
        let mut report = Report::new("audit", None, true);
        report.outcome = Outcome::AlreadyLinked;
        report.target_groups.extra =
            vec!["arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/legacy-tg/abc".into()];
        report.load_balancers.extra = vec!["old-clb".into()];
        let r = row(Role::Current, report);
        assert_eq!(r.warnings.len(), 2);
        assert!(r.warnings[0].contains("legacy-tg"), "{:?}", r.warnings);
        assert!(r.warnings[1].contains("old-clb"), "{:?}", r.warnings);
    }

    #[test]
    fn filter_patterns() {
        let filter = AuditFilter {
            application: Some("web*".into()),
            deployment_group: Some("*-bg".into()),
        };
        assert!(filter.allows("web2", "x-bg"));
        assert!(!filter.allows("api", "x-bg"));
        assert!(!filter.allows("web", "x-ip"));
        assert!(AuditFilter::default().allows("any", "thing"));
    }

    #[test]
    fn short_names() {
        assert_eq!(
            short_name("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg/0123"),
            "web-tg"
        );
        assert_eq!(short_name("web-clb"), "web-clb");
    }
}
