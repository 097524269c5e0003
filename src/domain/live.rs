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
//! relink attaches load balancer L to group G only when both hold, read from AWS just before the
//! attach, on every path (notification, replay, sweep, audit):
//!
//! 1. **G is the newest copy of its deployment group**: no newer deployment of the group has
//!    started (created after G's, and past `Created`/`Queued`; one that failed or was stopped
//!    moved nothing for good, since CodeDeploy moves traffic back). Otherwise the skip is
//!    `superseded` and names the newer deployment ([`newer_deployment`]). This is what keeps a
//!    copy out while a newer shift is half done: then both fleets are registered and the load
//!    balancers alone cannot tell which one is leaving.
//! 2. **Attaching displaces nobody** ([`assess`]): every L to attach already serves some of G's
//!    instances (CodeDeploy's traffic shift registered them) — attaching then only completes what
//!    is true: it adds G's instances launched since, which nobody registered, and lets Auto Scaling
//!    drain instances on scale-in. Or, **the outage repair**: L serves no instance at all, G's
//!    deployment succeeded and CodeDeploy names G as the deployment group's fleet
//!    ([`repair`]). Then the service is down (every instance CodeDeploy registered was replaced:
//!    scaled to zero and back, health replacements), and linking the named fleet is the repair.
//!
//! What follows from it:
//! - **Retired copies**: superseded, or their instances deregistered while another fleet is
//!   served: left alone ([`crate::domain::decision::SkipReason::NotLive`]).
//! - **Running deployments**: before their instances are registered, `traffic_not_shifted`; from
//!   the first replacement instance's success (after its AllowTraffic) they are linked.
//! - **A group taken out on purpose** while another fleet serves the load balancer is not put
//!   back; a group taken out of a load balancer that then serves nothing at all is, when it is
//!   the named fleet: that is an outage, not a choice.
//! - **Rollbacks**: CodeDeploy re-registers the original fleet, so the original serves again and
//!   the failed copy does not.
//! - **Health states are an allow-list** ([`target_state`], [`classic_state`]): a state relink
//!   does not know never counts as serving, and does not count as "serves nothing" either; the
//!   evidence names it.
//! - Attachments the group already has are not evidence: only missing load balancers are
//!   examined, so only what someone else registered counts.

use crate::domain::plan::{short_name, Plan};
use std::collections::{HashMap, HashSet};

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
}

/// Whether attaching what `plan` misses to `group` (with `instances`) displaces nobody.
pub fn assess(
    group: &str,
    instances: &[String],
    plan: &Plan,
    registrations: &Registrations,
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
    for (name, traffic) in missing {
        let traffic = traffic.unwrap_or(&empty);
        if instances.iter().any(|i| traffic.serving.contains(i)) {
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

/// A deployment of the same deployment group, as a listing reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sibling {
    /// Its id.
    pub deployment_id: String,
    /// Its status.
    pub status: String,
    /// When it was created.
    pub created_at: Option<std::time::SystemTime>,
}

/// Statuses of a deployment that has started and may move (or has moved) traffic: past
/// `Created`/`Queued`, and not `Failed`/`Stopped` (CodeDeploy moves traffic back from those).
pub const STARTED_STATUSES: [&str; 4] = ["InProgress", "Baking", "Ready", "Succeeded"];

/// The newest deployment among `siblings` (of the same deployment group) that was created after
/// `created_at` and has started ([`STARTED_STATUSES`]): the one that supersedes the deployment
/// `deployment_id`. Where a creation time is unknown the sibling is taken as newer (fail closed).
pub fn newer_deployment<'a>(
    deployment_id: &str,
    created_at: Option<std::time::SystemTime>,
    siblings: &'a [Sibling],
) -> Option<&'a Sibling> {
    siblings
        .iter()
        .filter(|s| s.deployment_id != deployment_id)
        .filter(|s| STARTED_STATUSES.contains(&s.status.as_str()))
        .filter(|s| match (created_at, s.created_at) {
            (Some(mine), Some(theirs)) => theirs > mine,
            // Unknown either side: fail closed, it may be newer.
            _ => true,
        })
        .max_by_key(|s| s.created_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    const TG1: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-1/a";
    const TG2: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-2/b";

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|i| i.to_string()).collect()
    }

    fn traffic(serving: &[&str]) -> Traffic {
        Traffic {
            serving: serving.iter().map(|i| i.to_string()).collect(),
            unknown: Vec::new(),
        }
    }

    fn plan(tgs: &[&str], clbs: &[&str]) -> Plan {
        Plan::new(&s(tgs), &[], &s(clbs), &[])
    }

    fn serving(tgs: &[(&str, &[&str])], clbs: &[(&str, &[&str])]) -> Registrations {
        Registrations {
            target_groups: tgs
                .iter()
                .map(|(k, v)| (k.to_string(), traffic(v)))
                .collect(),
            load_balancers: clbs
                .iter()
                .map(|(k, v)| (k.to_string(), traffic(v)))
                .collect(),
        }
    }

    #[test]
    fn a_group_whose_instances_the_load_balancers_serve_is_live() {
        let live = assess(
            "G2",
            &s(&["i-3", "i-4"]),
            &plan(&[TG1, TG2], &["clb"]),
            &serving(
                &[(TG1, &["i-3", "i-4"]), (TG2, &["i-3"])],
                &[("clb", &["i-4"])],
            ),
        );
        assert_eq!(live, Liveness::Live);
    }

    #[test]
    fn instances_launched_after_the_shift_do_not_make_it_less_live() {
        // i-5 scaled out after the shift and is registered nowhere: attaching is what it needs.
        let verdict = assess(
            "G2",
            &s(&["i-3", "i-4", "i-5"]),
            &plan(&[TG1], &[]),
            &serving(&[(TG1, &["i-3", "i-4"])], &[]),
        );
        assert_eq!(verdict, Liveness::Live);
    }

    #[test]
    fn a_retired_copy_is_not_live_and_the_evidence_names_it() {
        let verdict = assess(
            "CodeDeploy_web_d-1",
            &s(&["i-1", "i-2"]),
            &plan(&[TG1], &[]),
            &serving(&[(TG1, &["i-3", "i-4"])], &[]),
        );
        let Liveness::NotLive(evidence) = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(
            evidence,
            "none of the 2 instance(s) of CodeDeploy_web_d-1 is registered with web-tg-1, which serves 2 other instance(s)"
        );
    }

    #[test]
    fn every_load_balancer_to_attach_must_serve_the_group_or_nobody() {
        // Out of web-tg-2 while it serves another instance: evidence enough to stop.
        let verdict = assess(
            "G",
            &s(&["i-1"]),
            &plan(&[TG1, TG2], &["clb"]),
            &serving(&[(TG1, &["i-1"]), (TG2, &["i-9"])], &[("clb", &["i-1"])]),
        );
        let Liveness::NotLive(evidence) = verdict else {
            panic!("{verdict:?}")
        };
        assert!(
            evidence.contains("web-tg-2, which serves 1 other"),
            "{evidence}"
        );
        assert!(!evidence.contains("web-tg-1"), "{evidence}");

        // A load balancer that serves nobody is idle: for the outage repair to decide.
        let idle = assess(
            "G",
            &s(&["i-1"]),
            &plan(&[TG1], &["clb"]),
            &serving(&[(TG1, &["i-1"])], &[]),
        );
        assert_eq!(idle, Liveness::Idle(s(&["clb"])));
    }

    #[test]
    fn a_group_without_instances_behind_idle_load_balancers_is_idle() {
        let verdict = assess("G", &[], &plan(&[TG1], &[]), &serving(&[(TG1, &[])], &[]));
        assert_eq!(verdict, Liveness::Idle(s(&["web-tg-1"])));
        let verdict = assess(
            "G",
            &[],
            &plan(&[TG1], &[]),
            &serving(&[(TG1, &["i-1"])], &[]),
        );
        assert!(matches!(verdict, Liveness::NotLive(e) if e.contains("none of the 0 instance(s)")));
    }

    #[test]
    fn unknown_states_neither_serve_nor_leave_the_load_balancer_idle() {
        let mut registrations = serving(&[], &[]);
        let mut odd = Traffic::default();
        odd.add("i-1".into(), "warming", target_state("warming"));
        registrations.target_groups.insert(TG1.into(), odd);
        let verdict = assess("G", &s(&["i-1"]), &plan(&[TG1], &[]), &registrations);
        let Liveness::NotLive(evidence) = verdict else {
            panic!("{verdict:?}")
        };
        assert!(
            evidence.contains(
                "reports i-1 in state \"warming\", which relink does not count as serving"
            ),
            "{evidence}"
        );
    }

    #[test]
    fn health_states_are_an_allow_list() {
        for state in ["healthy", "unhealthy", "initial", "unused", "unavailable"] {
            assert_eq!(target_state(state), Registration::Serving, "{state}");
        }
        for state in ["draining", "unhealthy.draining"] {
            assert_eq!(target_state(state), Registration::Leaving, "{state}");
        }
        for state in ["", "Healthy", "warming", "healthy.draining"] {
            assert_eq!(target_state(state), Registration::Unknown, "{state}");
        }
        assert_eq!(
            classic_state("InService", Some("N/A")),
            Registration::Serving
        );
        assert_eq!(
            classic_state("OutOfService", Some("Instance has failed at least the UnhealthyThreshold number of health checks consecutively.")),
            Registration::Serving
        );
        assert_eq!(
            classic_state(
                "InService",
                Some("Instance deregistration currently in progress.")
            ),
            Registration::Leaving
        );
        assert_eq!(
            classic_state(
                "OutOfService",
                Some("Instance is not currently registered with the LoadBalancer.")
            ),
            Registration::Leaving
        );
        assert_eq!(classic_state("Unknown", None), Registration::Unknown);
    }

    #[test]
    fn the_outage_repair_needs_success_and_the_deployment_group_naming_the_group() {
        let fleet = s(&["CodeDeploy_web_d-1"]);
        assert_eq!(
            repair("CodeDeploy_web_d-1", &s(&["web-tg-1"]), true, "web/web-bg", &fleet),
            Ok("web-tg-1 served no instance; CodeDeploy names CodeDeploy_web_d-1 as the fleet of web/web-bg".into())
        );
        let other = repair(
            "CodeDeploy_web_d-0",
            &s(&["web-tg-1"]),
            true,
            "web/web-bg",
            &fleet,
        );
        assert!(matches!(other, Err(e) if e.contains("not CodeDeploy_web_d-0")));
        let running = repair(
            "CodeDeploy_web_d-1",
            &s(&["web-tg-1"]),
            false,
            "web/web-bg",
            &fleet,
        );
        assert!(matches!(running, Err(e) if e.contains("has not succeeded")));
    }

    #[test]
    fn a_newer_started_deployment_supersedes() {
        let t = |s: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let sibling = |id: &str, status: &str, at| Sibling {
            deployment_id: id.into(),
            status: status.into(),
            created_at: at,
        };
        let siblings = [
            sibling("d-0", "Succeeded", t(50)),
            sibling("d-1", "Succeeded", t(100)),
            sibling("d-2", "Failed", t(200)),
            sibling("d-3", "Queued", t(300)),
        ];
        assert_eq!(newer_deployment("d-1", t(100), &siblings), None);
        let started = [&siblings[..], &[sibling("d-4", "InProgress", t(400))]].concat();
        assert_eq!(
            newer_deployment("d-1", t(100), &started).map(|s| s.deployment_id.as_str()),
            Some("d-4")
        );
        assert_eq!(
            newer_deployment("d-0", t(50), &siblings).map(|s| s.deployment_id.as_str()),
            Some("d-1")
        );
        // Unknown creation times fail closed.
        assert!(newer_deployment("d-1", None, &siblings).is_some());
        assert!(newer_deployment("d-1", t(100), &[sibling("d-9", "Ready", None)]).is_some());
    }
}
