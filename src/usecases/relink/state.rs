//! Round 2 of a reconcile, batched across every job and deployment group of it: the target
//! groups' ARNs by name (`DescribeTargetGroups`), the Auto Scaling groups to link and the copies
//! that may hold a deployment group's load balancers (`DescribeAutoScalingGroups`), and the
//! deployments observed but not read yet (`BatchGetDeployments`), all at once.

use crate::aws::{autoscaling, codedeploy, elbv2, Clients, MAX_CONCURRENT_CALLS};
use crate::domain::decision::DeploymentFacts;
use crate::domain::error::AwsError;
use futures::StreamExt;
use std::collections::HashMap;

/// What round 2 read: target group ARNs by name and groups by name, with the names whose calls
/// failed, the deployments read, and for each deployment still rerouting how many replacement
/// instances CodeDeploy has not routed traffic to yet.
#[derive(Debug)]
pub(super) struct State {
    pub resolved: elbv2::Resolved,
    pub described: autoscaling::Described,
    pub deployments: Result<Vec<DeploymentFacts>, AwsError>,
    pub unrouted: HashMap<String, Result<usize, AwsError>>,
}

/// Round 2: every name resolved (those this process resolved lately excepted), every group
/// described, every deployment read and, for each deployment still `rerouting`, CodeDeploy's
/// count of the replacement instances it has not routed traffic to yet; in batches,
/// concurrently. Nothing to read, nothing asked.
pub(super) async fn read_state(
    clients: &Clients,
    names: &[String],
    groups: &[String],
    deployments: &[String],
    rerouting: &[String],
) -> State {
    let resolve = async {
        match names.is_empty() || groups.is_empty() {
            true => elbv2::Resolved::default(),
            false => {
                elbv2::resolve_known(
                    &clients.elbv2,
                    &clients.elbv2_pace,
                    &clients.target_groups,
                    names,
                )
                .await
            }
        }
    };
    let unrouted = futures::stream::iter(rerouting)
        .map(|id| async move {
            let count = codedeploy::unrouted_instances(&clients.codedeploy, id).await;
            (id.clone(), count)
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect::<HashMap<_, _>>();
    let describe = async {
        match groups.is_empty() {
            true => autoscaling::Described::default(),
            false => autoscaling::describe_groups(&clients.autoscaling, groups).await,
        }
    };
    let read = async {
        match deployments.is_empty() {
            true => Ok(Vec::new()),
            false => codedeploy::batch_get_deployments(&clients.codedeploy, deployments).await,
        }
    };
    let (resolved, described, deployments, unrouted) =
        tokio::join!(resolve, describe, read, unrouted);
    State {
        resolved,
        described,
        deployments,
        unrouted,
    }
}
