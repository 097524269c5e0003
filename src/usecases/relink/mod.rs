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
//!    a deployment-level notification names ([`observe::observe`]); a deployment group only the API
//!    names (an instance-level SNS message names none) is observed in one round more. The sweep
//!    and the audit list and batch-read instead;
//! 2. `DescribeTargetGroups` ∥ `DescribeAutoScalingGroups` (the groups to link and every copy of
//!    the deployment groups' deployments) ∥ `BatchGetDeployments` (the deployments listed),
//!    batched across all jobs: what should be attached, what is, and which copies hold the
//!    deployment groups' load balancers; a group that misses nothing ends here, already linked.
//!    Beside it, for a deployment that reroutes, `ListDeploymentTargets`: CodeDeploy's own count
//!    of the replacement instances it has not routed to yet; any left, and the copy is left alone
//!    (`rerouting`) without a load balancer read;
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
//! 5. `DescribeAutoScalingGroups` of the group again, then the attach and detach calls: one
//!    group's calls one after another (Auto Scaling answers concurrent changes to one group with
//!    `ResourceContention`), different groups concurrently. What another invocation attached since
//!    round 2 is not attached again ([`crate::domain::plan::Plan::recheck`]).
//!
//! So a relink that attaches takes 5 sequential rounds (one more when its deployment group has
//! newer deployments, one more for the outage repair), an already linked group 2, a skip decided
//! from the deployment alone 1. Jobs for the same Auto Scaling group (two records of one
//! deployment, a deployment and its instances' successes) are one job: the first leads, the
//! others share its result, so two attaches to one group are never in flight together; and no
//! group is linked and retired by one reconcile. A failure that belongs to one group (its load
//! balancer gone, a read throttled or denied) fails that group's job alone. Each job is one record
//! ([`crate::domain::job::Job`]) that counts its rounds and becomes its report once, at the end.

mod group;
mod notified;
pub mod observe;
mod reconcile;
mod retire;
mod state;

pub use notified::relink;
pub use observe::{Key, Observed};
pub use reconcile::lookback_start;
pub use reconcile::reconcile;
pub use retire::Retired;

use crate::domain::job::{Ending, Job};
use crate::domain::report::Attempt;

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
