//! Desired versus current attachments, and the attach calls that close the gap. Pure.

use std::collections::HashMap;

/// The most target groups or classic load balancers one attach call may carry.
pub const MAX_PER_ATTACH_CALL: usize = 10;

/// An Auto Scaling group as `DescribeAutoScalingGroups` reports it, reduced to what the plan and
/// the live-fleet check need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    /// Target group ARNs (from `TargetGroupARNs` and `elbv2` traffic sources).
    pub target_group_arns: Vec<String>,
    /// Classic load balancer names (from `LoadBalancerNames` and `elb` traffic sources).
    pub load_balancer_names: Vec<String>,
    /// The group's `Status`, e.g. `Delete in progress`; unset for a live group.
    pub status: Option<String>,
    /// The ids of its instances, but those terminating or detaching: the instances an attach
    /// registers, now or when they leave a lifecycle hook or Standby.
    pub instances: Vec<String>,
    /// The ids of its instances that are terminating or detaching: no attach registers them, but
    /// a load balancer may still serve them, and a detach deregisters them.
    pub leaving: Vec<String>,
}

impl GroupState {
    /// Whether the group is being deleted.
    pub fn is_deleting(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.to_ascii_lowercase().contains("delete"))
    }
}

/// Why a group cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplannable {
    /// The group does not exist or is being deleted (a sentence saying which).
    Gone(String),
    /// Target group names of the deployment group that no target group has.
    TargetGroupsNotFound(Vec<String>),
}

/// What a deployment group wants attached to one Auto Scaling group (from its
/// [`crate::domain::decision::RelinkTarget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted<'a> {
    /// The Auto Scaling group.
    pub group: &'a str,
    /// The target groups of the deployment group's load balancer info, by name.
    pub target_group_names: &'a [String],
    /// Its classic load balancers.
    pub load_balancer_names: &'a [String],
}

/// Plans one group: its desired attachments (target group names resolved through `arns`)
/// against what `group` (`None`: not found) has.
pub fn plan_group(
    target: Wanted<'_>,
    arns: &HashMap<String, String>,
    group: Option<&GroupState>,
) -> Result<Plan, Unplannable> {
    let group = match group {
        Some(group) if !group.is_deleting() => group,
        gone => {
            let state = gone
                .and_then(|g| g.status.as_deref())
                .map_or("does not exist".to_owned(), |s| format!("is {s}"));
            return Err(Unplannable::Gone(format!(
                "Auto Scaling group {} {state}",
                target.group
            )));
        }
    };
    let (desired, unknown): (Vec<&String>, Vec<&String>) = target
        .target_group_names
        .iter()
        .partition(|name| arns.contains_key(*name));
    if !unknown.is_empty() {
        return Err(Unplannable::TargetGroupsNotFound(
            unknown.into_iter().cloned().collect(),
        ));
    }
    let desired: Vec<String> = desired.into_iter().map(|n| arns[n].clone()).collect();
    Ok(Plan::new(
        &desired,
        &group.target_group_arns,
        target.load_balancer_names,
        &group.load_balancer_names,
    ))
}

/// A target group's name from its ARN (`…:targetgroup/NAME/ID`); anything else as it is.
pub fn short_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(arn)
}

/// The plan against the group read again just before its attach ([`Plan::recheck`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    /// Nothing is missing any more: another invocation attached it.
    Linked(Plan),
    /// Some of what was missing arrived meanwhile: another invocation is attaching; leave it.
    BeingLinked(Plan),
    /// As missing as before (or more: detached meanwhile): attach what the plan says now.
    Attach(Plan),
}

/// How one kind of attachment compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Desired and not attached: to attach.
    pub missing: Vec<String>,
    /// Desired and already attached.
    pub present: Vec<String>,
    /// Attached but not desired: reported, never detached.
    pub extra: Vec<String>,
}

impl Diff {
    /// Compares `desired` with `current`, keeping the order of each and dropping duplicates.
    pub fn between(desired: &[String], current: &[String]) -> Self {
        let mut diff = Diff::default();
        for item in unique(desired) {
            if current.contains(item) {
                diff.present.push(item.clone());
            } else {
                diff.missing.push(item.clone());
            }
        }
        diff.extra = unique(current)
            .filter(|item| !desired.contains(item))
            .cloned()
            .collect();
        diff
    }

    /// The attach calls for what is missing: batches of at most [`MAX_PER_ATTACH_CALL`].
    pub fn batches(&self) -> impl Iterator<Item = &[String]> {
        self.missing.chunks(MAX_PER_ATTACH_CALL)
    }
}

fn unique(items: &[String]) -> impl Iterator<Item = &String> {
    items
        .iter()
        .enumerate()
        .filter(|(i, item)| !items[..*i].contains(item))
        .map(|(_, item)| item)
}

/// The plan for one replacement group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Target group ARNs.
    pub target_groups: Diff,
    /// Classic load balancer names.
    pub load_balancers: Diff,
}

impl Plan {
    /// Compares the desired target group ARNs and load balancer names with the group's current ones.
    pub fn new(
        desired_target_groups: &[String],
        current_target_groups: &[String],
        desired_load_balancers: &[String],
        current_load_balancers: &[String],
    ) -> Self {
        Plan {
            target_groups: Diff::between(desired_target_groups, current_target_groups),
            load_balancers: Diff::between(desired_load_balancers, current_load_balancers),
        }
    }

    /// The same desired attachments against `now`, the group as read again: what another
    /// invocation attached in the meantime is no longer missing.
    pub fn against(&self, now: &GroupState) -> Plan {
        let desired = |diff: &Diff| [diff.missing.clone(), diff.present.clone()].concat();
        Plan::new(
            &desired(&self.target_groups),
            &now.target_group_arns,
            &desired(&self.load_balancers),
            &now.load_balancer_names,
        )
    }

    /// What the group read again just before its attach (`now`) says: linked meanwhile, being
    /// linked by someone else (it gained some of what was missing), or still to attach.
    pub fn recheck(&self, now: &GroupState) -> Recheck {
        let fresh = self.against(now);
        let missing = |p: &Plan| p.target_groups.missing.len() + p.load_balancers.missing.len();
        if fresh.is_complete() {
            Recheck::Linked(fresh)
        } else if missing(&fresh) < missing(self) {
            Recheck::BeingLinked(fresh)
        } else {
            Recheck::Attach(fresh)
        }
    }

    /// Whether nothing is missing, so no mutating call is needed.
    pub fn is_complete(&self) -> bool {
        self.target_groups.missing.is_empty() && self.load_balancers.missing.is_empty()
    }
}

#[cfg(test)]
mod tests;
