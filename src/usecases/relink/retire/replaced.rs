//! The fleet a `KEEP_ALIVE` deployment replaced, whatever its age: it keeps running with what it
//! held, and its deployment is usually older than the look-back.

use super::super::observe::Observed;
use crate::aws::{autoscaling, codedeploy, Clients};
use crate::domain::decision::{copy_named, DeploymentFacts, DeploymentGroupFacts};
use crate::domain::error::AwsError;
use crate::domain::plan::GroupState;
use std::collections::{HashMap, HashSet};

/// The groups a deployment group's newest `KEEP_ALIVE` deployment replaced, as described, and
/// the deployments whose copies they are.
#[derive(Debug, Default)]
pub(in crate::usecases::relink) struct Predecessors {
    pub(in crate::usecases::relink) groups: HashMap<String, GroupState>,
    pub(in crate::usecases::relink) deployments: Vec<DeploymentFacts>,
    /// Sequential rounds it took.
    pub(in crate::usecases::relink) rounds: u8,
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
pub(in crate::usecases::relink) async fn predecessors(
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
