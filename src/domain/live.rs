//! May relink attach a load balancer to this Auto Scaling group? Pure: the group, its instances,
//! what is missing, where the load balancers send traffic now and what CodeDeploy says of the
//! deployment group in; a verdict with its evidence out.
//!
//! # Why this check exists
//!
//! Attaching a target group or classic load balancer to an Auto Scaling group registers every
//! instance of the group with it, and every instance it launches later. A copy that a newer
//! deployment is moving or has moved traffic away from — kept running by `KEEP_ALIVE`, or waiting
//! out its termination time — still runs the old revision; attaching to it puts that revision back
//! into production, for as long as the copy lives. A late, replayed or swept notification looks
//! exactly like a timely one, so the message cannot tell; neither can the deployment's status
//! (`Succeeded` stays true for ever) nor, during a newer deployment's termination wait, the
//! deployment group (it still names the retired copy).
//!
//! # The rule
//!
//! relink attaches load balancer L to group G only when all of these hold, read from AWS within
//! seconds of the attach, on every path (notification, replay, sweep, audit):
//!
//! 1. **G is the newest fleet of its deployment group** ([`superseded`]): no newer deployment of
//!    the group that *makes a fleet* has started. Only a deployment that copies a fleet
//!    supersedes: those CodeDeploy starts by itself ([`makes_fleet`]: `autoscaling`,
//!    `autoscalingTermination`, `CodeDeployAutoUpdate`, `codeDeployRollback`) copy nothing, and a
//!    rollback makes the fleet it returns to live again; a creator relink does not know counts
//!    as making a fleet. "Started" is any status but `Created`/`Queued`, a status relink does not
//!    know included. A newer deployment that failed or was stopped supersedes G only **where
//!    traffic is**: while its copy still serves some load balancer to attach (a rollback that
//!    has not finished, or none at all); otherwise the skip is `superseded` and names it. This
//!    is what keeps a copy out while a newer shift is half done: then both fleets are registered
//!    and the load balancers alone cannot tell which one is leaving.
//! 2. **Never ahead of CodeDeploy** ([`assess`] with `rerouting`): while G's deployment still
//!    reroutes (it runs and its termination wait has not begun), every instance of G that the
//!    attach would register must already serve each L to attach. CodeDeploy routes traffic at
//!    the pace of the deployment configuration (one instance, half, or all at a time, each
//!    through its BeforeAllowTraffic hooks); an attach in the middle would register the rest at
//!    once, and a later rollback would not take the attachment away. So a running copy is linked
//!    at its last replacement instance's success, seconds after the shift is complete. Otherwise
//!    the skip is `rerouting`.
//! 3. **Attaching displaces nobody** ([`assess`]): every L to attach already serves some of G's
//!    instances (CodeDeploy's traffic shift registered them) — attaching then only completes what
//!    is true: it adds G's instances launched since, which nobody registered, and lets Auto Scaling
//!    drain instances on scale-in. Or, **the outage repair**: L serves no instance at all, G's
//!    deployment succeeded and CodeDeploy names G as the deployment group's fleet
//!    ([`repair`]). Then the service is down (every instance CodeDeploy registered was replaced:
//!    scaled to zero and back, health replacements), and linking the named fleet is the repair.
//!
//! Why the per-instance view of CodeDeploy (`ListDeploymentTargets`) is not read for rule 2: the
//! load balancers are where an attach takes effect, they answer in the round relink reads anyway
//! (no extra round, no extra permission), and they also cover instances that CodeDeploy never
//! routes (a copy scaled out while it waits in Ready gets no revision and is no target).
//!
//! What follows from it:
//! - **Retired copies**: superseded, or their instances deregistered while another fleet is
//!   served: never linked ([`crate::domain::decision::SkipReason::NotLive`]); what they still
//!   hold is taken back under a rule of its own once the deployment group is at rest
//!   ([`crate::domain::retire`]).
//! - **Running deployments**: before their instances are registered, `traffic_not_shifted`;
//!   while some are and others are not, `rerouting`; once every instance serves (or the
//!   termination wait has begun) they are linked.
//! - **A group taken out on purpose** while another fleet serves the load balancer is not put
//!   back; a group taken out of a load balancer that then serves nothing at all is, when it is
//!   the named fleet: that is an outage, not a choice.
//! - **Rollbacks**: CodeDeploy re-registers the original fleet, so the original serves again and
//!   the failed copy does not; the rollback deployment itself makes no fleet.
//! - **Health states are an allow-list** ([`target_state`], [`classic_state`]): a state relink
//!   does not know never counts as serving, and does not count as "serves nothing" either; the
//!   evidence names it.
//! - Attachments the group already has are not evidence: only missing load balancers are
//!   examined, so only what someone else registered counts.

use crate::domain::plan::{short_name, Plan};
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

/// How a load balancer holds one registered instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Registered and not being deregistered: traffic may reach it.
    Serving,
    /// Being deregistered (draining) or not registered: on its way out.
    Leaving,
    /// A state relink does not know: neither serving nor leaving.
    Unknown,
}

/// An Elastic Load Balancing v2 target's `TargetHealth.State` (`DescribeTargetHealth`), by an
/// allow-list: `initial`, `healthy`, `unhealthy`, `unused` and `unavailable` are registered and
/// not leaving; `draining` and `unhealthy.draining` are leaving; anything else is unknown.
pub fn target_state(state: &str) -> Registration {
    match state {
        "initial" | "healthy" | "unhealthy" | "unused" | "unavailable" => Registration::Serving,
        "draining" | "unhealthy.draining" => Registration::Leaving,
        _ => Registration::Unknown,
    }
}

/// A classic load balancer instance's state (`DescribeInstanceHealth`). A deregistering instance
/// stays `InService` while connection draining runs, with the description "Instance
/// deregistration currently in progress"; afterwards it is `OutOfService`, "not currently
/// registered". `InService` and `OutOfService` otherwise serve; any other state is unknown.
pub fn classic_state(state: &str, description: Option<&str>) -> Registration {
    let description = description.unwrap_or_default().to_ascii_lowercase();
    if description.contains("deregistration") || description.contains("not currently registered") {
        return Registration::Leaving;
    }
    match state {
        "InService" | "OutOfService" => Registration::Serving,
        _ => Registration::Unknown,
    }
}

/// What one load balancer sends traffic to now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Instances registered and not leaving.
    pub serving: HashSet<String>,
    /// Instances in a state relink does not know, with that state.
    pub unknown: Vec<(String, String)>,
}

impl Traffic {
    /// Sorts one instance into the traffic by its registration.
    pub fn add(&mut self, instance: String, state: &str, registration: Registration) {
        match registration {
            Registration::Serving => {
                self.serving.insert(instance);
            }
            Registration::Unknown => self.unknown.push((instance, state.to_owned())),
            Registration::Leaving => {}
        }
    }
}

/// Where the load balancers to attach send traffic now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registrations {
    /// Target group ARN → its traffic.
    pub target_groups: HashMap<String, Traffic>,
    /// Classic load balancer name → its traffic.
    pub load_balancers: HashMap<String, Traffic>,
}

/// The verdict of [`assess`] about one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Every load balancer to attach already serves some of the group's instances.
    Live,
    /// Some load balancers to attach (named) serve no instance at all, the others serve the
    /// group: attaching displaces nobody only if the group is the deployment group's fleet
    /// ([`repair`]).
    Idle(Vec<String>),
    /// Some load balancer to attach serves other instances and none of the group's, or
    /// instances in a state relink does not know: the evidence, for people.
    NotLive(String),
    /// CodeDeploy is still rerouting and some load balancer to attach serves some of the group's
    /// instances but not all: attaching would register the rest ahead of it. The evidence.
    Ahead(String),
}

/// Whether attaching what `plan` misses to `group` (with `instances`, those an attach would
/// register) displaces nobody and, while its deployment is `rerouting`, registers no instance
/// CodeDeploy has not routed traffic to.
pub fn assess(
    group: &str,
    instances: &[String],
    plan: &Plan,
    registrations: &Registrations,
    rerouting: bool,
) -> Liveness {
    let empty = Traffic::default();
    let missing = plan
        .target_groups
        .missing
        .iter()
        .map(|arn| (short_name(arn), registrations.target_groups.get(arn)))
        .chain(
            plan.load_balancers
                .missing
                .iter()
                .map(|name| (name.as_str(), registrations.load_balancers.get(name))),
        );
    let mut idle = Vec::new();
    let mut lacking = Vec::new();
    let mut ahead = Vec::new();
    for (name, traffic) in missing {
        let traffic = traffic.unwrap_or(&empty);
        if instances.iter().any(|i| traffic.serving.contains(i)) {
            let unrouted: Vec<&str> = instances
                .iter()
                .filter(|i| !traffic.serving.contains(*i))
                .map(String::as_str)
                .collect();
            if rerouting && !unrouted.is_empty() {
                ahead.push(format!("{name} ({})", unrouted.join(", ")));
            }
            continue;
        }
        if traffic.serving.is_empty() && traffic.unknown.is_empty() {
            idle.push(name.to_owned());
            continue;
        }
        let mut why = format!(
            "{name}, which serves {} other instance(s)",
            traffic.serving.len()
        );
        if !traffic.unknown.is_empty() {
            let states: Vec<String> = traffic
                .unknown
                .iter()
                .map(|(instance, state)| format!("{instance} in state {state:?}"))
                .collect();
            why.push_str(&format!(
                " and reports {}, which relink does not count as serving",
                states.join(", ")
            ));
        }
        lacking.push(why);
    }
    if !lacking.is_empty() {
        return Liveness::NotLive(format!(
            "none of the {} instance(s) of {group} is registered with {}",
            instances.len(),
            lacking.join("; nor with ")
        ));
    }
    if !ahead.is_empty() {
        return Liveness::Ahead(format!(
            "CodeDeploy is still rerouting traffic to {group}: instance(s) not routed to yet by {}",
            ahead.join("; by ")
        ));
    }
    if idle.is_empty() {
        Liveness::Live
    } else {
        Liveness::Idle(idle)
    }
}

/// The outage repair: load balancers `idle` serve no instance at all. Attaching them to `group`
/// displaces nobody when the group's deployment succeeded (`settled`) and CodeDeploy names the
/// group as the fleet of `deployment_group` (`fleet`, its `autoScalingGroups`). `Ok` says so for
/// the report; `Err` says why not.
pub fn repair(
    group: &str,
    idle: &[String],
    settled: bool,
    deployment_group: &str,
    fleet: &[String],
) -> Result<String, String> {
    let served = if idle.len() == 1 {
        format!("{} served no instance", idle[0])
    } else {
        format!("{} served no instance", idle.join(", "))
    };
    if !settled {
        return Err(format!(
            "{served}, and {group}'s deployment has not succeeded: traffic has not moved to it"
        ));
    }
    if fleet.iter().any(|g| g == group) {
        Ok(format!(
            "{served}; CodeDeploy names {group} as the fleet of {deployment_group}"
        ))
    } else {
        Err(format!(
            "{served}, but CodeDeploy names [{}] as the fleet of {deployment_group}, not {group}",
            fleet.join(", ")
        ))
    }
}

/// Creators of the deployments CodeDeploy starts by itself: a scale-out or health replacement
/// (`autoscaling`), a termination hook (`autoscalingTermination`), an outdated instance
/// (`CodeDeployAutoUpdate`), an automatic rollback (`codeDeployRollback`). None copies a fleet.
pub const FLEETLESS_CREATORS: [&str; 4] = [
    "autoscaling",
    "autoscalingTermination",
    "CodeDeployAutoUpdate",
    "codeDeployRollback",
];

/// Whether a deployment made by `creator` copies a fleet. A creator relink does not know (or
/// none) counts as making one: the safe side, since it then supersedes older copies.
pub fn makes_fleet(creator: Option<&str>) -> bool {
    !creator.is_some_and(|c| FLEETLESS_CREATORS.contains(&c))
}

/// Statuses of a deployment that has not started: it has moved no traffic and copied nothing.
pub const NOT_STARTED: [&str; 2] = ["Created", "Queued"];

/// Statuses of a deployment that ended without success: CodeDeploy moves traffic back when it
/// rolls back, but not always (no automatic rollback, a rollback that failed).
pub const ENDED_WITHOUT_SUCCESS: [&str; 2] = ["Failed", "Stopped"];

/// The deployment a group is the copy of, from which "newer" is measured: the group's own
/// deployment and its creation time, each when known. Unknown, every started sibling counts as
/// newer (fail closed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOf {
    /// The deployment whose copy the group is.
    pub deployment_id: Option<String>,
    /// Its `createTime`.
    pub created_at: Option<SystemTime>,
}

/// Another deployment of the same deployment group, as `BatchGetDeployments` reports it just
/// before the attach, with where its copy's traffic is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sibling {
    /// Its id.
    pub deployment_id: String,
    /// Its status.
    pub status: String,
    /// Its `creator`, when reported.
    pub creator: Option<String>,
    /// When it was created.
    pub created_at: Option<SystemTime>,
    /// Whether its copy (`CodeDeploy_<group>_<id>`) exists and some instance of it is served by a
    /// load balancer to attach.
    pub copy_serves: bool,
}

/// The newest sibling that supersedes the group that is the copy of `own` (rule 1 of the module
/// documentation), with the reason in words. Pure.
pub fn superseded<'a>(own: &CopyOf, siblings: &'a [Sibling]) -> Option<(&'a Sibling, String)> {
    siblings
        .iter()
        .filter(|s| own.deployment_id.as_deref() != Some(s.deployment_id.as_str()))
        .filter(|s| match (own.created_at, s.created_at) {
            (Some(mine), Some(theirs)) => theirs > mine,
            // Unknown either side: fail closed, it may be newer.
            _ => true,
        })
        .filter(|s| makes_fleet(s.creator.as_deref()))
        .filter(|s| !NOT_STARTED.contains(&s.status.as_str()))
        .filter_map(|s| {
            let creator = s.creator.as_deref().unwrap_or("unknown");
            let why = if !ENDED_WITHOUT_SUCCESS.contains(&s.status.as_str()) {
                format!(
                    "{} ({}, created by {creator}) has started",
                    s.deployment_id, s.status
                )
            } else if s.copy_serves {
                format!(
                    "{} ({}, created by {creator}) left traffic on its copy",
                    s.deployment_id, s.status
                )
            } else {
                return None;
            };
            Some((s, why))
        })
        .max_by_key(|(s, _)| s.created_at)
}

#[cfg(test)]
mod tests;
