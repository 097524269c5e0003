//! Relinking: the rounds of AWS calls around the pure decision, plan and live-fleet check.
//!
//! Every job — a deployment a notification names, a deployment the sweep found, a group the audit
//! checks — goes through the same rounds, each batched across all jobs of the invocation:
//!
//! 1. the deployment: `GetDeployment` per notification ([`relink`]); the sweep and the audit list
//!    and batch-read instead, then hand their jobs to [`link`];
//! 2. `DescribeTargetGroups` ∥ `DescribeAutoScalingGroups`: what should be attached and what is;
//!    a group that misses nothing ends here, already linked;
//! 3. `DescribeTargetHealth` ∥ `DescribeInstanceHealth` for the load balancers to attach: is the
//!    group the live fleet ([`crate::live`])? If not, it is left alone;
//! 4. the attach calls: one group's calls one after another (Auto Scaling answers concurrent
//!    changes to one group with `ResourceContention`), different groups concurrently.
//!
//! So a relink that attaches takes 4 sequential rounds, an already linked group 2, and a skip
//! decided from the deployment alone 1. Each job's report is built once, at the end
//! ([`Attempt::new`]).

use crate::aws::{autoscaling, codedeploy, elb, elbv2, Clients, MAX_CONCURRENT_CALLS};
use crate::config::Config;
use crate::crosscheck::{check_names, check_origin, Home};
use crate::decision::{decide, Decision, RelinkTarget, Skip, SkipReason, Stage};
use crate::error::{AwsError, RelinkError};
use crate::event::DeploymentRef;
use crate::live::{assess, Liveness, Registrations};
use crate::plan::{plan_group, GroupState, Plan, Unplannable};
use crate::report::{Attempt, Ending, Finding, Subject};
use futures::StreamExt;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
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
    /// Link this group, if it is live.
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
/// (`GetDeployment`, at most [`MAX_CONCURRENT_CALLS`] at a time) and the decision, then [`link`].
#[instrument(skip_all, fields(deployments = notified.len()))]
pub async fn relink(
    clients: &Clients,
    config: &Config,
    home: &Home,
    notified: &[(&DeploymentRef, &str)],
) -> Vec<Attempt> {
    let jobs = futures::stream::iter(notified)
        .map(|(notified, source)| read_deployment(clients, config, home, notified, source))
        .buffered(MAX_CONCURRENT_CALLS)
        .collect::<Vec<Job>>()
        .await;
    link(clients, config.dry_run, jobs).await
}

/// Round 1 for one notification.
#[instrument(skip_all, fields(deployment_id = %notified.deployment_id))]
async fn read_deployment(
    clients: &Clients,
    config: &Config,
    home: &Home,
    notified: &DeploymentRef,
    source: &str,
) -> Job {
    let mut subject = Subject::notified(source, notified);
    if let Err(error) = check_origin(notified, home) {
        let error = RelinkError::Foreign {
            subject: subject.describe(),
            error,
        };
        return Job {
            subject,
            rounds: 0,
            step: Step::Ended(Ending::Failed(error)),
        };
    }
    let id = &notified.deployment_id;
    let facts = match codedeploy::get_deployment(&clients.codedeploy, id).await {
        Ok(Some(facts)) => facts,
        Ok(None) => {
            let skip = Skip::new(
                SkipReason::DeploymentNotFound,
                format!("GetDeployment does not know deployment {id}"),
            );
            return Job::decided(subject, 1, Decision::Skip(skip));
        }
        Err(error) => return Job::failed(subject, 1, error),
    };
    subject.application = Some(facts.application.clone());
    subject.deployment_group = Some(facts.deployment_group.clone());
    let decision = match check_names(notified, &facts) {
        Ok(()) => decide(&facts, config),
        Err(skip) => Decision::Skip(skip),
    };
    Job::decided(subject, 1, decision)
}

/// Rounds 2 to 4 for any number of jobs; returns one attempt per job, in order. Jobs that are
/// already decided pass through unchanged.
pub async fn link(clients: &Clients, dry_run: bool, jobs: Vec<Job>) -> Vec<Attempt> {
    let targets: Vec<&RelinkTarget> = jobs
        .iter()
        .filter_map(|job| match &job.step {
            Step::Link(target) => Some(target),
            Step::Ended(_) => None,
        })
        .collect();
    let names = distinct(targets.iter().flat_map(|t| &t.target_group_names));
    let groups = distinct(targets.iter().map(|t| &t.group));
    let state = read_state(clients, &names, &groups).await;

    let planned: Vec<InFlight> = jobs.into_iter().map(|job| plan(job, &state)).collect();
    let (target_groups, load_balancers) = to_check(&planned);
    let registrations = read_registrations(clients, &target_groups, &load_balancers).await;

    futures::stream::iter(planned)
        .map(|job| finish(clients, dry_run, job, &registrations))
        .buffered(MAX_CONCURRENT_CALLS)
        .collect()
        .await
}

/// A job between the rounds of [`link`]: its record so far, and what comes next.
struct InFlight {
    record: Record,
    next: Next,
}

/// What a job's report will say, gathered round by round.
struct Record {
    subject: Subject,
    rounds: u8,
    group: Option<String>,
    /// The group's instances, once described.
    instances: Vec<String>,
    plan: Plan,
    /// From the deployment's success to the attach, when both are known.
    attach_delay: Option<Duration>,
}

enum Next {
    /// Missing something: check the load balancers, then attach.
    Check(Stage),
    /// Ended.
    Done(Ending),
}

impl Record {
    fn end(self, ending: Ending, attached: Attached, dry_run: bool) -> Attempt {
        let finding = Finding {
            group: self.group,
            plan: self.plan,
            attached_target_groups: attached.target_groups,
            attached_load_balancers: attached.load_balancers,
            attach_delay: self.attach_delay,
            ending,
        };
        Attempt::new(self.subject, finding, self.rounds, dry_run)
    }

    fn aws_failure(&self, error: AwsError) -> Ending {
        Ending::Failed(RelinkError::Aws {
            subject: self.subject.describe(),
            error,
        })
    }
}

/// What round 4 attached.
#[derive(Default)]
struct Attached {
    target_groups: Vec<String>,
    load_balancers: Vec<String>,
}

/// What round 2 read: target group ARNs by name and groups by name.
type State = Result<(HashMap<String, String>, HashMap<String, GroupState>), AwsError>;

/// Round 2: every name resolved and every group described, in batches, concurrently.
async fn read_state(clients: &Clients, names: &[String], groups: &[String]) -> State {
    if groups.is_empty() {
        return Ok(Default::default());
    }
    let resolve = async {
        if names.is_empty() {
            Ok(elbv2::Resolved::default())
        } else {
            elbv2::resolve_target_groups(&clients.elbv2, names).await
        }
    };
    let (resolved, described) = tokio::join!(
        resolve,
        autoscaling::describe_groups(&clients.autoscaling, groups)
    );
    Ok((resolved?.arns, described?))
}

/// Compares one job's desired attachments with its group's. Pure.
fn plan(job: Job, state: &State) -> InFlight {
    let target = match job.step {
        Step::Link(target) => target,
        Step::Ended(ending) => {
            let record = Record {
                subject: job.subject,
                rounds: job.rounds,
                group: None,
                instances: Vec::new(),
                plan: Plan::default(),
                attach_delay: None,
            };
            return InFlight {
                record,
                next: Next::Done(ending),
            };
        }
    };
    let mut record = Record {
        subject: job.subject,
        rounds: job.rounds + 1,
        group: Some(target.group.clone()),
        instances: Vec::new(),
        plan: Plan::default(),
        attach_delay: None,
    };
    let next = match state {
        Err(error) => Next::Done(record.aws_failure(error.clone())),
        Ok((arns, groups)) => match plan_group(&target, arns, groups.get(&target.group)) {
            Ok(plan) if !plan.is_complete() => {
                record.plan = plan;
                record.instances = groups
                    .get(&target.group)
                    .map(|g| g.instances.clone())
                    .unwrap_or_default();
                Next::Check(target.stage)
            }
            Ok(plan) => {
                record.plan = plan;
                Next::Done(Ending::AlreadyLinked)
            }
            // A running deployment's copy may not be there yet.
            Err(Unplannable::Gone(detail)) if target.stage == Stage::Running => Next::Done(
                Ending::Skipped(Skip::new(SkipReason::TrafficNotShifted, detail)),
            ),
            Err(Unplannable::Gone(detail)) => Next::Done(Ending::Skipped(Skip::new(
                SkipReason::ReplacementGroupGone,
                detail,
            ))),
            Err(Unplannable::TargetGroupsNotFound(names)) => {
                Next::Done(Ending::Failed(RelinkError::TargetGroupsNotFound {
                    subject: record.subject.describe(),
                    application: record.subject.application.clone().unwrap_or_default(),
                    deployment_group: record.subject.deployment_group.clone().unwrap_or_default(),
                    names,
                }))
            }
        },
    };
    InFlight { record, next }
}

/// The load balancers whose registrations round 3 must read.
fn to_check(jobs: &[InFlight]) -> (Vec<String>, Vec<String>) {
    let checking = || jobs.iter().filter(|j| matches!(j.next, Next::Check(_)));
    (
        distinct(checking().flat_map(|j| &j.record.plan.target_groups.missing)),
        distinct(checking().flat_map(|j| &j.record.plan.load_balancers.missing)),
    )
}

/// Round 3: which instances each load balancer to attach serves now.
async fn read_registrations(
    clients: &Clients,
    target_groups: &[String],
    load_balancers: &[String],
) -> Result<Registrations, AwsError> {
    if target_groups.is_empty() && load_balancers.is_empty() {
        return Ok(Registrations::default());
    }
    let (target_groups, load_balancers) = tokio::join!(
        elbv2::serving_instances(&clients.elbv2, target_groups),
        elb::serving_instances(&clients.elb, load_balancers),
    );
    Ok(Registrations {
        target_groups: target_groups?,
        load_balancers: load_balancers?,
    })
}

/// The live-fleet check and round 4 for one job.
async fn finish(
    clients: &Clients,
    dry_run: bool,
    job: InFlight,
    registrations: &Result<Registrations, AwsError>,
) -> Attempt {
    let InFlight { mut record, next } = job;
    let stage = match next {
        Next::Done(ending) => return record.end(ending, Attached::default(), dry_run),
        Next::Check(stage) => stage,
    };
    record.rounds += 1;
    let group = record.group.clone().unwrap_or_default();
    let registrations = match registrations {
        Ok(registrations) => registrations,
        Err(error) => {
            let ending = record.aws_failure(error.clone());
            return record.end(ending, Attached::default(), dry_run);
        }
    };
    if let Liveness::NotLive(evidence) =
        assess(&group, &record.instances, &record.plan, registrations)
    {
        let reason = match stage {
            Stage::Running => SkipReason::TrafficNotShifted,
            Stage::Settled { .. } => SkipReason::NotLive,
        };
        let ending = Ending::Skipped(Skip::new(reason, evidence));
        return record.end(ending, Attached::default(), dry_run);
    }
    if dry_run {
        return record.end(Ending::Planned, Attached::default(), dry_run);
    }
    record.rounds += 1;
    let (attached, failures) = attach(clients, &group, &record.plan).await;
    let ending = if failures.is_empty() {
        if let Stage::Settled { since: Some(since) } = stage {
            record.attach_delay = SystemTime::now().duration_since(since).ok();
        }
        Ending::Relinked
    } else {
        Ending::Failed(RelinkError::Attach {
            subject: record.subject.describe(),
            group,
            failures,
        })
    };
    record.end(ending, attached, dry_run)
}

/// Round 4 for one group: each batch of target groups, then each batch of classic load
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
