//! May relink take the deployment group's load balancers back from one of CodeDeploy's copies?
//! Pure: the deployment group and the copy as AWS reports them within seconds of the detach, and
//! where the load balancers send traffic, in; a verdict with its evidence out.
//!
//! # Why
//!
//! relink links a copy as soon as CodeDeploy has routed traffic to all of it, hours before the
//! deployment succeeds. When CodeDeploy then rolls the deployment back (an alarm during the
//! termination wait, a failed AfterBlockTraffic hook), traffic returns to the original fleet and
//! the failed copy is left running with what relink gave it; a copy superseded by a `KEEP_ALIVE`
//! deployment is kept running with it for ever. Every instance such a copy launches later (a
//! health replacement, a scale-out) is registered with production, on a revision that no longer
//! serves. Detaching the load balancer stops that; but detaching deregisters every instance of
//! the group at once, so it is as dangerous as an attach and is held to a rule as strict.
//!
//! # The rule: the deployment group at rest
//!
//! relink detaches load balancer L from Auto Scaling group G only when all of these hold, read
//! from AWS within seconds of the detach, on every path (notification, replay, sweep, audit):
//!
//! 1. **G is a copy of this deployment group**: named `CodeDeploy_<group>_<id>` for one of the
//!    deployment group's own deployments. A group a person made is never touched (Terraform and
//!    CloudFormation manage those, and would put the attachment back).
//! 2. **L is one of the deployment group's load balancers** (its `loadBalancerInfo`); nothing
//!    else G holds is touched.
//! 3. **The deployment group is at rest**: none of its deployments is `Created`, `Queued`,
//!    `InProgress`, `Ready` or `Baking`, and none has a status relink does not know. While a
//!    deployment runs, traffic moves between fleets and both may be registered at once.
//! 4. **G is not the fleet CodeDeploy names** for the deployment group (`autoScalingGroups`).
//! 5. **Detaching removes nobody**: no instance of G is a serving target of any of the deployment
//!    group's load balancers (registered and not draining; a state relink does not know counts as
//!    serving). A copy that still serves — a deployment stopped without rollback leaves traffic
//!    on it — is left alone, whole.
//!
//! So a failed copy is retired once its rollback is done, a copy superseded by a `KEEP_ALIVE`
//! deployment once the newer deployment succeeds, and a copy that still serves stays as it is.
//! The rule and the link rule ([`crate::domain::live`]) cannot undo each other: relink attaches
//! only to a group whose instances the load balancers serve (or the named fleet), and detaches
//! only from a group whose instances they do not serve and that is not the named fleet.

use crate::domain::live::{Registrations, Traffic};
use crate::domain::plan::{short_name, GroupState};
use serde::{Deserialize, Serialize};

/// Statuses of a deployment that is still running: the deployment group is not at rest.
pub const RUNNING_STATUSES: [&str; 5] = ["Created", "Queued", "InProgress", "Ready", "Baking"];
/// Statuses of a deployment that has ended.
pub const ENDED_STATUSES: [&str; 3] = ["Succeeded", "Failed", "Stopped"];

/// Whether a deployment with this status leaves its deployment group at rest: only an ended one
/// does; a status relink does not know does not.
pub fn at_rest_with(status: &str) -> bool {
    ENDED_STATUSES.contains(&status)
}

/// Why a copy that holds some of the deployment group's load balancers keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// The group is named like a copy but is not one of the deployment group's deployments'.
    NotACopy,
    /// The group no longer exists or is being deleted.
    Gone,
    /// CodeDeploy names the group as the deployment group's fleet.
    NamedFleet,
    /// A deployment of the deployment group is running, or has a status relink does not know.
    NotAtRest,
    /// Some instance of the group is a serving target of the deployment group's load balancers.
    Serving,
    /// `RELINK_RETIRE_COPIES=false`: relink reports retired copies and detaches nothing.
    Disabled,
}

impl KeepReason {
    /// The reason's code, as it appears in reports and logs.
    pub fn code(self) -> &'static str {
        match self {
            KeepReason::NotACopy => "not_a_copy",
            KeepReason::Gone => "gone",
            KeepReason::NamedFleet => "named_fleet",
            KeepReason::NotAtRest => "not_at_rest",
            KeepReason::Serving => "serving",
            KeepReason::Disabled => "disabled",
        }
    }
}

/// The deployment group as AWS reports it now.
#[derive(Debug, Clone, Copy)]
pub struct GroupNow<'a> {
    /// `application/group`, for the evidence.
    pub name: &'a str,
    /// The Auto Scaling groups CodeDeploy names as its fleet (`GetDeploymentGroup`).
    pub fleet: &'a [String],
    /// Its target groups (`loadBalancerInfo`), as ARNs.
    pub target_groups: &'a [String],
    /// Its classic load balancers.
    pub load_balancers: &'a [String],
    /// Its deployments that keep it from rest: each that runs (with its status when read) or
    /// whose status relink does not know.
    pub unsettled: &'a [(String, Option<String>)],
}

/// One Auto Scaling group named like a copy of the deployment group, as AWS reports it now.
#[derive(Debug, Clone, Copy)]
pub struct CopyNow<'a> {
    /// Its name.
    pub group: &'a str,
    /// The deployment of this deployment group whose copy it is, by CodeDeploy's naming and the
    /// deployment group's own deployments; `None` when no deployment of the group has that id.
    pub owner: Option<&'a str>,
    /// The group now; `None` when it does not exist.
    pub state: Option<&'a GroupState>,
}

/// The deployment group's load balancers a group holds, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// Target group ARNs.
    pub target_groups: Vec<String>,
    /// Classic load balancer names.
    pub load_balancers: Vec<String>,
}

impl Held {
    /// Whether it holds nothing of the deployment group's.
    pub fn is_empty(&self) -> bool {
        self.target_groups.is_empty() && self.load_balancers.is_empty()
    }

    /// The names, target groups by their short name, for people.
    pub fn names(&self) -> Vec<String> {
        self.target_groups
            .iter()
            .map(|arn| short_name(arn).to_owned())
            .chain(self.load_balancers.iter().cloned())
            .collect()
    }
}

/// What `group` holds of the deployment group's load balancers (rule 2): the rest of its
/// attachments is never looked at again.
pub fn held(group: &GroupNow<'_>, state: &GroupState) -> Held {
    Held {
        target_groups: state
            .target_group_arns
            .iter()
            .filter(|arn| group.target_groups.contains(arn))
            .cloned()
            .collect(),
        load_balancers: state
            .load_balancer_names
            .iter()
            .filter(|name| group.load_balancers.contains(name))
            .cloned()
            .collect(),
    }
}

/// The verdict about one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It holds none of the deployment group's load balancers: nothing to say.
    Nothing,
    /// Detach these, for this reason.
    Retire {
        /// What to detach.
        held: Held,
        /// Why, for people.
        evidence: String,
    },
    /// It keeps what it holds.
    Keep {
        /// What it holds.
        held: Held,
        /// Why.
        reason: KeepReason,
        /// The evidence, for people.
        evidence: String,
    },
}

/// The rule (see the module documentation) for one copy. `traffic` must hold every load
/// balancer the copy holds of the deployment group's; one it lacks counts as serving.
pub fn judge(group: &GroupNow<'_>, copy: &CopyNow<'_>, traffic: &Registrations) -> Verdict {
    let Some(state) = copy.state else {
        return Verdict::Nothing;
    };
    let held = held(group, state);
    if held.is_empty() {
        return Verdict::Nothing;
    }
    let keep = |reason, evidence: String| Verdict::Keep {
        held: held.clone(),
        reason,
        evidence,
    };
    let name = copy.group;
    let Some(owner) = copy.owner else {
        return keep(
            KeepReason::NotACopy,
            format!(
                "{name} is named like a copy, but no deployment of {} has its id: relink never changes a group a person made",
                group.name
            ),
        );
    };
    if state.is_deleting() {
        return keep(
            KeepReason::Gone,
            format!(
                "{name} is {}",
                state.status.as_deref().unwrap_or("being deleted")
            ),
        );
    }
    if group.fleet.iter().any(|f| f == name) {
        return keep(
            KeepReason::NamedFleet,
            format!("CodeDeploy names {name} as the fleet of {}", group.name),
        );
    }
    if !group.unsettled.is_empty() {
        let running: Vec<String> = group
            .unsettled
            .iter()
            .map(|(id, status)| match status.as_deref() {
                None => format!("{id} runs"),
                Some(status) if at_known_status(status) => format!("{id} is {status}"),
                Some(status) => {
                    format!("{id} has status {status:?}, which relink does not know")
                }
            })
            .collect();
        return keep(
            KeepReason::NotAtRest,
            format!("{} is not at rest: {}", group.name, running.join(", ")),
        );
    }
    let serving = serving(state, &held, traffic);
    if !serving.is_empty() {
        return keep(
            KeepReason::Serving,
            format!(
                "{name} still serves: {}; detaching would deregister it",
                serving.join(", ")
            ),
        );
    }
    let evidence = format!(
        "{name}, the copy of {owner}, serves none of {}'s load balancers and is not the fleet CodeDeploy names ([{}]), and no deployment of {} runs",
        group.name,
        group.fleet.join(", "),
        group.name
    );
    Verdict::Retire { held, evidence }
}

fn at_known_status(status: &str) -> bool {
    RUNNING_STATUSES.contains(&status) || ENDED_STATUSES.contains(&status)
}

/// Which of the group's instances (those leaving included) a held load balancer still serves,
/// or reports in a state relink does not know, or was not read: each as words.
fn serving(state: &GroupState, held: &Held, traffic: &Registrations) -> Vec<String> {
    let instances: Vec<&String> = state.instances.iter().chain(&state.leaving).collect();
    let lanes = held
        .target_groups
        .iter()
        .map(|arn| (short_name(arn), traffic.target_groups.get(arn)))
        .chain(
            held.load_balancers
                .iter()
                .map(|name| (name.as_str(), traffic.load_balancers.get(name))),
        );
    let mut found = Vec::new();
    for (name, lane) in lanes {
        let Some(lane) = lane else {
            found.push(format!("{name} was not read"));
            continue;
        };
        found.extend(serving_in(name, lane, &instances));
    }
    found
}

fn serving_in(name: &str, lane: &Traffic, instances: &[&String]) -> Vec<String> {
    let mut found: Vec<String> = instances
        .iter()
        .filter(|i| lane.serving.contains(**i))
        .map(|i| format!("{i} is a target of {name}"))
        .collect();
    found.extend(
        lane.unknown
            .iter()
            .filter(|(i, _)| instances.contains(&i))
            .map(|(i, state)| {
                format!("{i} is in state {state:?} of {name}, which relink does not count as gone")
            }),
    );
    found
}

/// What became of one copy that holds some of the deployment group's load balancers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetireOutcome {
    /// Its load balancers were detached.
    Retired,
    /// Dry run: they would have been detached.
    Planned,
    /// It keeps them, for the reason given.
    Kept,
    /// A detach call failed.
    Failed,
}

impl RetireOutcome {
    /// The outcome's name, as it appears in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RetireOutcome::Retired => "retired",
            RetireOutcome::Planned => "planned",
            RetireOutcome::Kept => "kept",
            RetireOutcome::Failed => "failed",
        }
    }
}

/// The record of one copy's retirement, or of why it kept what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    /// The copy (an Auto Scaling group).
    pub group: String,
    /// What became of it.
    pub outcome: RetireOutcome,
    /// Why it kept its load balancers (outcome `kept`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<KeepReason>,
    /// Target group ARNs: detached (`retired`), to detach (`planned`), held (`kept`, and what a
    /// failed call did not detach).
    pub target_groups: Vec<String>,
    /// Classic load balancer names, likewise.
    pub load_balancers: Vec<String>,
    /// The evidence, or the error.
    pub detail: String,
}

impl std::fmt::Display for Retirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = Held {
            target_groups: self.target_groups.clone(),
            load_balancers: self.load_balancers.clone(),
        }
        .names()
        .join(", ");
        match self.outcome {
            RetireOutcome::Retired => write!(
                f,
                "retired {}: detached {held} ({})",
                self.group, self.detail
            ),
            RetireOutcome::Planned => write!(
                f,
                "dry run: would retire {}: detach {held} ({})",
                self.group, self.detail
            ),
            RetireOutcome::Kept => write!(
                f,
                "{} keeps {held} ({}): {}",
                self.group,
                self.reason.map_or("kept", KeepReason::code),
                self.detail
            ),
            RetireOutcome::Failed => write!(f, "retiring {} failed: {}", self.group, self.detail),
        }
    }
}

#[cfg(test)]
mod tests;
