//! Rounds 2 to 5 of any number of jobs and deployment groups: round 2's reads, the links (each
//! group's flight), beside them the search for the fleets `KEEP_ALIVE` deployments replaced, then
//! the deployment groups' retirements, and what came of each.

use super::group::Flight;
use super::observe::Observed;
use super::retire::{predecessors, retire, Options, Predecessors, Seen};
use super::state::{read_state, State};
use super::{GroupOutcome, Reconciled, Retired};
use crate::aws::{Clients, MAX_CONCURRENT_CALLS};
use crate::domain::config::Config;
use crate::domain::decision::{decide_group, Decision, DeploymentFacts, RelinkTarget, Stage};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::job::{Job, Step, Subject};
use futures::StreamExt;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

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
    let reads = Reads::of(&jobs, &follows, &observed);
    // Round 2 and the links; beside them, from round 2 on, the fleets the deployment groups'
    // newest KEEP_ALIVE deployments replaced.
    let (state, found) = tokio::join!(
        links(clients, dry_run, &mut jobs, &follows, &observed, &reads),
        replaced(clients, config, &observed, &reads.groups),
    );
    let retired = retirements(clients, config, dry_run, &jobs, &observed, &state, &found).await;
    let links_ended = jobs
        .iter()
        .zip(&follows)
        .filter(|(job, follows)| follows.is_none() && job.group.is_some())
        .map(|(job, _)| job.rounds())
        .max()
        .unwrap_or(0);
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
            let fleet = fleet_of
                .iter()
                .filter(|(of, _)| *of == g)
                .filter_map(|(_, i)| fleet_jobs[i - given].take())
                .collect();
            outcome(o, fleet, retired, found, links_ended)
        })
        .collect();
    Reconciled { jobs, groups }
}

/// What round 2 reads: target group names, Auto Scaling groups (to link; every copy of the
/// deployment groups' deployments), deployments not read yet, and the deployments whose copies
/// are to be linked while they still reroute (CodeDeploy's own count of what it has not routed).
struct Reads {
    names: Vec<String>,
    groups: Vec<String>,
    deployments: Vec<String>,
    rerouting: Vec<String>,
}

impl Reads {
    fn of(jobs: &[Job], follows: &[Option<usize>], observed: &[Observed]) -> Self {
        let linking: HashSet<&String> = link_targets(jobs).collect();
        let targets: Vec<&RelinkTarget> = jobs
            .iter()
            .zip(follows)
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
        let to_read: Vec<String> = settled.iter().flat_map(|o| o.to_read()).collect();
        let rerouting = targets
            .iter()
            .filter(|t| matches!(t.stage, Stage::Running { rerouting: true }))
            .filter_map(|t| t.copy_of.deployment_id.as_ref());
        Reads {
            names,
            groups: distinct(targets.iter().map(|t| &t.group).chain(&copies)),
            deployments: distinct(to_read.iter()),
            rerouting: distinct(rerouting),
        }
    }
}

/// Round 2, what it read of the jobs' own deployments, then each leading job's flight -> round
/// 2's state.
async fn links(
    clients: &Clients,
    dry_run: bool,
    jobs: &mut [Job],
    follows: &[Option<usize>],
    observed: &[Observed],
    reads: &Reads,
) -> State {
    let state = read_state(
        clients,
        &reads.names,
        &reads.groups,
        &reads.deployments,
        &reads.rerouting,
    )
    .await;
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
    // Each job's deployment group's deployments read so far (its siblings' statuses and creators).
    let of_group = |job: &Job| -> Vec<&DeploymentFacts> {
        let Some((application, deployment_group)) = job.key() else {
            return Vec::new();
        };
        let known = observed
            .iter()
            .filter(|o| o.is(application, deployment_group))
            .flat_map(|o| &o.known);
        let mut all: Vec<&DeploymentFacts> = Vec::new();
        for d in known.chain(read) {
            let ours = d.application == application && d.deployment_group == deployment_group;
            if ours && !all.iter().any(|a| a.deployment_id == d.deployment_id) {
                all.push(d);
            }
        }
        all
    };
    let siblings: Vec<Vec<&DeploymentFacts>> = jobs.iter().map(of_group).collect();
    let shared = &state;
    futures::stream::iter(jobs.iter_mut().zip(follows).zip(&siblings))
        .filter_map(|((job, follows), read)| async move {
            let leads = follows.is_none() && matches!(job.step, Step::Link(_));
            leads.then_some((job, read))
        })
        .map(
            |(job, read)| async move { Flight::new(job, read).run(clients, dry_run, shared).await },
        )
        .buffered(MAX_CONCURRENT_CALLS)
        .collect::<()>()
        .await;
    state
}

/// Each deployment group's search for the fleet its newest `KEEP_ALIVE` deployment replaced,
/// beyond the groups round 2 describes (`described`).
async fn replaced(
    clients: &Clients,
    config: &Config,
    observed: &[Observed],
    described: &[String],
) -> Vec<Result<Option<Predecessors>, AwsError>> {
    let described: HashSet<&str> = described.iter().map(String::as_str).collect();
    let described = &described;
    futures::stream::iter(observed)
        .map(|o| async move {
            match (o.facts(), o.failure(), config.retire_copies) {
                (Some(facts), None, true) => predecessors(clients, o, facts, described).await,
                _ => Ok(None),
            }
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect()
        .await
}

/// Each deployment group's retire rounds, once the links have ended; a deployment group whose
/// observation or search failed fails with it.
async fn retirements(
    clients: &Clients,
    config: &Config,
    dry_run: bool,
    jobs: &[Job],
    observed: &[Observed],
    state: &State,
    found: &[Result<Option<Predecessors>, AwsError>],
) -> Vec<Retired> {
    let linked: HashSet<String> = jobs
        .iter()
        .filter(|job| job.changed())
        .filter_map(|job| job.group.clone())
        .collect();
    let linked = &linked;
    let read: &[DeploymentFacts] = state.deployments.as_deref().unwrap_or(&[]);
    let options = Options {
        dry_run,
        enabled: config.retire_copies,
        since: lookback_start(config),
    };
    futures::stream::iter(observed.iter().zip(found))
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
            retire(clients, &seen, state, options, &subject).await
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect()
        .await
}

/// What a reconcile did for one deployment group, and the rounds it took: round 2 and beside it
/// (from its start) the search for `KEEP_ALIVE` predecessors, then its retire rounds, which start
/// once the links have ended.
fn outcome(
    o: &Observed,
    fleet: Vec<Job>,
    retired: Retired,
    found: &Result<Option<Predecessors>, AwsError>,
    links_ended: u8,
) -> GroupOutcome {
    let searched = found
        .as_ref()
        .ok()
        .and_then(Option::as_ref)
        .map_or(1, |p| p.rounds);
    let read = o.rounds + searched.max(1);
    GroupOutcome {
        key: o.key(),
        fleet,
        rounds: match retired.rounds {
            0 => read,
            more => read.max(links_ended) + more,
        },
        retired,
    }
}

/// The Auto Scaling groups the jobs link.
pub(super) fn link_targets(jobs: &[Job]) -> impl Iterator<Item = &String> {
    jobs.iter().filter_map(|job| match &job.step {
        Step::Link(target) => Some(&target.group),
        _ => None,
    })
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

/// Where the look-back starts: the deployments created since are those whose copies a reconcile
/// looks at.
pub fn lookback_start(config: &Config) -> SystemTime {
    SystemTime::now()
        .checked_sub(config.sweep_lookback)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}
