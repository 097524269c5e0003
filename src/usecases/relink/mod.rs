//! Reconciling deployment groups: the rounds of AWS calls around the pure decision, plan,
//! live-fleet rule ([`crate::domain::live`]) and retire rule ([`crate::domain::retire`]).
//!
//! A notification is a hint: it names a deployment, and through it a deployment group, and
//! relink reconciles that deployment group as AWS reports it now — it links its newest fleet
//! (the copy of the notified deployment, or the fleet CodeDeploy names) and takes its load
//! balancers back from its copies that no longer serve. The sweep and `relink audit --fix` hand
//! their deployment groups to the same [`reconcile`]. Every job — a deployment a notification
//! names, a deployment the sweep found, a group the audit checks, a deployment group's named
//! fleet — goes through the same rounds:
//!
//! 1. the deployment: `GetDeployment` once per deployment an invocation names ([`relink`]),
//!    beside it `GetDeploymentGroup` ∥ `ListDeployments` (its look-back) of each deployment group
//!    a deployment-level notification names ([`observe()`]); a deployment group only the API
//!    names (an instance-level SNS message names none) is observed in one round more. The sweep
//!    and the audit list and batch-read instead;
//! 2. `DescribeTargetGroups` ∥ `DescribeAutoScalingGroups` (the groups to link and every copy of
//!    the deployment groups' deployments) ∥ `BatchGetDeployments` (the deployments listed),
//!    batched across all jobs: what should be attached, what is, and which copies hold the
//!    deployment groups' load balancers; a group that misses nothing ends here, already linked;
//! 3. for each group that misses something, just before its attach: `DescribeTargetHealth` ∥
//!    `DescribeInstanceHealth` for the load balancers to attach ∥ `ListDeployments` of its
//!    deployment group created since the group's own deployment; only when that lists others,
//!    `BatchGetDeployments` of them ∥ `DescribeAutoScalingGroups` of their copies (one round
//!    more): is the group the newest fleet, is CodeDeploy done routing traffic to it, and does
//!    attaching displace nobody? If not, it is left alone. Beside it, for each deployment group
//!    at rest with a copy to retire, the retire evidence (`retire.rs`, [`crate::domain::retire`]);
//! 4. only for the outage repair (a load balancer serves no instance at all):
//!    `GetDeploymentGroup`, unless already read: does CodeDeploy name the group as its
//!    deployment group's fleet?
//! 5. the attach and detach calls: one group's calls one after another (Auto Scaling answers
//!    concurrent changes to one group with `ResourceContention`), different groups concurrently.
//!
//! So a relink that attaches takes 4 sequential rounds (one more when its deployment group has
//! newer deployments, one more for the outage repair), an already linked group 2, a skip decided
//! from the deployment alone 1. Jobs for the same Auto Scaling group (two records of one
//! deployment, a deployment and its instances' successes) are one job: the first leads, the
//! others share its result, so two attaches to one group are never in flight together; and no
//! group is linked and retired by one reconcile. A failure that belongs to one group (its load
//! balancer gone, a read throttled or denied) fails that group's job alone. Each job is one record
//! ([`crate::domain::job::Job`]) that counts its rounds and becomes its report once, at the end.

mod group;
pub mod observe;
mod retire;
mod state;

pub use observe::{Key, Observed};
pub use retire::Retired;

use crate::aws::{codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::domain::config::Config;
use crate::domain::crosscheck::{check_names, check_origin, Home};
use crate::domain::decision::{
    decide, decide_group, ours, Decision, DeploymentFacts, Skip, SkipReason,
};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::event::DeploymentRef;
use crate::domain::job::{Ending, Job, Step, Subject};
use crate::domain::report::Attempt;
use futures::StreamExt;
use group::Flight;
use observe::observe;
use retire::{predecessors, retire, Options, Seen};
use state::read_state;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;
use tracing::instrument;

/// Reconciles the deployment groups of the deployments notifications name, one job per
/// notification, in order: the origin check, then round 1 (`GetDeployment` once per deployment,
/// at most [`MAX_CONCURRENT_CALLS`] at a time, beside the observation of the deployment groups the
/// messages name) and the decision, then [`reconcile`].
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
    let mut named: Vec<Key> = Vec::new();
    for ((n, _), job) in notified.iter().zip(&jobs) {
        if !matches!(job.step, Step::Read) {
            continue;
        }
        if !ids.contains(&n.deployment_id.as_str()) {
            ids.push(&n.deployment_id);
        }
        // Only deployment-level messages: they are few, and the instance-level ones of other
        // kinds of deployment (in-place, with the EventBridge rule) many.
        if let (None, Some(a), Some(g)) = (&n.instance, &n.application, &n.deployment_group) {
            let key = (a.clone(), g.clone());
            if !named.contains(&key) {
                named.push(key);
            }
        }
    }
    let since = lookback_start(config);
    let (read, observed) = tokio::join!(
        futures::stream::iter(ids)
            .map(|id| async move {
                (
                    id,
                    codedeploy::get_deployment(&clients.codedeploy, id).await,
                )
            })
            .buffered(MAX_CONCURRENT_CALLS)
            .collect::<HashMap<&str, Result<Option<DeploymentFacts>, AwsError>>>(),
        observe(clients, &named, since, 1),
    );
    let mut known: HashMap<Key, Vec<DeploymentFacts>> = HashMap::new();
    let mut deployment_level: HashSet<Key> = HashSet::new();
    for ((notified, _), job) in notified.iter().zip(&mut jobs) {
        if let (Step::Read, Some(read)) = (&job.step, read.get(notified.deployment_id.as_str())) {
            job.round();
            if let Some(facts) = decide_notified(config, notified, job, read) {
                let key = (facts.application.clone(), facts.deployment_group.clone());
                if notified.instance.is_none() {
                    deployment_level.insert(key.clone());
                }
                known.entry(key).or_default().push(facts.clone());
            }
        }
    }
    let mut observed: Vec<Observed> = observed
        .into_iter()
        .filter(|o| known.contains_key(&o.key()))
        .collect();
    // The deployment groups no message named (an instance-level SNS message names none): observed
    // in one round more.
    let unnamed: Vec<Key> = known
        .keys()
        .filter(|key| !observed.iter().any(|o| o.key() == **key))
        .cloned()
        .collect();
    if !unnamed.is_empty() {
        observed.extend(observe(clients, &unnamed, since, 2).await);
        for job in &mut jobs {
            if job
                .key()
                .is_some_and(|(a, g)| unnamed.iter().any(|k| k.0 == a && k.1 == g))
            {
                job.round();
            }
        }
    }
    for o in &mut observed {
        o.look_for_replaced = deployment_level.contains(&o.key());
        o.know(known.remove(&o.key()).unwrap_or_default());
    }
    reconcile(clients, config, config.dry_run, jobs, observed)
        .await
        .finish(config.dry_run)
}

/// The Auto Scaling groups the jobs link.
fn link_targets(jobs: &[Job]) -> impl Iterator<Item = &String> {
    jobs.iter().filter_map(|job| match &job.step {
        Step::Link(target) => Some(&target.group),
        _ => None,
    })
}

/// Where the look-back starts: the deployments created since are those whose copies a reconcile
/// looks at.
pub fn lookback_start(config: &Config) -> SystemTime {
    SystemTime::now()
        .checked_sub(config.sweep_lookback)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The decision about one notification, from round 1's answer; the deployment's facts when its
/// deployment group is one relink reconciles.
fn decide_notified<'a>(
    config: &Config,
    notified: &DeploymentRef,
    job: &mut Job,
    read: &'a Result<Option<DeploymentFacts>, AwsError>,
) -> Option<&'a DeploymentFacts> {
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
            job.decide(Decision::Skip(skip));
            return None;
        }
        Err(error) => {
            job.fail(error.clone());
            return None;
        }
    };
    job.subject.application = Some(facts.application.clone());
    job.subject.deployment_group = Some(facts.deployment_group.clone());
    match check_names(notified, facts) {
        Ok(()) => {
            job.decide(decide(facts, config));
            ours(facts, config).then_some(facts)
        }
        Err(skip) => {
            job.decide(Decision::Skip(skip));
            None
        }
    }
}

/// What a reconcile did: the jobs it was given, ended, and what it did for each deployment group.
#[derive(Debug)]
pub struct Reconciled {
    /// The jobs given, in order, each ended.
    pub jobs: Vec<Job>,
    /// One per deployment group observed.
    pub groups: Vec<GroupOutcome>,
}

/// What a reconcile did for one deployment group, besides the jobs it was given.
#[derive(Debug)]
pub struct GroupOutcome {
    /// The deployment group.
    pub key: Key,
    /// The jobs of the fleets CodeDeploy names for it that no job given linked already.
    pub fleet: Vec<Job>,
    /// Its copies' retirements.
    pub retired: Retired,
    /// Sequential rounds of AWS calls it took, from the invocation's start.
    pub rounds: u8,
}

impl Reconciled {
    /// One attempt per job given: each deployment group's outcome goes to the first job of that
    /// deployment group (its retirements, a failure, and its named fleet's ending when that
    /// changed something while the job's own did not); every job of a deployment group counts
    /// the rounds its reconcile took.
    pub fn finish(mut self, dry_run: bool) -> Vec<Attempt> {
        for group in self.groups {
            let (application, deployment_group) = (&group.key.0, &group.key.1);
            let of_group = |job: &Job| job.key() == Some((application, deployment_group));
            if let Some(first) = self.jobs.iter_mut().find(|j| of_group(j)) {
                if let Some(fleet) = group.fleet.iter().find(|f| f.changed()) {
                    if !first.changed() {
                        first.follow(fleet);
                    }
                }
                first.retired = group.retired.retirements;
                if let Some(error) = group.retired.error {
                    if !first.failed() {
                        first.end(Ending::Failed(error));
                    }
                }
            }
            for job in self.jobs.iter_mut().filter(|j| of_group(j)) {
                job.rounds_at_least(group.rounds);
            }
        }
        self.jobs
            .into_iter()
            .map(|job| job.finish(dry_run))
            .collect()
    }
}

/// Rounds 2 to 5 for any number of jobs and deployment groups, then the deployment groups'
/// retirements. Jobs that are already decided pass through unchanged; jobs for a group another
/// job already leads follow it: they share its rounds and ending. Each deployment group's named
/// fleet gets a job of its own unless a job links it already (the audit gives one per named
/// fleet). The retirements start once every link has ended, and never touch a group a job
/// changed: no group is linked and retired by one reconcile.
pub async fn reconcile(
    clients: &Clients,
    config: &Config,
    dry_run: bool,
    mut jobs: Vec<Job>,
    observed: Vec<Observed>,
) -> Reconciled {
    let given = jobs.len();
    let fleet_of = add_fleet_jobs(config, &mut jobs, &observed, given);

    let follows = leaders(&jobs);
    let linking: HashSet<String> = link_targets(&jobs).cloned().collect();
    let targets: Vec<_> = jobs
        .iter()
        .zip(&follows)
        .filter_map(|(job, follows)| match (&job.step, follows) {
            (Step::Link(target), None) => Some(target),
            _ => None,
        })
        .collect();
    let settled: Vec<&Observed> = observed.iter().filter(|o| o.failure().is_none()).collect();
    let names = distinct(
        targets.iter().flat_map(|t| &t.target_group_names).chain(
            settled
                .iter()
                .filter_map(|o| o.facts())
                .flat_map(|f| &f.settings.target_group_names),
        ),
    );
    let copies: Vec<String> = settled
        .iter()
        .flat_map(|o| Seen::copy_names(o, &o.known.iter().collect::<Vec<_>>()))
        .filter(|name| !linking.contains(name))
        .collect();
    let groups = distinct(targets.iter().map(|t| &t.group).chain(&copies));
    let to_read: Vec<String> = settled.iter().flat_map(|o| o.to_read()).collect();
    let unread = distinct(to_read.iter());
    // Round 2 and the links; beside them, from round 2 on, the fleets the deployment groups'
    // newest KEEP_ALIVE deployments replaced.
    let links = async {
        let state = read_state(clients, &names, &groups, &unread).await;
        let read: &[DeploymentFacts] = state.deployments.as_deref().unwrap_or(&[]);
        for job in jobs.iter_mut() {
            if let Step::Link(target) = &mut job.step {
                let id = target.copy_of.deployment_id.as_deref();
                let known = observed.iter().flat_map(|o| &o.known);
                if let Some(own) = known
                    .chain(read)
                    .find(|d| Some(d.deployment_id.as_str()) == id)
                {
                    target.know(own);
                }
            }
        }
        let shared = &state;
        futures::stream::iter(jobs.iter_mut().zip(&follows))
            .filter_map(|(job, follows)| async move {
                let leads = follows.is_none() && matches!(job.step, Step::Link(_));
                leads.then_some(job)
            })
            .map(|job| async move { Flight::new(job).run(clients, dry_run, shared).await })
            .buffered(MAX_CONCURRENT_CALLS)
            .collect::<()>()
            .await;
        state
    };
    let described: HashSet<&str> = groups.iter().map(String::as_str).collect();
    let described = &described;
    let found = futures::stream::iter(&observed)
        .map(|o| async move {
            match (o.facts(), o.failure(), config.retire_copies) {
                (Some(facts), None, true) => predecessors(clients, o, facts, described).await,
                _ => Ok(None),
            }
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect::<Vec<_>>();
    let (state, found) = tokio::join!(links, found);
    let read: &[DeploymentFacts] = state.deployments.as_deref().unwrap_or(&[]);
    let state = &state;
    let linked: HashSet<String> = jobs
        .iter()
        .filter(|job| job.changed())
        .filter_map(|job| job.group.clone())
        .collect();
    let linked = &linked;
    let links_ended = jobs
        .iter()
        .zip(&follows)
        .filter(|(job, follows)| follows.is_none() && job.group.is_some())
        .map(|(job, _)| job.rounds())
        .max()
        .unwrap_or(0);
    let retired: Vec<Retired> = futures::stream::iter(observed.iter().zip(&found))
        .map(|(o, found)| async move {
            let subject = format!("deployment group {}/{}", o.application, o.deployment_group);
            let failure = o.failure().or(found.as_ref().err());
            let Some(facts) = o.facts().filter(|_| failure.is_none()) else {
                let error = failure.cloned().map(|error| RelinkError::Aws {
                    subject: subject.clone(),
                    error,
                });
                return Retired {
                    error,
                    ..Retired::default()
                };
            };
            let seen = Seen {
                observed: o,
                facts,
                deployments: o
                    .known
                    .iter()
                    .chain(read.iter().filter(|d| {
                        d.application == o.application && d.deployment_group == o.deployment_group
                    }))
                    .collect(),
                linking: linked,
                predecessors: found.as_ref().ok().and_then(Option::as_ref),
            };
            let options = Options {
                dry_run,
                enabled: config.retire_copies,
                since: lookback_start(config),
            };
            retire(clients, &seen, state, options, &subject).await
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect()
        .await;

    for (i, leader) in follows.iter().enumerate() {
        if let Some(leader) = leader {
            let leader = jobs[*leader].clone();
            jobs[i].follow(&leader);
        }
    }
    let mut fleet_jobs: Vec<Option<Job>> = jobs.split_off(given).into_iter().map(Some).collect();
    let groups = observed
        .iter()
        .zip(retired)
        .zip(&found)
        .enumerate()
        .map(|(g, ((o, retired), found))| {
            // Round 2, and beside it (from its start) the search for KEEP_ALIVE predecessors.
            let searched = found
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .map_or(1, |p| p.rounds);
            let read = o.rounds + searched.max(1);
            GroupOutcome {
                key: o.key(),
                fleet: fleet_of
                    .iter()
                    .filter(|(of, _)| *of == g)
                    .filter_map(|(_, i)| fleet_jobs[i - given].take())
                    .collect(),
                rounds: match retired.rounds {
                    0 => read,
                    more => read.max(links_ended) + more,
                },
                retired,
            }
        })
        .collect();
    Reconciled { jobs, groups }
}

/// A job for each fleet an observed deployment group names that no job links already, started
/// from the first given job of that deployment group; `(observed index, job index)` of each.
fn add_fleet_jobs(
    config: &Config,
    jobs: &mut Vec<Job>,
    observed: &[Observed],
    given: usize,
) -> Vec<(usize, usize)> {
    let mut added = Vec::new();
    for (g, o) in observed.iter().enumerate() {
        let (Some(facts), None) = (o.facts(), o.failure()) else {
            continue;
        };
        let Ok(targets) = decide_group(facts, config, &o.known) else {
            continue;
        };
        for target in targets {
            if link_targets(jobs).any(|g| *g == target.group) {
                continue;
            }
            let first = jobs[..given]
                .iter()
                .find(|j| j.key() == Some((&o.application, &o.deployment_group)));
            let source = first.map_or("group", |j| j.subject.source.as_str());
            let subject = Subject::of(source, None, &o.application, &o.deployment_group);
            let mut job = Job::started(subject, o.rounds);
            job.decide(Decision::Relink(target));
            jobs.push(job);
            added.push((g, jobs.len() - 1));
        }
    }
    added
}

/// For each job, the index of the job that leads its Auto Scaling group, when another does.
fn leaders(jobs: &[Job]) -> Vec<Option<usize>> {
    let mut leaders: HashMap<String, usize> = HashMap::new();
    jobs.iter()
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
        .collect()
}

/// Each item once, in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(*i)).cloned().collect()
}
