//! Round 2 of a reconcile, batched across every job and deployment group of it: the target
//! groups' ARNs by name (`DescribeTargetGroups`), the Auto Scaling groups to link and the copies
//! that may hold a deployment group's load balancers (`DescribeAutoScalingGroups`), and the
//! deployments observed but not read yet (`BatchGetDeployments`), all at once.

use crate::aws::{autoscaling, codedeploy, elbv2, Clients};
use crate::domain::decision::DeploymentFacts;
use crate::domain::error::AwsError;

/// What round 2 read: target group ARNs by name and groups by name, with the names whose calls
/// failed, and the deployments read.
#[derive(Debug)]
pub(super) struct State {
    pub resolved: elbv2::Resolved,
    pub described: autoscaling::Described,
    pub deployments: Result<Vec<DeploymentFacts>, AwsError>,
}

/// Round 2: every name resolved, every group described and every deployment read, in batches,
/// concurrently. Nothing to read, nothing asked.
pub(super) async fn read_state(
    clients: &Clients,
    names: &[String],
    groups: &[String],
    deployments: &[String],
) -> State {
    let resolve = async {
        match names.is_empty() || groups.is_empty() {
            true => elbv2::Resolved::default(),
            false => elbv2::resolve_target_groups(&clients.elbv2, names).await,
        }
    };
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
    let (resolved, described, deployments) = tokio::join!(resolve, describe, read);
    State {
        resolved,
        described,
        deployments,
    }
}
