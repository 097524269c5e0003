//! Rounds 2 to 5 for one Auto Scaling group: its plan from round 2's reads, then — just before
//! its attach — the evidence (the load balancers' traffic, newer deployments, the fleet
//! CodeDeploy names), the live-fleet rule ([`crate::domain::live`]) and the attach calls.

use super::state::State;
use crate::aws::{autoscaling, codedeploy, elb, elbv2, Clients};
use crate::domain::decision::{
    replacement_group_name, DeploymentFacts, RelinkTarget, Skip, SkipReason, Stage,
};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::job::{Ending, Job, Step};
use crate::domain::live::{assess, repair, superseded, Liveness, Registrations, Sibling};
use crate::domain::plan::{plan_group, Plan, Unplannable};
use std::collections::HashMap;

mod attach;

/// One group's job from round 2 on: its record gains what each round finds and counts the rounds.
pub(super) struct Flight<'a> {
    job: &'a mut Job,
    /// The deployments of its deployment group read so far (rounds 1 and 2).
    read: &'a [&'a DeploymentFacts],
}

impl<'a> Flight<'a> {
    pub(super) fn new(job: &'a mut Job, read: &'a [&'a DeploymentFacts]) -> Self {
        Flight { job, read }
    }

    /// Rounds 2 to 5 for a job whose step is [`Step::Link`]; it ends the job.
    pub(super) async fn run(mut self, clients: &Clients, dry_run: bool, state: &State) {
        let Step::Link(target) = std::mem::replace(&mut self.job.step, Step::Read) else {
            return;
        };
        self.job.group = Some(target.group.clone());
        let ending = self.rounds(clients, dry_run, &target, state).await;
        self.job.end(ending);
    }

    /// The deployment group, as `app/group`.
    fn deployment_group(&self) -> (&str, &str) {
        let subject = &self.job.subject;
        (
            subject.application.as_deref().unwrap_or_default(),
            subject.deployment_group.as_deref().unwrap_or_default(),
        )
    }

    /// Rounds 2 to 5 for one group.
    async fn rounds(
        &mut self,
        clients: &Clients,
        dry_run: bool,
        target: &RelinkTarget,
        state: &State,
    ) -> Ending {
        self.job.round();
        let plan = match self.plan(target, state) {
            Ok(plan) => plan,
            Err(ending) => return ending,
        };
        self.job.plan = plan.clone();
        if plan.is_complete() {
            return Ending::AlreadyLinked;
        }
        // What rounds 1 and 2 read already shows a newer deployment that makes a fleet started: a
        // skip needs no evidence (only a change does).
        let siblings: Vec<Sibling> = self.read.iter().map(|d| sibling(d, false)).collect();
        if let Some((_, why)) = superseded(&target.copy_of, &siblings) {
            return self.superseded(target, &why);
        }
        // And CodeDeploy's own count, read beside round 2, already says it still reroutes: no
        // load balancer need be read to leave the copy alone.
        if let Some(unrouted) = unrouted(target, state) {
            return Ending::Skipped(Skip::new(
                SkipReason::Rerouting,
                format!(
                    "CodeDeploy is still rerouting traffic to {}: {unrouted} of its replacement instance(s) not routed to yet, by CodeDeploy's own count",
                    target.group
                ),
            ));
        }
        let instances = state
            .described
            .groups
            .get(&target.group)
            .map(|g| g.instances.clone())
            .unwrap_or_default();

        if let Err(ending) = self
            .evidence(clients, dry_run, target, &plan, &instances)
            .await
        {
            return ending;
        }
        if dry_run {
            return Ending::Planned;
        }
        self.attach(clients, target, &plan).await
    }

    /// Round 3 (and 3b, 4 when needed): the evidence, read now, within seconds of the attach, and
    /// the rule; `Err` with the ending when the group is left alone or a read failed. Beside it,
    /// and never between it and the attach, the CLI names the account a change would go to.
    async fn evidence(
        &mut self,
        clients: &Clients,
        dry_run: bool,
        target: &RelinkTarget,
        plan: &Plan,
        instances: &[String],
    ) -> Result<(), Ending> {
        self.job.round();
        let announce = async {
            if let Some(before) = &clients.before_change {
                before.call(dry_run).await;
            }
        };
        let (traffic, listed, ()) = tokio::join!(
            read_traffic(clients, plan),
            self.list_siblings(clients, target),
            announce
        );
        let (registrations, listed) = match (traffic, listed) {
            (Ok(registrations), Ok(listed)) => (registrations, listed),
            (Err(error), _) | (_, Err(error)) => return Err(self.job.failure(error)),
        };
        if let Some(ending) = self
            .supersession(clients, target, &registrations, &listed)
            .await
        {
            return Err(ending);
        }
        let rerouting = matches!(target.stage, Stage::Running { rerouting: true });
        match assess(&target.group, instances, plan, &registrations, rerouting) {
            Liveness::Live => Ok(()),
            Liveness::NotLive(evidence) => Err(not_live(target.stage, evidence)),
            Liveness::Ahead(evidence) => {
                Err(Ending::Skipped(Skip::new(SkipReason::Rerouting, evidence)))
            }
            Liveness::Idle(idle) => {
                self.job.repair = Some(self.repair(clients, target, &idle).await?);
                Ok(())
            }
        }
    }

    /// Compares the group's desired attachments with its own, from round 2. Pure.
    fn plan(&self, target: &RelinkTarget, state: &State) -> Result<Plan, Ending> {
        let failed = target
            .target_group_names
            .iter()
            .find_map(|name| state.resolved.failed.get(name))
            .or_else(|| state.described.failed.get(&target.group));
        if let Some(error) = failed {
            return Err(self.job.failure(error.clone()));
        }
        let group = state.described.groups.get(&target.group);
        plan_group(target.wanted(), &state.resolved.arns, group).map_err(|unplannable| {
            match unplannable {
                // A running deployment's copy may not be there yet.
                Unplannable::Gone(detail) if matches!(target.stage, Stage::Running { .. }) => {
                    Ending::Skipped(Skip::new(SkipReason::TrafficNotShifted, detail))
                }
                Unplannable::Gone(detail) => {
                    Ending::Skipped(Skip::new(SkipReason::ReplacementGroupGone, detail))
                }
                Unplannable::TargetGroupsNotFound(names) => {
                    let (application, deployment_group) = self.deployment_group();
                    Ending::Failed(RelinkError::TargetGroupsNotFound {
                        subject: self.job.subject.describe(),
                        application: application.to_owned(),
                        deployment_group: deployment_group.to_owned(),
                        names,
                    })
                }
            }
        })
    }

    /// Round 3, beside the traffic: the ids of the deployment group's deployments, of any
    /// status, created since the group's own deployment (all of them when its creation time is
    /// unknown), but the group's own.
    async fn list_siblings(
        &self,
        clients: &Clients,
        target: &RelinkTarget,
    ) -> Result<Vec<String>, AwsError> {
        let (application, group) = self.deployment_group();
        let ids = codedeploy::list_group_deployments(
            &clients.codedeploy,
            application,
            group,
            &[],
            target.copy_of.created_at,
        )
        .await?;
        let own = target.copy_of.deployment_id.as_deref();
        Ok(ids
            .into_iter()
            .filter(|id| Some(id.as_str()) != own)
            .collect())
    }

    /// Round 3b, only when the listing shows deployments besides the group's own (`listed`):
    /// who made them, their status now and whether their copies serve. The ending when one of
    /// them supersedes the group, or the read failed.
    async fn supersession(
        &mut self,
        clients: &Clients,
        target: &RelinkTarget,
        registrations: &Registrations,
        listed: &[String],
    ) -> Option<Ending> {
        if listed.is_empty() {
            return None;
        }
        self.job.round();
        let siblings = match read_siblings(clients, self.deployment_group().1, listed).await {
            Ok(read) => siblings(read, registrations),
            Err(error) => return Some(self.job.failure(error)),
        };
        let (_, why) = superseded(&target.copy_of, &siblings)?;
        Some(self.superseded(target, &why))
    }

    /// The skip of a group a newer deployment supersedes (`why`).
    fn superseded(&self, target: &RelinkTarget, why: &str) -> Ending {
        let (application, group) = self.deployment_group();
        Ending::Skipped(Skip::new(
            SkipReason::Superseded,
            format!(
                "a newer deployment of {application}/{group}, {why}: {} is not its newest fleet",
                target.group
            ),
        ))
    }

    /// Round 4, only when some load balancer to attach (`idle`) serves no instance at all: the
    /// outage repair, if CodeDeploy names the group as its deployment group's fleet.
    async fn repair(
        &mut self,
        clients: &Clients,
        target: &RelinkTarget,
        idle: &[String],
    ) -> Result<String, Ending> {
        let settled = matches!(target.stage, Stage::Settled { .. });
        let (application, group) = self.deployment_group();
        let name = format!("{application}/{group}");
        let fleet = match (&target.fleet, settled) {
            (Some(fleet), _) => fleet.clone(),
            // Not needed to say no.
            (None, false) => Vec::new(),
            (None, true) => {
                let read =
                    codedeploy::deployment_group_fleet(&clients.codedeploy, application, group)
                        .await;
                self.job.round();
                read.map_err(|error| self.job.failure(error))?
            }
        };
        repair(&target.group, idle, settled, &name, &fleet)
            .map_err(|evidence| not_live(target.stage, evidence))
    }
}

/// How many replacement instances CodeDeploy says it has not routed traffic to yet, when the
/// group's deployment still reroutes and that is some; a count that could not be read says
/// nothing (the load balancers will).
fn unrouted(target: &RelinkTarget, state: &State) -> Option<usize> {
    if !matches!(target.stage, Stage::Running { rerouting: true }) {
        return None;
    }
    let id = target.copy_of.deployment_id.as_deref()?;
    match state.unrouted.get(id)? {
        Ok(0) => None,
        Ok(count) => Some(*count),
        Err(error) => {
            tracing::warn!(%error, "CodeDeploy's count of the instances it rerouted could not be read; the load balancers decide");
            None
        }
    }
}

/// The skip for a group the rule keeps out: traffic has not moved to a running deployment's copy
/// yet, or a settled group is not the live fleet.
fn not_live(stage: Stage, evidence: String) -> Ending {
    let reason = match stage {
        Stage::Running { .. } => SkipReason::TrafficNotShifted,
        Stage::Settled { .. } => SkipReason::NotLive,
    };
    Ending::Skipped(Skip::new(reason, evidence))
}

/// What round 3b read: the listed deployments and their copies, as they are now.
struct SiblingsRead {
    deployments: Vec<crate::domain::decision::DeploymentFacts>,
    copies: autoscaling::Described,
}

/// Round 3b: the listed deployments (`BatchGetDeployments`) ∥ their copies, by CodeDeploy's
/// naming (`DescribeAutoScalingGroups`; deployments that copy nothing have none).
async fn read_siblings(
    clients: &Clients,
    deployment_group: &str,
    ids: &[String],
) -> Result<SiblingsRead, AwsError> {
    let copies: Vec<String> = ids
        .iter()
        .map(|id| replacement_group_name(deployment_group, id))
        .collect();
    let (deployments, copies) = tokio::join!(
        codedeploy::batch_get_deployments(&clients.codedeploy, ids),
        autoscaling::describe_groups(&clients.autoscaling, &copies)
    );
    if let Some(error) = copies.failed.values().next() {
        return Err(error.clone());
    }
    Ok(SiblingsRead {
        deployments: deployments?,
        copies,
    })
}

/// The siblings as the rule reads them: whether each one's copy serves a load balancer to
/// attach. Pure.
fn siblings(read: SiblingsRead, registrations: &Registrations) -> Vec<Sibling> {
    let serving = |instance: &String| {
        registrations
            .target_groups
            .values()
            .chain(registrations.load_balancers.values())
            .any(|traffic| traffic.serving.contains(instance))
    };
    read.deployments
        .iter()
        .map(|d| {
            let copy = replacement_group_name(&d.deployment_group, &d.deployment_id);
            let copy_serves = read
                .copies
                .groups
                .get(&copy)
                .is_some_and(|g| g.instances.iter().any(serving));
            sibling(d, copy_serves)
        })
        .collect()
}

/// Another deployment of the deployment group as the rule reads it, whether its copy serves a
/// load balancer to attach as `copy_serves` (false where the load balancers were not read: a
/// failed or stopped sibling then supersedes nobody, which only the evidence can say).
fn sibling(d: &DeploymentFacts, copy_serves: bool) -> Sibling {
    Sibling {
        deployment_id: d.deployment_id.clone(),
        status: d.status.clone(),
        creator: d.creator.clone(),
        created_at: d.created_at,
        copy_serves,
    }
}

/// Round 3 for one group: where each load balancer it misses sends traffic now.
async fn read_traffic(clients: &Clients, plan: &Plan) -> Result<Registrations, AwsError> {
    let target_groups = &plan.target_groups.missing;
    let load_balancers = &plan.load_balancers.missing;
    let (target_groups, load_balancers) = tokio::join!(
        async {
            if target_groups.is_empty() {
                Ok(HashMap::new())
            } else {
                elbv2::traffic(&clients.elbv2, &clients.elbv2_pace, target_groups).await
            }
        },
        async {
            if load_balancers.is_empty() {
                Ok(HashMap::new())
            } else {
                elb::traffic(&clients.elb, &clients.elb_pace, load_balancers).await
            }
        },
    );
    Ok(Registrations {
        target_groups: target_groups?,
        load_balancers: load_balancers?,
    })
}
