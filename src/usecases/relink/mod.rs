//! Relinking: the rounds of AWS calls around the pure decision, plan and live-fleet rule.
//!
//! Every job — a deployment a notification names, a deployment the sweep found, a group the audit
//! checks — goes through the same rounds:
//!
//! 1. the deployment: `GetDeployment` once per deployment an invocation names ([`relink`]); the
//!    sweep and the audit list and batch-read instead, then hand their jobs to [`link`];
//! 2. `DescribeTargetGroups` ∥ `DescribeAutoScalingGroups`, batched across all jobs: what should
//!    be attached and what is; a group that misses nothing ends here, already linked;
//! 3. for each group that misses something, just before its attach: `DescribeTargetHealth` ∥
//!    `DescribeInstanceHealth` for the load balancers to attach ∥ `ListDeployments` of its
//!    deployment group created since the group's own deployment; only when that lists others,
//!    `BatchGetDeployments` of them ∥ `DescribeAutoScalingGroups` of their copies (one round
//!    more): is the group the newest fleet, is CodeDeploy done routing traffic to it, and does
//!    attaching displace nobody ([`crate::domain::live`])? If not, it is left alone;
//! 4. only for the outage repair (a load balancer serves no instance at all):
//!    `GetDeploymentGroup`, unless the audit already read it: does CodeDeploy name the group as
//!    its deployment group's fleet?
//! 5. the attach calls: one group's calls one after another (Auto Scaling answers concurrent
//!    changes to one group with `ResourceContention`), different groups concurrently.
//!
//! So a relink that attaches takes 4 sequential rounds (one more when its deployment group has
//! newer deployments, one more for the outage repair), an already linked group 2, and a skip
//! decided from the deployment alone 1. Jobs for the same Auto Scaling
//! group (two records of one deployment, a deployment and its instances' successes) are one job:
//! the first leads, the others share its result, so two attaches to one group are never in flight
//! together. A failure that belongs to one group (its load balancer gone, a read throttled or
//! denied) fails that group's job alone. Each job is one record
//! ([`crate::domain::job::Job`]) that counts its rounds and becomes its report once, at the end.

mod group;

use crate::aws::{codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::domain::config::Config;
use crate::domain::crosscheck::{check_names, check_origin, Home};
use crate::domain::decision::{decide, Decision, DeploymentFacts, Skip, SkipReason};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::event::DeploymentRef;
use crate::domain::job::{Ending, Job, Step, Subject};
use crate::domain::report::Attempt;
use futures::StreamExt;
use group::{read_state, Flight};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use tracing::instrument;

/// Relinks the deployments notifications name, one job per notification, in order: the origin
/// check, then round 1 (`GetDeployment` once per deployment, at most [`MAX_CONCURRENT_CALLS`] at
/// a time) and the decision, then [`link`].
#[instrument(skip_all, fields(notifications = notified.len()))]
pub async fn relink(
    clients: &Clients,
    config: &Config,
    home: &Home,
    notified: &[(&DeploymentRef, &str)],
) -> Vec<Attempt> {
    let mut jobs: Vec<Job> = notified
        .iter()
        .map(|(n, source)| {
            let mut job = Job::new(Subject::notified(source, n));
            if let Err(error) = check_origin(n, home) {
                job.end(Ending::Failed(RelinkError::Foreign {
                    subject: job.subject.describe(),
                    error,
                }));
            }
            job
        })
        .collect();
    let mut ids: Vec<&str> = Vec::new();
    for ((n, _), job) in notified.iter().zip(&jobs) {
        if matches!(job.step, Step::Read) && !ids.contains(&n.deployment_id.as_str()) {
            ids.push(&n.deployment_id);
        }
    }
    let read: HashMap<&str, Result<Option<DeploymentFacts>, AwsError>> = futures::stream::iter(ids)
        .map(|id| async move {
            (
                id,
                codedeploy::get_deployment(&clients.codedeploy, id).await,
            )
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect()
        .await;
    for ((notified, _), job) in notified.iter().zip(&mut jobs) {
        if let (Step::Read, Some(read)) = (&job.step, read.get(notified.deployment_id.as_str())) {
            job.round();
            decide_notified(config, notified, job, read);
        }
    }
    link(clients, config.dry_run, jobs).await
}

/// The decision about one notification, from round 1's answer.
fn decide_notified(
    config: &Config,
    notified: &DeploymentRef,
    job: &mut Job,
    read: &Result<Option<DeploymentFacts>, AwsError>,
) {
    let facts = match read {
        Ok(Some(facts)) => facts,
        Ok(None) => {
            let skip = Skip::new(
                SkipReason::DeploymentNotFound,
                format!(
                    "GetDeployment does not know deployment {}",
                    notified.deployment_id
                ),
            );
            return job.decide(Decision::Skip(skip));
        }
        Err(error) => return job.fail(error.clone()),
    };
    job.subject.application = Some(facts.application.clone());
    job.subject.deployment_group = Some(facts.deployment_group.clone());
    let decision = match check_names(notified, facts) {
        Ok(()) => decide(facts, config),
        Err(skip) => Decision::Skip(skip),
    };
    job.decide(decision);
}

/// Rounds 2 to 5 for any number of jobs; returns one attempt per job, in order. Jobs that are
/// already decided pass through unchanged; jobs for a group another job already leads follow
/// it: they share its rounds and ending.
pub async fn link(clients: &Clients, dry_run: bool, mut jobs: Vec<Job>) -> Vec<Attempt> {
    let mut leaders: HashMap<String, usize> = HashMap::new();
    let follows: Vec<Option<usize>> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| match &job.step {
            Step::Link(target) => match leaders.entry(target.group.clone()) {
                Entry::Occupied(leader) => Some(*leader.get()),
                Entry::Vacant(slot) => {
                    slot.insert(i);
                    None
                }
            },
            Step::Read | Step::Ended(_) => None,
        })
        .collect();
    let targets: Vec<_> = jobs
        .iter()
        .zip(&follows)
        .filter_map(|(job, follows)| match (&job.step, follows) {
            (Step::Link(target), None) => Some(target),
            _ => None,
        })
        .collect();
    let names = distinct(targets.iter().flat_map(|t| &t.target_group_names));
    let groups = distinct(targets.iter().map(|t| &t.group));
    let state = read_state(clients, &names, &groups).await;

    futures::stream::iter(jobs.iter_mut().zip(&follows))
        .filter_map(|(job, follows)| async move {
            let leads = follows.is_none() && matches!(job.step, Step::Link(_));
            leads.then_some(job)
        })
        .map(|job| {
            let state = &state;
            async move { Flight::new(job).run(clients, dry_run, state).await }
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect::<()>()
        .await;
    for (i, leader) in follows.iter().enumerate() {
        if let Some(leader) = leader {
            let leader = jobs[*leader].clone();
            jobs[i].follow(&leader);
        }
    }
    jobs.into_iter().map(|job| job.finish(dry_run)).collect()
}

/// Each item once, in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(*i)).cloned().collect()
}
