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

use super::observe::Observed;
use super::state::State;
use crate::aws::{autoscaling, codedeploy, elb, elbv2, Clients};
use crate::domain::decision::{
    copy_named, replacement_group_name, DeploymentFacts, DeploymentGroupFacts,
};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::live::Registrations;
use crate::domain::plan::{GroupState, MAX_PER_ATTACH_CALL};
use crate::domain::retire::{
    at_rest_with, held, judge, CopyNow, GroupNow, Held, KeepReason, RetireOutcome, Retirement,
    Verdict,
};
use aws_sdk_codedeploy::types::DeploymentStatus;
use std::collections::{BTreeSet, HashMap, HashSet};
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

/// The groups a deployment group's newest `KEEP_ALIVE` deployment replaced, as described, and
/// the deployments whose copies they are.
#[derive(Debug, Default)]
pub(super) struct Predecessors {
    groups: HashMap<String, GroupState>,
    deployments: Vec<DeploymentFacts>,
    /// Sequential rounds it took.
    pub rounds: u8,
}

/// A `KEEP_ALIVE` deployment group's fleet that the fleet it names replaced, whatever its age:
/// when the named fleet is the copy of a deployment this invocation read (its own notification,
/// or a sweep within its look-back), the Auto Scaling groups of that deployment's original
/// instances (`ListDeploymentTargets` of its `Blue` instances, then
/// `DescribeAutoScalingInstances`), and those of them named like the deployment group's copies
/// that round 2 does not describe (older than the look-back) described
/// (`DescribeAutoScalingGroups`) ∥ their deployments read (`BatchGetDeployments`). Two or three
/// rounds from round 2's start, beside it and the link flights; none at all for another
/// deployment group.
pub(super) async fn predecessors(
    clients: &Clients,
    observed: &Observed,
    facts: &DeploymentGroupFacts,
    described: &HashSet<&str>,
) -> Result<Option<Predecessors>, AwsError> {
    let dg = &facts.deployment_group;
    let named = facts
        .auto_scaling_groups
        .iter()
        .filter_map(|name| copy_named(dg, name, &[]).deployment_id);
    let Some(newest) = named
        .into_iter()
        .find(|id| observed.known.iter().any(|k| &k.deployment_id == id))
        .filter(|_| facts.settings.keep_alive && observed.look_for_replaced)
    else {
        return Ok(None);
    };
    let blue = codedeploy::blue_instances(&clients.codedeploy, &newest).await?;
    if blue.is_empty() {
        return Ok(Some(Predecessors {
            rounds: 1,
            ..Predecessors::default()
        }));
    }
    let groups = autoscaling::groups_of(&clients.autoscaling, &blue).await?;
    // Those round 2 describes already (the look-back's copies) need no second look.
    let copies: Vec<String> = groups
        .into_iter()
        .filter(|g| copy_named(dg, g, &[]).deployment_id.is_some())
        .filter(|g| !facts.auto_scaling_groups.contains(g))
        .filter(|g| !described.contains(g.as_str()))
        .collect();
    if copies.is_empty() {
        return Ok(Some(Predecessors {
            rounds: 2,
            ..Predecessors::default()
        }));
    }
    let ids: Vec<String> = copies
        .iter()
        .filter_map(|g| copy_named(dg, g, &[]).deployment_id)
        .collect();
    let (described, deployments) = tokio::join!(
        autoscaling::describe_groups(&clients.autoscaling, &copies),
        codedeploy::batch_get_deployments(&clients.codedeploy, &ids),
    );
    if let Some(error) = described.failed.into_values().next() {
        return Err(error);
    }
    Ok(Some(Predecessors {
        groups: described.groups,
        deployments: deployments?,
        rounds: 3,
    }))
}

impl Seen<'_> {
    fn name(&self) -> String {
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
    fn unsettled(&self, unknown_only: bool) -> Vec<(String, Option<String>)> {
        self.deployments
            .iter()
            .filter(|d| !at_rest_with(&d.status))
            .filter(|d| !unknown_only || !RUNNING.iter().any(|r| r.as_str() == d.status))
            .map(|d| (d.deployment_id.clone(), Some(d.status.clone())))
            .collect()
    }
}

/// The retire rounds of one deployment group, from round 2's `state`.
pub(super) async fn retire(
    clients: &Clients,
    seen: &Seen<'_>,
    state: &State,
    options: Options,
    subject: &str,
) -> Retired {
    let Options {
        dry_run,
        enabled,
        since,
    } = options;
    let targets = target_group_arns(&seen.facts.settings.target_group_names, state);
    let now = GroupNow {
        name: &seen.name(),
        fleet: &seen.facts.auto_scaling_groups,
        target_groups: &targets,
        load_balancers: &seen.facts.settings.classic_load_balancer_names,
        unsettled: &seen.unsettled(false),
    };
    // Round 2's candidates: the copies that hold some of the deployment group's load balancers.
    let mut retired = Retired::default();
    let mut candidates: Vec<(&str, &str, Held)> = Vec::new();
    let predecessors = seen.predecessors.map(|p| &p.groups);
    let names = Seen::copy_names(seen.observed, &seen.deployments)
        .into_iter()
        .chain(predecessors.into_iter().flat_map(|p| p.keys().cloned()));
    for name in names.collect::<BTreeSet<String>>() {
        let found = state.described.groups.get_key_value(&name);
        let Some((name, group)) = found.or_else(|| predecessors?.get_key_value(&name)) else {
            continue;
        };
        if seen.linking.contains(name) || now.fleet.contains(name) {
            continue;
        }
        let held = held(&now, group);
        if held.is_empty() {
            continue;
        }
        let keep = |reason, detail: String| kept(name, &held, reason, detail);
        if seen.runs(name) {
            continue; // a fleet being rolled out, not a copy out of service
        }
        match seen.owner(name) {
            None => retired.retirements.push(keep(
                KeepReason::NotACopy,
                format!(
                    "{name} is named like a copy, but no deployment of {} has its id: relink never changes a group a person made",
                    now.name
                ),
            )),
            Some(_) if !enabled => retired.retirements.push(keep(
                KeepReason::Disabled,
                "RELINK_RETIRE_COPIES=false: relink detaches nothing".into(),
            )),
            Some(owner) => candidates.push((name, owner, held)),
        }
    }
    if candidates.is_empty() {
        return retired;
    }
    if !now.unsettled.is_empty() {
        // Not at rest by what round 2 read: the rule says keep, no evidence needed.
        for (name, owner, _) in &candidates {
            let copy = CopyNow {
                group: name,
                owner: Some(owner),
                state: state.described.groups.get(*name),
            };
            retired
                .retirements
                .push(record(judge(&now, &copy, &Registrations::default()), name));
        }
        return retired;
    }

    // The evidence, read now, within seconds of the detach.
    retired.rounds += 1;
    let read = evidence(clients, dry_run, since, seen, &candidates, &targets).await;
    let evidence = match read {
        Ok((evidence, rounds)) => {
            retired.rounds += rounds;
            evidence
        }
        Err(error) => {
            retired.error = Some(RelinkError::Aws {
                subject: subject.to_owned(),
                error,
            });
            return retired;
        }
    };
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
    for (name, owner, _) in &candidates {
        let copy = CopyNow {
            group: name,
            owner: Some(owner),
            state: evidence.copies.get(*name),
        };
        match judge(&now, &copy, &evidence.traffic) {
            Verdict::Retire { held, evidence } if !dry_run => {
                detaches.push((name.to_string(), held, evidence))
            }
            verdict => retired.retirements.push(record(verdict, name)),
        }
    }
    if detaches.is_empty() {
        return retired;
    }

    retired.rounds += 1;
    let done = futures::future::join_all(
        detaches
            .iter()
            .map(|(group, held, _)| detach(clients, group, held)),
    )
    .await;
    let mut failures = Vec::new();
    for ((group, held, evidence), (detached, failed)) in detaches.into_iter().zip(done) {
        let outcome = match failed.is_empty() {
            true => RetireOutcome::Retired,
            false => RetireOutcome::Failed,
        };
        let detail = match failed.first() {
            None => evidence,
            Some(error) => format!("{error} (detached: [{}])", detached.names().join(", ")),
        };
        let rest = match outcome {
            RetireOutcome::Retired => detached,
            _ => left(&held, &detached),
        };
        retired.retirements.push(Retirement {
            group: group.clone(),
            outcome,
            reason: None,
            target_groups: rest.target_groups,
            load_balancers: rest.load_balancers,
            detail,
        });
        if !failed.is_empty() {
            failures.push((group, failed));
        }
    }
    if let Some((group, failed)) = failures.into_iter().next() {
        retired.error = Some(RelinkError::Detach {
            subject: subject.to_owned(),
            deployment_group: seen.name(),
            group,
            failures: failed,
        });
    }
    retired
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

/// How a retirement runs: a dry run, `RELINK_RETIRE_COPIES`, and the start of the look-back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub dry_run: bool,
    pub enabled: bool,
    pub since: SystemTime,
}

/// What the evidence round read.
struct Evidence {
    group: Option<DeploymentGroupFacts>,
    running: Vec<(String, Option<String>)>,
    copies: HashMap<String, GroupState>,
    traffic: Registrations,
}

/// The evidence round: every read concurrently; and, when the look-back lists deployments not
/// read yet, one round more that reads them (a status relink does not know keeps the deployment
/// group from rest, and no listing filtered by status shows it) -> the evidence, and the rounds
/// beyond the first.
async fn evidence(
    clients: &Clients,
    dry_run: bool,
    since: SystemTime,
    seen: &Seen<'_>,
    candidates: &[(&str, &str, Held)],
    targets: &[String],
) -> Result<(Evidence, u8), AwsError> {
    let (application, group) = (&seen.facts.application, &seen.facts.deployment_group);
    let names: Vec<String> = candidates.iter().map(|(n, _, _)| n.to_string()).collect();
    let mut target_groups: Vec<String> = Vec::new();
    let mut load_balancers: Vec<String> = Vec::new();
    for (_, _, held) in candidates {
        for arn in &held.target_groups {
            if !target_groups.contains(arn) && targets.contains(arn) {
                target_groups.push(arn.clone());
            }
        }
        for name in &held.load_balancers {
            if !load_balancers.contains(name) {
                load_balancers.push(name.clone());
            }
        }
    }
    let announce = async {
        if let Some(before) = &clients.before_change {
            before.call(dry_run).await;
        }
    };
    let cd = &clients.codedeploy;
    let (fresh, running, recent, copies, tg_traffic, lb_traffic, ()) = tokio::join!(
        codedeploy::get_deployment_group(cd, application, group),
        codedeploy::list_group_deployments(cd, application, group, &RUNNING, None),
        codedeploy::list_group_deployments(cd, application, group, &[], Some(since)),
        autoscaling::describe_groups(&clients.autoscaling, &names),
        async {
            match target_groups.is_empty() {
                true => Ok(HashMap::new()),
                false => elbv2::traffic(&clients.elbv2, &target_groups).await,
            }
        },
        async {
            match load_balancers.is_empty() {
                true => Ok(HashMap::new()),
                false => elb::traffic(&clients.elb, &load_balancers).await,
            }
        },
        announce,
    );
    if let Some(error) = copies.failed.into_values().next() {
        return Err(error);
    }
    let statuses: HashMap<&str, &str> = seen
        .deployments
        .iter()
        .map(|d| (d.deployment_id.as_str(), d.status.as_str()))
        .collect();
    let mut running: Vec<(String, Option<String>)> = running?
        .into_iter()
        .map(|id| {
            let status = statuses.get(id.as_str()).map(|s| s.to_string());
            (id, status)
        })
        .collect();
    // A status relink does not know, among those read, keeps the deployment group from rest too;
    // and among those of the look-back not read yet.
    running.extend(seen.unsettled(true));
    let unread: Vec<String> = recent?
        .into_iter()
        .filter(|id| !statuses.contains_key(id.as_str()))
        .filter(|id| !running.iter().any(|(r, _)| r == id))
        .collect();
    let mut rounds = 0;
    if !unread.is_empty() {
        rounds += 1;
        let read = codedeploy::batch_get_deployments(cd, &unread).await?;
        running.extend(
            read.into_iter()
                .filter(|d| !at_rest_with(&d.status))
                .map(|d| (d.deployment_id, Some(d.status))),
        );
    }
    let evidence = Evidence {
        group: fresh?,
        running,
        copies: copies.groups,
        traffic: Registrations {
            target_groups: tg_traffic?,
            load_balancers: lb_traffic?,
        },
    };
    Ok((evidence, rounds))
}

/// The detach calls of one copy: its target groups in batches of 10, then its classic load
/// balancers, one call after another. What was detached, and the failures.
async fn detach(clients: &Clients, group: &str, held: &Held) -> (Held, Vec<AwsError>) {
    let client = &clients.autoscaling;
    let mut detached = Held::default();
    let mut failures = Vec::new();
    for batch in held.target_groups.chunks(MAX_PER_ATTACH_CALL) {
        match autoscaling::detach_target_groups(client, group, batch).await {
            Ok(()) => detached.target_groups.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    for batch in held.load_balancers.chunks(MAX_PER_ATTACH_CALL) {
        match autoscaling::detach_load_balancers(client, group, batch).await {
            Ok(()) => detached.load_balancers.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    (detached, failures)
}

/// What `held` still holds after `detached`.
fn left(held: &Held, detached: &Held) -> Held {
    Held {
        target_groups: held
            .target_groups
            .iter()
            .filter(|t| !detached.target_groups.contains(t))
            .cloned()
            .collect(),
        load_balancers: held
            .load_balancers
            .iter()
            .filter(|l| !detached.load_balancers.contains(l))
            .cloned()
            .collect(),
    }
}
