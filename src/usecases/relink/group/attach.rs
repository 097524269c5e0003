//! Round 5 for one group: read it again, then attach what is still missing.

use super::Flight;
use crate::aws::{autoscaling, Clients};
use crate::domain::decision::{RelinkTarget, Skip, SkipReason, Stage};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::job::Ending;
use crate::domain::plan::{Plan, Recheck};
use std::time::SystemTime;

impl Flight<'_> {
    /// The attach round: what is missing, attached; what is missing decided from the group read
    /// again the moment before. Two batches of one deployment's notifications may be in two
    /// invocations at once (the queue's mapping runs two at least): the one that reads the group
    /// after the other attached finds it linked, or being linked, and changes nothing.
    pub(super) async fn attach(
        &mut self,
        clients: &Clients,
        target: &RelinkTarget,
        plan: &Plan,
    ) -> Ending {
        self.job.round();
        let mut now =
            autoscaling::describe_groups(&clients.autoscaling, std::slice::from_ref(&target.group))
                .await;
        if let Some(error) = now.failed.remove(&target.group) {
            return self.job.failure(error);
        }
        let group = match now.groups.get(&target.group) {
            Some(group) if group.status.is_none() => group,
            gone => {
                let status = gone.and_then(|g| g.status.as_deref()).unwrap_or("gone");
                return Ending::Skipped(Skip::new(
                    SkipReason::ReplacementGroupGone,
                    format!("Auto Scaling group {} is {status}", target.group),
                ));
            }
        };
        let plan = match plan.recheck(group) {
            Recheck::Linked(now) => {
                self.job.plan = now;
                return Ending::AlreadyLinked;
            }
            Recheck::BeingLinked(now) => {
                self.job.plan = now;
                return Ending::Skipped(Skip::new(
                    SkipReason::BeingLinked,
                    format!(
                        "{} gained some of its load balancers since relink read it: another invocation is linking it",
                        target.group
                    ),
                ));
            }
            Recheck::Attach(now) => now,
        };
        self.job.plan = plan.clone();
        self.job.round();
        let (attached, failures) = attach(clients, &target.group, &plan).await;
        self.job.attached_target_groups = attached.target_groups;
        self.job.attached_load_balancers = attached.load_balancers;
        if !failures.is_empty() {
            return Ending::Failed(RelinkError::Attach {
                subject: self.job.subject.describe(),
                group: target.group.clone(),
                failures,
            });
        }
        if let Stage::Settled { since: Some(since) } = target.stage {
            self.job.attach_delay = SystemTime::now().duration_since(since).ok();
        }
        Ending::Relinked
    }
}

/// What the attach round attached.
#[derive(Default)]
struct Attached {
    target_groups: Vec<String>,
    load_balancers: Vec<String>,
}

/// The attach calls for one group: each batch of target groups, then each batch of classic load
/// balancers, one call after another. A failed call does not stop the others; the report says
/// what was attached and what is still missing.
async fn attach(clients: &Clients, group: &str, plan: &Plan) -> (Attached, Vec<AwsError>) {
    let client = &clients.autoscaling;
    let mut attached = Attached::default();
    let mut failures = Vec::new();
    for batch in plan.target_groups.batches() {
        match autoscaling::attach_target_groups(client, group, batch).await {
            Ok(()) => attached.target_groups.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    for batch in plan.load_balancers.batches() {
        match autoscaling::attach_load_balancers(client, group, batch).await {
            Ok(()) => attached.load_balancers.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    (attached, failures)
}
