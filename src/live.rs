//! Is this Auto Scaling group the fleet its load balancers serve? Pure: the group's instances, what
//! is missing and where the load balancers send traffic now in; a verdict with its evidence out.
//!
//! # Why this check exists
//!
//! Attaching a target group or classic load balancer to an Auto Scaling group registers every
//! instance of the group with it. A copy that a newer deployment has moved traffic away from —
//! kept running by `KEEP_ALIVE`, or waiting out its termination time — still has the old
//! revision's instances; attaching to it puts them back into production. A late, replayed or
//! swept notification looks exactly like a timely one, so the message cannot tell; neither can
//! the deployment's status (`Succeeded` stays true for ever) nor the deployment group (during a
//! newer deployment's termination wait it still names the retired copy).
//!
//! # The mechanism
//!
//! The load balancers themselves say which fleet is live: CodeDeploy's traffic shift registers
//! the replacement group's instances with every target group and classic load balancer of the
//! deployment group, then deregisters the original's. So relink attaches a load balancer to a
//! group only when **every load balancer it is about to attach already has at least one of the
//! group's instances registered and not draining**. Attaching then only completes what is already
//! true: it adds the group's other instances (those launched after the shift, which nobody has
//! registered — exactly what the attachment is for) and lets Auto Scaling deregister and drain
//! instances on scale-in. It never routes traffic to a fleet that has none.
//!
//! What follows from it:
//! - **Retired copies** (traffic moved to a newer copy, `KEEP_ALIVE` or termination wait): their
//!   instances are deregistered or draining, so they are left alone ([`crate::decision::SkipReason::NotLive`]),
//!   whatever a late notification, a replay, the sweep or `audit --fix` asks for.
//! - **Running deployments**: the same signal tells when traffic has moved, for `TERMINATE` and
//!   `KEEP_ALIVE` alike; before it has, the skip is `traffic_not_shifted`.
//! - **A group taken out on purpose** (an operator detached it, which deregistered its instances)
//!   is not put back.
//! - **A group with no instances** (scaled to zero) shows no evidence and is left alone; once it
//!   has an instance behind the load balancers, the next notification or sweep links it.
//! - **Rollbacks**: CodeDeploy re-registers the original fleet, so the original is live again and
//!   the failed copy is not.
//! - Attachments the group already has are not evidence: only what someone else registered
//!   (CodeDeploy's traffic shift) counts, because only missing load balancers are examined.
//!
//! The check is made from the load balancers' state read just before the attach, never from the
//! message.

use crate::plan::{short_name, Plan};
use std::collections::{HashMap, HashSet};

/// Where the load balancers send traffic now: the instances each one has registered and not
/// draining.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registrations {
    /// Target group ARN → instance ids.
    pub target_groups: HashMap<String, HashSet<String>>,
    /// Classic load balancer name → instance ids.
    pub load_balancers: HashMap<String, HashSet<String>>,
}

/// Whether an Elastic Load Balancing v2 target in this state (`DescribeTargetHealth`'s
/// `TargetHealth.State`) is registered and not being deregistered.
pub fn target_serves(state: &str) -> bool {
    !matches!(state, "draining" | "unhealthy.draining")
}

/// Whether a classic load balancer instance in this state (`DescribeInstanceHealth`) is
/// registered and not being deregistered. A deregistering instance stays `InService` while
/// connection draining runs, with the description "Instance deregistration currently in
/// progress"; afterwards it is `OutOfService`, "not currently registered".
pub fn classic_serves(state: &str, description: Option<&str>) -> bool {
    let description = description.unwrap_or_default().to_ascii_lowercase();
    matches!(state, "InService" | "OutOfService")
        && !description.contains("deregistration")
        && !description.contains("not currently registered")
}

/// The verdict about one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Every load balancer to attach already serves some of the group's instances.
    Live,
    /// Some load balancer to attach serves none of them: the evidence, for people.
    NotLive(String),
}

/// Whether `group` (with `instances`) is live for every load balancer `plan` would attach.
pub fn assess(
    group: &str,
    instances: &[String],
    plan: &Plan,
    registrations: &Registrations,
) -> Liveness {
    if instances.is_empty() {
        return Liveness::NotLive(format!(
            "{group} has no instances, so no load balancer shows that it serves traffic"
        ));
    }
    let empty = HashSet::new();
    let lacking: Vec<String> = plan
        .target_groups
        .missing
        .iter()
        .map(|arn| {
            let serving = registrations.target_groups.get(arn).unwrap_or(&empty);
            (short_name(arn), serving)
        })
        .chain(plan.load_balancers.missing.iter().map(|name| {
            let serving = registrations.load_balancers.get(name).unwrap_or(&empty);
            (name.as_str(), serving)
        }))
        .filter(|(_, serving)| !instances.iter().any(|i| serving.contains(i)))
        .map(|(name, serving)| format!("{name}, which serves {} other instance(s)", serving.len()))
        .collect();
    if lacking.is_empty() {
        Liveness::Live
    } else {
        Liveness::NotLive(format!(
            "none of the {} instance(s) of {group} is registered with {}",
            instances.len(),
            lacking.join("; nor with ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG1: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-1/a";
    const TG2: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg-2/b";

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|i| i.to_string()).collect()
    }

    fn set(items: &[&str]) -> HashSet<String> {
        items.iter().map(|i| i.to_string()).collect()
    }

    fn plan(tgs: &[&str], clbs: &[&str]) -> Plan {
        Plan::new(&s(tgs), &[], &s(clbs), &[])
    }

    fn serving(tgs: &[(&str, &[&str])], clbs: &[(&str, &[&str])]) -> Registrations {
        Registrations {
            target_groups: tgs.iter().map(|(k, v)| (k.to_string(), set(v))).collect(),
            load_balancers: clbs.iter().map(|(k, v)| (k.to_string(), set(v))).collect(),
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
    fn every_load_balancer_to_attach_must_already_serve_the_group() {
        // Taken out of one target group on purpose: that one is evidence enough to stop.
        let verdict = assess(
            "G",
            &s(&["i-1"]),
            &plan(&[TG1, TG2], &["clb"]),
            &serving(&[(TG1, &["i-1"])], &[("clb", &["i-1"])]),
        );
        let Liveness::NotLive(evidence) = verdict else {
            panic!("{verdict:?}")
        };
        assert!(
            evidence.contains("web-tg-2, which serves 0 other"),
            "{evidence}"
        );
        assert!(!evidence.contains("web-tg-1"), "{evidence}");

        let classic = assess(
            "G",
            &s(&["i-1"]),
            &plan(&[TG1], &["clb"]),
            &serving(&[(TG1, &["i-1"])], &[]),
        );
        assert!(matches!(classic, Liveness::NotLive(e) if e.contains("clb")));
    }

    #[test]
    fn a_group_without_instances_shows_no_evidence() {
        let verdict = assess(
            "G",
            &[],
            &plan(&[TG1], &[]),
            &serving(&[(TG1, &["i-1"])], &[]),
        );
        assert!(matches!(verdict, Liveness::NotLive(e) if e.contains("has no instances")));
    }

    #[test]
    fn draining_and_deregistering_targets_do_not_count() {
        for state in ["healthy", "unhealthy", "initial", "unused", "unavailable"] {
            assert!(target_serves(state), "{state}");
        }
        for state in ["draining", "unhealthy.draining"] {
            assert!(!target_serves(state), "{state}");
        }
        assert!(classic_serves("InService", Some("N/A")));
        assert!(classic_serves("OutOfService", Some("Instance has failed at least the UnhealthyThreshold number of health checks consecutively.")));
        assert!(!classic_serves(
            "InService",
            Some("Instance deregistration currently in progress.")
        ));
        assert!(!classic_serves(
            "OutOfService",
            Some("Instance is not currently registered with the LoadBalancer.")
        ));
        assert!(!classic_serves("Unknown", None));
    }
}
