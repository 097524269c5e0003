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
//!    deployment group (unless a listing already told): is the group the newest copy, and does
//!    attaching displace nobody ([`crate::domain::live`])? If not, it is left alone;
//! 4. only for the outage repair (a load balancer serves no instance at all):
//!    `GetDeploymentGroup`, unless the audit already read it: does CodeDeploy name the group as
//!    its deployment group's fleet?
//! 5. the attach calls: one group's calls one after another (Auto Scaling answers concurrent
//!    changes to one group with `ResourceContention`), different groups concurrently.
//!
//! So a relink that attaches takes 4 sequential rounds (5 for the outage repair), an already
//! linked group 2, and a skip decided from the deployment alone 1. Jobs for the same Auto Scaling
//! group (two records of one deployment, a deployment and its instances' successes) are one job:
//! the first leads, the others share its result, so two attaches to one group are never in flight
//! together. A failure that belongs to one group (its load balancer gone, a read throttled or
//! denied) fails that group's job alone. Each job's report is built once, at the end
//! ([`Attempt::new`]).

mod group;

use crate::aws::{codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::domain::config::Config;
use crate::domain::crosscheck::{check_names, check_origin, Home};
use crate::domain::decision::{decide, Decision, DeploymentFacts, RelinkTarget, Skip, SkipReason};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::event::DeploymentRef;
use crate::domain::report::{Attempt, Ending, Finding, Subject};
use futures::StreamExt;
use group::{read_state, Flight};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use tracing::instrument;

/// One job for the rounds: what it is about, the rounds it took so far, and what comes next.
#[derive(Debug, Clone)]
pub struct Job {
    /// Source, deployment and deployment group.
    pub subject: Subject,
    /// Sequential rounds of AWS calls made for it before [`link`].
    pub rounds: u8,
    /// Link a group, or already decided.
    pub step: Step,
}

/// What a job needs from [`link`].
#[derive(Debug, Clone)]
pub enum Step {
    /// Link this group, if the live-fleet rule allows.
    Link(RelinkTarget),
    /// Decided before any group was looked at.
    Ended(Ending),
}

impl Job {
    /// A job whose deployment (or group) was decided: linked if `decision` says so.
    pub fn decided(subject: Subject, rounds: u8, decision: Decision) -> Self {
        let step = match decision {
            Decision::Relink(target) => Step::Link(target),
            Decision::Skip(skip) => Step::Ended(Ending::Skipped(skip)),
        };
        Job {
            subject,
            rounds,
            step,
        }
    }

    /// A job that failed before any group was looked at.
    pub fn failed(subject: Subject, rounds: u8, error: AwsError) -> Self {
        let error = RelinkError::Aws {
            subject: subject.describe(),
            error,
        };
        Job {
            subject,
            rounds,
            step: Step::Ended(Ending::Failed(error)),
        }
    }
}

/// Relinks the deployments notifications name, in order: the origin check, then round 1
/// (`GetDeployment` once per deployment, at most [`MAX_CONCURRENT_CALLS`] at a time) and the
/// decision, then [`link`].
#[instrument(skip_all, fields(deployments = notified.len()))]
pub async fn relink(
    clients: &Clients,
    config: &Config,
    home: &Home,
    notified: &[(&DeploymentRef, &str)],
) -> Vec<Attempt> {
    let origins: Vec<_> = notified
        .iter()
        .map(|(n, _)| check_origin(n, home))
        .collect();
    let mut ids: Vec<&str> = Vec::new();
    for ((n, _), origin) in notified.iter().zip(&origins) {
        if origin.is_ok() && !ids.contains(&n.deployment_id.as_str()) {
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
    let jobs = notified
        .iter()
        .zip(origins)
        .map(|((notified, source), origin)| {
            let subject = Subject::notified(source, notified);
            match origin {
                Err(error) => {
                    let error = RelinkError::Foreign {
                        subject: subject.describe(),
                        error,
                    };
                    Job {
                        subject,
                        rounds: 0,
                        step: Step::Ended(Ending::Failed(error)),
                    }
                }
                Ok(()) => match read.get(notified.deployment_id.as_str()) {
                    Some(read) => decide_notified(config, notified, subject, read),
                    // Every deployment whose origin checked out was read above.
                    None => unreachable_read(subject),
                },
            }
        })
        .collect();
    link(clients, config.dry_run, jobs).await
}

/// A notification whose deployment round 1 did not read: cannot happen (every deployment whose
/// origin checked out is read), and reported as a failure rather than a panic if it ever did.
fn unreachable_read(subject: Subject) -> Job {
    let error = AwsError {
        operation: "GetDeployment",
        resource: subject.describe(),
        code: "NotRead".into(),
        message: "round 1 did not read this deployment".into(),
        retryable: true,
    };
    Job::failed(subject, 1, error)
}

/// The decision about one notification, from round 1's answer.
fn decide_notified(
    config: &Config,
    notified: &DeploymentRef,
    mut subject: Subject,
    read: &Result<Option<DeploymentFacts>, AwsError>,
) -> Job {
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
            return Job::decided(subject, 1, Decision::Skip(skip));
        }
        Err(error) => return Job::failed(subject, 1, error.clone()),
    };
    subject.application = Some(facts.application.clone());
    subject.deployment_group = Some(facts.deployment_group.clone());
    let decision = match check_names(notified, facts) {
        Ok(()) => decide(facts, config),
        Err(skip) => Decision::Skip(skip),
    };
    Job::decided(subject, 1, decision)
}

/// Rounds 2 to 5 for any number of jobs; returns one attempt per job, in order. Jobs that are
/// already decided pass through unchanged; jobs for a group another job already leads share
/// its result.
pub async fn link(clients: &Clients, dry_run: bool, jobs: Vec<Job>) -> Vec<Attempt> {
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
            Step::Ended(_) => None,
        })
        .collect();
    let targets: Vec<&RelinkTarget> = jobs
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

    let (subjects, work): (Vec<Subject>, Vec<(u8, Option<Step>)>) = jobs
        .into_iter()
        .zip(&follows)
        .map(|(job, follows)| {
            let step = follows.is_none().then_some(job.step);
            (job.subject, (job.rounds, step))
        })
        .unzip();
    let done: Vec<Option<(Finding, u8)>> = futures::stream::iter(subjects.iter().zip(work))
        .map(|(subject, (rounds, step))| {
            let state = &state;
            async move {
                match step? {
                    Step::Ended(ending) => Some((Finding::ended(ending), rounds)),
                    Step::Link(target) => {
                        let mut flight = Flight::new(subject, rounds, &target);
                        let ending = flight.run(clients, dry_run, &target, state).await;
                        Some(flight.finish(ending))
                    }
                }
            }
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect()
        .await;
    subjects
        .into_iter()
        .enumerate()
        .map(|(i, subject)| {
            let (finding, rounds) = done[follows[i].unwrap_or(i)]
                .clone()
                .expect("a leading job has a result");
            Attempt::new(subject, finding, rounds, dry_run)
        })
        .collect()
}

/// Each item once, in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(*i)).cloned().collect()
}
