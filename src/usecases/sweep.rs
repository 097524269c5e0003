//! The level-triggered safety net: every deployment group that had a deployment of any creator
//! and any status running, or created within the look-back, reconciled with the same code as a notification, in
//! batches: its deployments' copies linked where the rule allows, the fleet CodeDeploy names
//! linked or repaired whatever its age, its copies that no longer serve retired. Whether a newer
//! deployment of the same deployment group has started, whether attaching displaces nobody and
//! whether the deployment group is at rest are read for each group just before its change, as
//! for a notification ([`crate::domain::live`], [`crate::domain::retire`]): a sweep over a large
//! account takes minutes, and its own listing would be stale by then.
//!
//! Rounds: `ListDeployments` (running statuses ∥ any status within the look-back, all pages);
//! `BatchGetDeployments` (25 per call); `BatchGetDeploymentGroups` of their deployment groups (100
//! per call, per application); then [`reconcile`]'s rounds. A quiet sweep (nothing running or
//! recent) makes two requests. A failed listing is a failed sweep, never an empty one.

use crate::aws::{codedeploy, Clients};
use crate::domain::config::Config;
use crate::domain::decision::{decide, ours};
use crate::domain::job::{Job, Subject};
use crate::domain::report::{Attempt, Outcome, Report};
use crate::usecases::relink::observe::observe_read;
use crate::usecases::relink::{reconcile, Key};
use aws_sdk_codedeploy::types::DeploymentStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;
use tracing::instrument;

/// The statuses of deployments that have not finished: their replacement groups may already
/// serve traffic.
pub const RUNNING: [DeploymentStatus; 5] = [
    DeploymentStatus::Created,
    DeploymentStatus::Queued,
    DeploymentStatus::InProgress,
    DeploymentStatus::Baking,
    DeploymentStatus::Ready,
];

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

/// The sweep's one sentence, the same in the function's log and in the CLI.
impl std::fmt::Display for SweepSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sweep: {} deployment(s) seen, {} relinked, {} already linked, {} planned, {} failed",
            self.deployments_seen, self.relinked, self.already_linked, self.planned, self.failed
        )?;
        if self.skipped.is_empty() {
            return write!(f, ", skipped: none");
        }
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        write!(f, ", skipped: {}", skipped.join(", "))
    }
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

/// Sweeps the region: links what running and recently succeeded deployments are missing, where
/// their groups are live. Returns one attempt per deployment seen; a failed listing is a single
/// failed attempt.
#[instrument(skip_all)]
pub async fn sweep(clients: &Clients, config: &Config, now: SystemTime) -> Vec<Attempt> {
    let since = now
        .checked_sub(config.sweep_lookback)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let cd = &clients.codedeploy;
    let listed = async {
        let (running, recent) = tokio::join!(
            codedeploy::list_deployments(cd, &RUNNING, None),
            // Any status: one relink does not know must be seen to keep its group from rest.
            codedeploy::list_deployments(cd, &[], Some(since)),
        );
        let mut ids = running?;
        ids.extend(
            recent?
                .into_iter()
                .filter(|id| !ids.contains(id))
                .collect::<Vec<_>>(),
        );
        Ok(ids)
    };
    // The listing's own job: its rounds are those of every deployment it finds.
    let mut listing = Job::new(Subject::source("sweep"));
    listing.round();
    let ids = match listed.await {
        Ok(ids) => ids,
        Err(error) => {
            listing.fail(error);
            return vec![listing.finish(config.dry_run)];
        }
    };
    if ids.is_empty() {
        return Vec::new();
    }
    listing.round();
    let deployments = match codedeploy::batch_get_deployments(cd, &ids).await {
        Ok(deployments) => deployments,
        Err(error) => {
            listing.fail(error);
            return vec![listing.finish(config.dry_run)];
        }
    };
    // Their deployment groups that relink reconciles: settings and the fleets CodeDeploy names.
    let mut keys: Vec<Key> = Vec::new();
    for facts in deployments.iter().filter(|d| ours(d, config)) {
        let key = (facts.application.clone(), facts.deployment_group.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if !keys.is_empty() {
        listing.round();
    }
    let observed = observe_read(clients, &keys, &deployments, listing.rounds()).await;
    let jobs = deployments
        .iter()
        .map(|facts| {
            let mut job = listing.found(Subject::of(
                "sweep",
                Some(&facts.deployment_id),
                &facts.application,
                &facts.deployment_group,
            ));
            job.decide(decide(facts, config));
            job
        })
        .collect();
    reconcile(clients, config, config.dry_run, jobs, observed)
        .await
        .finish(config.dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::{Skip, SkipReason};
    use crate::domain::job::{report_of, Ending};

    #[test]
    fn the_sweep_says_one_sentence_with_its_skips() {
        let mut summary = SweepSummary {
            deployments_seen: 4,
            relinked: 1,
            already_linked: 1,
            ..SweepSummary::default()
        };
        assert_eq!(
            summary.to_string(),
            "sweep: 4 deployment(s) seen, 1 relinked, 1 already linked, 0 planned, 0 failed, skipped: none"
        );
        summary.skipped.insert("in_place".into(), 2);
        assert!(summary.to_string().ends_with("skipped: in_place 2"));
    }

    #[test]
    fn summary_counts_by_outcome_and_reason() {
        let report = |outcome| {
            let mut r = report_of(Ending::AlreadyLinked, false);
            r.outcome = outcome;
            r
        };
        let skipped = |reason| report_of(Ending::Skipped(Skip::new(reason, "")), false);
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
