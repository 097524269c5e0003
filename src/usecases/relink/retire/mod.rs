//! The retire rounds of one deployment group ([`crate::domain::retire`]): its copies that hold
//! some of its load balancers, found in round 2's reads; then — just before any detach — the
//! evidence, read now: the fleet CodeDeploy names and the load balancers it lists
//! (`GetDeploymentGroup`) ∥ whether any of its deployments runs (`ListDeployments` of the running
//! statuses, any age; and of the look-back, any status: those not read yet are read, one round
//! more) ∥ the copies as they are (`DescribeAutoScalingGroups`) ∥ where the load balancers they
//! hold send traffic (`DescribeTargetHealth` ∥ `DescribeInstanceHealth`); the rule; and the detach
//! calls, each copy's one after another.
//!
//! What round 2 already rules out costs no further round: a group named like a copy that no
//! deployment of the deployment group owns, a deployment group with a deployment running, and
//! `RELINK_RETIRE_COPIES=false`.

mod detach;
mod evidence;
mod replaced;

pub(super) use replaced::{predecessors, Predecessors};

use super::observe::Observed;
use super::state::State;
use crate::aws::Clients;
use crate::domain::decision::{replacement_group_name, DeploymentFacts, DeploymentGroupFacts};
use crate::domain::error::RelinkError;
use crate::domain::live::Registrations;
use crate::domain::retire::{
    at_rest_with, held, judge, CopyNow, GroupNow, Held, KeepReason, RetireOutcome, Retirement,
    Verdict,
};
use aws_sdk_codedeploy::types::DeploymentStatus;
use detach::detach_all;
use evidence::evidence;
use std::collections::{BTreeSet, HashSet};
use std::time::SystemTime;

/// The statuses of a running deployment, as `ListDeployments` filters them.
const RUNNING: [DeploymentStatus; 5] = [
    DeploymentStatus::Created,
    DeploymentStatus::Queued,
    DeploymentStatus::InProgress,
    DeploymentStatus::Ready,
    DeploymentStatus::Baking,
];

/// What the retire rounds of one deployment group came to.
#[derive(Debug, Clone, Default)]
pub struct Retired {
    /// One record per copy that held some of its load balancers.
    pub retirements: Vec<Retirement>,
    /// The failures: of a read the rule needed, or of detach calls.
    pub error: Option<RelinkError>,
    /// Sequential rounds after round 2 (the evidence, the detach calls).
    pub rounds: u8,
}

/// What round 2 knows of one deployment group, for its retirements.
pub(super) struct Seen<'a> {
    /// The deployment group as observed.
    pub observed: &'a Observed,
    /// Its facts (the observation read them).
    pub facts: &'a DeploymentGroupFacts,
    /// Its deployments read so far (the observation's and round 2's).
    pub deployments: Vec<&'a DeploymentFacts>,
    /// Groups this reconcile linked (or would have, or failed to): never retired by it.
    pub linking: &'a HashSet<String>,
    /// The fleets its newest `KEEP_ALIVE` deployment replaced ([`predecessors`]).
    pub predecessors: Option<&'a Predecessors>,
}

impl Seen<'_> {
    pub(super) fn name(&self) -> String {
        format!("{}/{}", self.facts.application, self.facts.deployment_group)
    }

    /// The deployment of this deployment group whose copy `group` is, by CodeDeploy's naming.
    fn owner(&self, group: &str) -> Option<&str> {
        let predecessors = self.predecessors.iter().flat_map(|p| &p.deployments);
        self.deployments
            .iter()
            .copied()
            .chain(predecessors)
            .filter(|d| {
                d.application == self.facts.application
                    && d.deployment_group == self.facts.deployment_group
            })
            .map(|d| d.deployment_id.as_str())
            .find(|id| replacement_group_name(&self.facts.deployment_group, id) == group)
    }

    /// Whether `group` is the copy of a deployment of this deployment group that still runs.
    fn runs(&self, group: &str) -> bool {
        self.deployments.iter().any(|d| {
            !at_rest_with(&d.status)
                && replacement_group_name(&self.facts.deployment_group, &d.deployment_id) == group
        })
    }

    /// Every Auto Scaling group that may be a copy of this deployment group: those of its
    /// deployments read, and those found otherwise.
    pub fn copy_names(observed: &Observed, deployments: &[&DeploymentFacts]) -> BTreeSet<String> {
        let dg = &observed.deployment_group;
        let listed = observed.listed.as_ref().map(Vec::as_slice).unwrap_or(&[]);
        deployments
            .iter()
            .map(|d| d.deployment_id.as_str())
            .chain(listed.iter().map(String::as_str))
            .map(|id| replacement_group_name(dg, id))
            .chain(observed.found.iter().cloned())
            .collect()
    }

    /// Deployments read that keep the deployment group from rest: running, or with a status
    /// relink does not know (`unknown_only`: only those).
    pub(super) fn unsettled(&self, unknown_only: bool) -> Vec<(String, Option<String>)> {
        self.deployments
            .iter()
            .filter(|d| !at_rest_with(&d.status))
            .filter(|d| !unknown_only || !RUNNING.iter().any(|r| r.as_str() == d.status))
            .map(|d| (d.deployment_id.clone(), Some(d.status.clone())))
            .collect()
    }
}

/// How a retirement runs: a dry run, `RELINK_RETIRE_COPIES`, and the start of the look-back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub dry_run: bool,
    pub enabled: bool,
    pub since: SystemTime,
}

/// A copy round 2 found holding some of the deployment group's load balancers, of one of its
/// deployments: judged on the evidence.
pub(super) struct Candidate<'a> {
    pub group: &'a str,
    pub owner: &'a str,
    pub held: Held,
}

/// The retire rounds of one deployment group, from round 2's `state`: the candidates; when round
/// 2 already shows the deployment group is not at rest, that is the verdict; otherwise the
/// evidence, the rule and the detach calls.
pub(super) async fn retire(
    clients: &Clients,
    seen: &Seen<'_>,
    state: &State,
    options: Options,
    subject: &str,
) -> Retired {
    let targets = target_group_arns(&seen.facts.settings.target_group_names, state);
    let now = GroupNow {
        name: &seen.name(),
        fleet: &seen.facts.auto_scaling_groups,
        target_groups: &targets,
        load_balancers: &seen.facts.settings.classic_load_balancer_names,
        unsettled: &seen.unsettled(false),
    };
    let mut retired = Retired::default();
    let candidates = candidates(seen, state, &now, options.enabled, &mut retired.retirements);
    if candidates.is_empty() {
        return retired;
    }
    if !now.unsettled.is_empty() {
        // Not at rest by what round 2 read: the rule says keep, no evidence needed.
        for candidate in &candidates {
            let copy = CopyNow {
                group: candidate.group,
                owner: Some(candidate.owner),
                state: state.described.groups.get(candidate.group),
            };
            let verdict = judge(&now, &copy, &Registrations::default());
            retired.retirements.push(record(verdict, candidate.group));
        }
        return retired;
    }

    // The evidence, read now, within seconds of the detach.
    retired.rounds += 1;
    let read = evidence(clients, options, seen, &candidates, &targets).await;
    let (evidence, more) = match read {
        Ok(read) => read,
        Err(error) => {
            retired.error = Some(RelinkError::Aws {
                subject: subject.to_owned(),
                error,
            });
            return retired;
        }
    };
    retired.rounds += more;
    let Some(fresh) = &evidence.group else {
        return retired; // the deployment group is gone: nothing of it to take back
    };
    let fresh_targets = target_group_arns(&fresh.settings.target_group_names, state);
    let now = GroupNow {
        fleet: &fresh.auto_scaling_groups,
        target_groups: &fresh_targets,
        load_balancers: &fresh.settings.classic_load_balancer_names,
        unsettled: &evidence.running,
        ..now
    };
    let mut detaches = Vec::new();
    for candidate in &candidates {
        let copy = CopyNow {
            group: candidate.group,
            owner: Some(candidate.owner),
            state: evidence.copies.get(candidate.group),
        };
        match judge(&now, &copy, &evidence.traffic) {
            Verdict::Retire { held, evidence } if !options.dry_run => {
                detaches.push((candidate.group.to_owned(), held, evidence))
            }
            verdict => retired.retirements.push(record(verdict, candidate.group)),
        }
    }
    if !detaches.is_empty() {
        retired.rounds += 1;
        detach_all(clients, detaches, &seen.name(), subject, &mut retired).await;
    }
    retired
}

/// Round 2's candidates: the copies of the deployment group's deployments that hold some of its
/// load balancers, but the groups this reconcile linked, the fleet CodeDeploy names and the copies
/// of running deployments (fleets being rolled out). What needs no evidence to keep (a group no
/// deployment owns, `RELINK_RETIRE_COPIES=false`) goes to `kept`.
fn candidates<'a>(
    seen: &'a Seen<'_>,
    state: &'a State,
    now: &GroupNow<'_>,
    enabled: bool,
    kept_now: &mut Vec<Retirement>,
) -> Vec<Candidate<'a>> {
    let mut candidates = Vec::new();
    let predecessors = seen.predecessors.map(|p| &p.groups);
    let names = Seen::copy_names(seen.observed, &seen.deployments)
        .into_iter()
        .chain(predecessors.into_iter().flat_map(|p| p.keys().cloned()));
    for name in names.collect::<BTreeSet<String>>() {
        let found = state.described.groups.get_key_value(&name);
        let Some((name, group)) = found.or_else(|| predecessors?.get_key_value(&name)) else {
            continue;
        };
        if seen.linking.contains(name) || now.fleet.contains(name) || seen.runs(name) {
            continue;
        }
        let held = held(now, group);
        if held.is_empty() {
            continue;
        }
        match seen.owner(name) {
            None => kept_now.push(kept(
                name,
                &held,
                KeepReason::NotACopy,
                format!(
                    "{name} is named like a copy, but no deployment of {} has its id: relink never changes a group a person made",
                    now.name
                ),
            )),
            Some(_) if !enabled => kept_now.push(kept(
                name,
                &held,
                KeepReason::Disabled,
                "RELINK_RETIRE_COPIES=false: relink detaches nothing".into(),
            )),
            Some(owner) => candidates.push(Candidate {
                group: name,
                owner,
                held,
            }),
        }
    }
    candidates
}

/// The deployment group's target groups, as round 2 resolved their names; a name it did not
/// resolve has no ARN to detach.
fn target_group_arns(names: &[String], state: &State) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| state.resolved.arns.get(name).cloned())
        .collect()
}

fn kept(group: &str, held: &Held, reason: KeepReason, detail: String) -> Retirement {
    Retirement {
        group: group.to_owned(),
        outcome: RetireOutcome::Kept,
        reason: Some(reason),
        target_groups: held.target_groups.clone(),
        load_balancers: held.load_balancers.clone(),
        detail,
    }
}

/// A verdict that changes nothing now: kept, or planned in a dry run.
fn record(verdict: Verdict, group: &str) -> Retirement {
    match verdict {
        Verdict::Retire { held, evidence } => Retirement {
            group: group.to_owned(),
            outcome: RetireOutcome::Planned,
            reason: None,
            target_groups: held.target_groups,
            load_balancers: held.load_balancers,
            detail: evidence,
        },
        Verdict::Keep {
            held,
            reason,
            evidence,
        } => kept(group, &held, reason, evidence),
        Verdict::Nothing => kept(
            group,
            &Held::default(),
            KeepReason::Gone,
            format!("{group} no longer holds any of the deployment group's load balancers"),
        ),
    }
}
