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
//!    attaching displace nobody ([`crate::live`])? If not, it is left alone;
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

use crate::aws::{autoscaling, codedeploy, elb, elbv2, Clients, MAX_CONCURRENT_CALLS};
use crate::config::Config;
use crate::crosscheck::{check_names, check_origin, Home};
use crate::decision::{
    decide, Decision, DeploymentFacts, Newer, RelinkTarget, Skip, SkipReason, Stage,
};
use crate::error::{AwsError, RelinkError};
use crate::event::DeploymentRef;
use crate::live::{assess, repair, Liveness, Registrations, STARTED_STATUSES};
use crate::plan::{plan_group, Plan, Unplannable};
use crate::report::{Attempt, Ending, Finding, Subject};
use aws_sdk_codedeploy::types::DeploymentStatus;
use futures::StreamExt;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::SystemTime;
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
                Ok(()) => {
                    decide_notified(config, notified, subject, &read[&*notified.deployment_id])
                }
            }
        })
        .collect();
    link(clients, config.dry_run, jobs).await
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

/// What round 2 read: target group ARNs by name and groups by name, with the names whose calls
/// failed.
struct State {
    resolved: elbv2::Resolved,
    described: autoscaling::Described,
}

/// Round 2: every name resolved and every group described, in batches, concurrently.
async fn read_state(clients: &Clients, names: &[String], groups: &[String]) -> State {
    if groups.is_empty() {
        return State {
            resolved: Default::default(),
            described: Default::default(),
        };
    }
    let resolve = async {
        if names.is_empty() {
            elbv2::Resolved::default()
        } else {
            elbv2::resolve_target_groups(&clients.elbv2, names).await
        }
    };
    let (resolved, described) = tokio::join!(
        resolve,
        autoscaling::describe_groups(&clients.autoscaling, groups)
    );
    State {
        resolved,
        described,
    }
}

/// One group's job from round 2 on: what its report will say, gathered round by round, and the
/// one counter of its rounds.
struct Flight<'a> {
    subject: &'a Subject,
    rounds: u8,
    finding: Finding,
}

impl<'a> Flight<'a> {
    fn new(subject: &'a Subject, rounds: u8, target: &RelinkTarget) -> Self {
        Flight {
            subject,
            rounds,
            finding: Finding {
                group: Some(target.group.clone()),
                ..Finding::ended(Ending::AlreadyLinked)
            },
        }
    }

    fn finish(mut self, ending: Ending) -> (Finding, u8) {
        self.finding.ending = ending;
        (self.finding, self.rounds)
    }

    fn failure(&self, error: AwsError) -> Ending {
        Ending::Failed(RelinkError::Aws {
            subject: self.subject.describe(),
            error,
        })
    }

    /// The deployment group, as `app/group`.
    fn deployment_group(&self) -> (&'a str, &'a str) {
        (
            self.subject.application.as_deref().unwrap_or_default(),
            self.subject.deployment_group.as_deref().unwrap_or_default(),
        )
    }

    /// Rounds 2 to 5 for one group.
    async fn run(
        &mut self,
        clients: &Clients,
        dry_run: bool,
        target: &RelinkTarget,
        state: &State,
    ) -> Ending {
        self.rounds += 1;
        let plan = match self.plan(target, state) {
            Ok(plan) => plan,
            Err(ending) => return ending,
        };
        self.finding.plan = plan.clone();
        if plan.is_complete() {
            return Ending::AlreadyLinked;
        }
        let instances = state
            .described
            .groups
            .get(&target.group)
            .map(|g| g.instances.clone())
            .unwrap_or_default();

        // Round 3: the evidence, read now, within seconds of the attach.
        self.rounds += 1;
        let (traffic, newer) = tokio::join!(
            read_traffic(clients, &plan),
            self.newer_deployment(clients, target)
        );
        match newer {
            Err(error) => return self.failure(error),
            Ok(Some(newer)) => {
                let (application, group) = self.deployment_group();
                return Ending::Skipped(Skip::new(
                    SkipReason::Superseded,
                    format!(
                        "a newer deployment of {application}/{group}, {newer}, has started: {} is not its newest copy",
                        target.group
                    ),
                ));
            }
            Ok(None) => {}
        }
        let registrations = match traffic {
            Ok(registrations) => registrations,
            Err(error) => return self.failure(error),
        };
        let idle = match assess(&target.group, &instances, &plan, &registrations) {
            Liveness::Live => None,
            Liveness::NotLive(evidence) => return not_live(target.stage, evidence),
            Liveness::Idle(idle) => Some(idle),
        };
        if let Some(idle) = idle {
            match self.repair(clients, target, &idle).await {
                Ok(evidence) => self.finding.repair = Some(evidence),
                Err(ending) => return ending,
            }
        }
        if dry_run {
            return Ending::Planned;
        }

        self.rounds += 1;
        let (attached, failures) = attach(clients, &target.group, &plan).await;
        self.finding.attached_target_groups = attached.target_groups;
        self.finding.attached_load_balancers = attached.load_balancers;
        if !failures.is_empty() {
            return Ending::Failed(RelinkError::Attach {
                subject: self.subject.describe(),
                group: target.group.clone(),
                failures,
            });
        }
        if let Stage::Settled { since: Some(since) } = target.stage {
            self.finding.attach_delay = SystemTime::now().duration_since(since).ok();
        }
        Ending::Relinked
    }

    /// Compares the group's desired attachments with its own, from round 2. Pure.
    fn plan(&self, target: &RelinkTarget, state: &State) -> Result<Plan, Ending> {
        let failed = target
            .target_group_names
            .iter()
            .find_map(|name| state.resolved.failed.get(name))
            .or_else(|| state.described.failed.get(&target.group));
        if let Some(error) = failed {
            return Err(self.failure(error.clone()));
        }
        let group = state.described.groups.get(&target.group);
        plan_group(target, &state.resolved.arns, group).map_err(|unplannable| match unplannable {
            // A running deployment's copy may not be there yet.
            Unplannable::Gone(detail) if target.stage == Stage::Running => {
                Ending::Skipped(Skip::new(SkipReason::TrafficNotShifted, detail))
            }
            Unplannable::Gone(detail) => {
                Ending::Skipped(Skip::new(SkipReason::ReplacementGroupGone, detail))
            }
            Unplannable::TargetGroupsNotFound(names) => {
                let (application, deployment_group) = self.deployment_group();
                Ending::Failed(RelinkError::TargetGroupsNotFound {
                    subject: self.subject.describe(),
                    application: application.to_owned(),
                    deployment_group: deployment_group.to_owned(),
                    names,
                })
            }
        })
    }

    /// Round 3, beside the traffic: the newest started deployment of the group's deployment
    /// group that is newer than the group's own, if any.
    async fn newer_deployment(
        &self,
        clients: &Clients,
        target: &RelinkTarget,
    ) -> Result<Option<String>, AwsError> {
        let (deployment_id, since) = match &target.newer {
            Newer::Known(newer) => return Ok(newer.clone()),
            Newer::Ask {
                deployment_id,
                since,
            } => (deployment_id, *since),
        };
        let (application, group) = self.deployment_group();
        let started = STARTED_STATUSES.map(DeploymentStatus::from);
        let ids = codedeploy::list_group_deployments(
            &clients.codedeploy,
            application,
            group,
            &started,
            since,
        )
        .await?;
        Ok(ids.into_iter().find(|id| id != deployment_id))
    }

    /// Round 4, only when some load balancer to attach (`idle`) serves no instance at all: the
    /// outage repair, if CodeDeploy names the group as its deployment group's fleet.
    async fn repair(
        &mut self,
        clients: &Clients,
        target: &RelinkTarget,
        idle: &[String],
    ) -> Result<String, Ending> {
        let settled = matches!(target.stage, Stage::Settled { .. });
        let (application, group) = self.deployment_group();
        let name = format!("{application}/{group}");
        let fleet = match (&target.fleet, settled) {
            (Some(fleet), _) => fleet.clone(),
            // Not needed to say no.
            (None, false) => Vec::new(),
            (None, true) => {
                let read =
                    codedeploy::deployment_group_fleet(&clients.codedeploy, application, group)
                        .await;
                self.rounds += 1;
                read.map_err(|error| self.failure(error))?
            }
        };
        repair(&target.group, idle, settled, &name, &fleet)
            .map_err(|evidence| not_live(target.stage, evidence))
    }
}

/// The skip for a group the rule keeps out: traffic has not moved to a running deployment's copy
/// yet, or a settled group is not the live fleet.
fn not_live(stage: Stage, evidence: String) -> Ending {
    let reason = match stage {
        Stage::Running => SkipReason::TrafficNotShifted,
        Stage::Settled { .. } => SkipReason::NotLive,
    };
    Ending::Skipped(Skip::new(reason, evidence))
}

/// Round 3 for one group: where each load balancer it misses sends traffic now.
async fn read_traffic(clients: &Clients, plan: &Plan) -> Result<Registrations, AwsError> {
    let target_groups = &plan.target_groups.missing;
    let load_balancers = &plan.load_balancers.missing;
    let (target_groups, load_balancers) = tokio::join!(
        async {
            if target_groups.is_empty() {
                Ok(HashMap::new())
            } else {
                elbv2::traffic(&clients.elbv2, target_groups).await
            }
        },
        async {
            if load_balancers.is_empty() {
                Ok(HashMap::new())
            } else {
                elb::traffic(&clients.elb, load_balancers).await
            }
        },
    );
    Ok(Registrations {
        target_groups: target_groups?,
        load_balancers: load_balancers?,
    })
}

/// What the attach round attached.
#[derive(Default)]
struct Attached {
    target_groups: Vec<String>,
    load_balancers: Vec<String>,
}

/// The attach round for one group: each batch of target groups, then each batch of classic load
/// balancers, one call after another. A failed call does not stop the others; the report says
/// what was attached and what is still missing.
async fn attach(clients: &Clients, group: &str, plan: &Plan) -> (Attached, Vec<AwsError>) {
    let client = &clients.autoscaling;
    let mut attached = Attached::default();
    let mut failures = Vec::new();
    for batch in plan.target_groups.batches() {
        match autoscaling::attach_target_groups(client, group, batch).await {
            Ok(()) => attached.target_groups.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    for batch in plan.load_balancers.batches() {
        match autoscaling::attach_load_balancers(client, group, batch).await {
            Ok(()) => attached.load_balancers.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    (attached, failures)
}

/// Each item once, in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(*i)).cloned().collect()
}
