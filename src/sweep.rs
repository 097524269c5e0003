//! The level-triggered safety net: every in-progress deployment and every deployment that
//! succeeded within the look-back, checked with the same decision and linked with the same code as
//! a notification, in batches.
//!
//! Rounds: `ListDeployments` (in progress ∥ recently succeeded, all pages); `BatchGetDeployments`
//! (25 per call); then [`link`]'s `DescribeTargetGroups` ∥ `DescribeAutoScalingGroups` and the
//! attach calls. A quiet sweep (nothing running or recent) makes two requests.

use crate::aws::{codedeploy, Clients};
use crate::config::Config;
use crate::decision::{decide, Decision};
use crate::error::{AwsError, RelinkError};
use crate::event::DeploymentRef;
use crate::relink::{link, Attempt, Job};
use crate::report::{Outcome, Report};
use aws_sdk_codedeploy::types::DeploymentStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;
use tracing::instrument;

/// What one sweep saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// Deployments read (in progress, or succeeded within the look-back).
    pub deployments_seen: usize,
    /// Replacement groups that were missing attachments and got them.
    pub relinked: usize,
    /// Replacement groups that had everything.
    pub already_linked: usize,
    /// Dry run: replacement groups that would have been relinked.
    pub planned: usize,
    /// Deployments left alone, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Deployments that could not be relinked.
    pub failed: usize,
}

impl SweepSummary {
    /// Counts reports by outcome. Pure.
    pub fn of(reports: &[Report]) -> Self {
        let mut summary = SweepSummary {
            deployments_seen: reports.len(),
            ..SweepSummary::default()
        };
        for report in reports {
            match report.outcome {
                Outcome::Relinked => summary.relinked += 1,
                Outcome::AlreadyLinked => summary.already_linked += 1,
                Outcome::Planned => summary.planned += 1,
                Outcome::Failed => summary.failed += 1,
                Outcome::Skipped => {
                    let reason = report.reason.map_or("unknown", |r| r.code());
                    *summary.skipped.entry(reason.to_owned()).or_default() += 1;
                }
            }
        }
        summary
    }
}

/// Sweeps the region: relinks what in-progress (traffic shifted) and recently succeeded
/// deployments are missing. Returns one attempt per deployment seen; a failed listing is a single
/// failed attempt.
#[instrument(skip_all)]
pub async fn sweep(clients: &Clients, config: &Config, now: SystemTime) -> Vec<Attempt> {
    let since = now
        .checked_sub(config.sweep_lookback)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let cd = &clients.codedeploy;
    let (running, recent) = tokio::join!(
        codedeploy::list_deployments(cd, DeploymentStatus::InProgress, None),
        codedeploy::list_deployments(cd, DeploymentStatus::Succeeded, Some(since)),
    );
    let mut ids = match running {
        Ok(ids) => ids,
        Err(error) => return listing_failed(config, error),
    };
    match recent {
        Ok(recent) => ids.extend(
            recent
                .into_iter()
                .filter(|id| !ids.contains(id))
                .collect::<Vec<_>>(),
        ),
        Err(error) => return listing_failed(config, error),
    }
    if ids.is_empty() {
        return Vec::new();
    }

    let deployments = match codedeploy::batch_get_deployments(cd, &ids).await {
        Ok(deployments) => deployments,
        Err(error) => return listing_failed(config, error),
    };
    let mut done = Vec::new();
    let mut jobs = Vec::new();
    for facts in deployments {
        let mut report = Report::new("sweep", Some(facts.deployment_id.clone()), config.dry_run);
        report.application = Some(facts.application.clone());
        report.deployment_group = Some(facts.deployment_group.clone());
        report.aws_rounds = 2;
        let notified = DeploymentRef {
            deployment_id: facts.deployment_id.clone(),
            application: None,
            deployment_group: None,
            reported_status: None,
        };
        match decide(&facts, &notified, config) {
            Decision::Skip(skip) => done.push(Attempt {
                report: report.skipped(skip),
                error: None,
            }),
            Decision::Relink(target) => jobs.push(Job { target, report }),
        }
    }
    done.extend(link(clients, config.dry_run, jobs).await);
    done
}

fn listing_failed(config: &Config, error: AwsError) -> Vec<Attempt> {
    let error = RelinkError::Aws {
        subject: "sweep".into(),
        error,
    };
    let report = Report::new("sweep", None, config.dry_run).failed(error.code(), error.to_string());
    vec![Attempt {
        report,
        error: Some(error),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Skip, SkipReason};

    #[test]
    fn summary_counts_by_outcome_and_reason() {
        let report = |outcome| {
            let mut r = Report::new("sweep", Some("d-1".into()), false);
            r.outcome = outcome;
            r
        };
        let skipped = |reason| {
            Report::new("sweep", None, false).skipped(Skip {
                reason,
                detail: String::new(),
            })
        };
        let summary = SweepSummary::of(&[
            report(Outcome::Relinked),
            report(Outcome::AlreadyLinked),
            report(Outcome::AlreadyLinked),
            report(Outcome::Failed),
            skipped(SkipReason::InPlace),
            skipped(SkipReason::InPlace),
            skipped(SkipReason::TrafficNotShifted),
        ]);
        assert_eq!(summary.deployments_seen, 7);
        assert_eq!(
            (
                summary.relinked,
                summary.already_linked,
                summary.failed,
                summary.planned
            ),
            (1, 2, 1, 0)
        );
        assert_eq!(summary.skipped["in_place"], 2);
        assert_eq!(summary.skipped["traffic_not_shifted"], 1);
    }
}
