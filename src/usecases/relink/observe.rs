//! A deployment group as a reconcile first sees it: CodeDeploy's view of the group (its settings
//! and the fleet it names) and the deployments whose copies may hold its load balancers. Each
//! path observes in its own way — a notification reads the group and lists its deployments of
//! the look-back, the sweep batch-reads the groups its listing found, the audit scans every Auto
//! Scaling group of the region — and hands the same [`Observed`] to
//! [`reconcile`](super::reconcile).

use crate::aws::{codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::domain::decision::{copy_named, DeploymentFacts, DeploymentGroupFacts};
use crate::domain::error::AwsError;
use futures::StreamExt;
use std::time::SystemTime;

/// A deployment group, `(application, deployment group)`.
pub type Key = (String, String);

/// One deployment group as observed at the start of its reconcile.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Its application.
    pub application: String,
    /// Its name.
    pub deployment_group: String,
    /// `GetDeploymentGroup` (or `BatchGetDeploymentGroups`); `Ok(None)` when AWS does not know it.
    pub group: Result<Option<DeploymentGroupFacts>, AwsError>,
    /// Its deployments already read by this invocation.
    pub known: Vec<DeploymentFacts>,
    /// Ids of its deployments still to read: those of the look-back, a rollback's failed
    /// deployment.
    pub listed: Result<Vec<String>, AwsError>,
    /// Auto Scaling groups named like its copies that were found otherwise (the audit's scan).
    pub found: Vec<String>,
    /// Sequential rounds of AWS calls it took to observe, from the invocation's start.
    pub rounds: u8,
    /// Whether to ask CodeDeploy for the fleet its newest `KEEP_ALIVE` deployment replaced
    /// (`ListDeploymentTargets`, then `DescribeAutoScalingInstances`): deployment-level
    /// notifications and the sweep do; instance-level ones (the many notifications of a
    /// deployment) do not, and the audit reads every Auto Scaling group of the region anyway.
    pub look_for_replaced: bool,
}

impl Observed {
    /// A deployment group whose facts are already read.
    pub fn read(group: DeploymentGroupFacts, known: Vec<DeploymentFacts>, rounds: u8) -> Self {
        Observed {
            application: group.application.clone(),
            deployment_group: group.deployment_group.clone(),
            group: Ok(Some(group)),
            known,
            listed: Ok(Vec::new()),
            found: Vec::new(),
            rounds,
            look_for_replaced: true,
        }
    }

    /// Its key.
    pub fn key(&self) -> Key {
        (self.application.clone(), self.deployment_group.clone())
    }

    /// Whether it is the deployment group `application/deployment_group`.
    pub fn is(&self, application: &str, deployment_group: &str) -> bool {
        self.application == application && self.deployment_group == deployment_group
    }

    /// Its facts, when they were read and AWS knows it.
    pub fn facts(&self) -> Option<&DeploymentGroupFacts> {
        self.group.as_ref().ok().and_then(Option::as_ref)
    }

    /// The first failure of its observation, if any.
    pub fn failure(&self) -> Option<&AwsError> {
        self.group.as_ref().err().or(self.listed.as_ref().err())
    }

    /// The ids of its deployments to read in round 2: those listed, those whose copies it names
    /// as its fleet or that were found, less those known.
    pub fn to_read(&self) -> Vec<String> {
        let named = self
            .facts()
            .map(|f| f.auto_scaling_groups.as_slice())
            .unwrap_or_default();
        let copies = named
            .iter()
            .chain(&self.found)
            .filter_map(|name| copy_named(&self.deployment_group, name, &[]).deployment_id);
        let mut ids: Vec<String> = Vec::new();
        for id in self.listed.iter().flatten().cloned().chain(copies) {
            if !ids.contains(&id) && !self.known.iter().any(|k| k.deployment_id == id) {
                ids.push(id);
            }
        }
        ids
    }

    /// Adds deployments this invocation read, and what they name (a rollback's failed
    /// deployment) to the ids to read.
    pub fn know(&mut self, deployments: impl IntoIterator<Item = DeploymentFacts>) {
        for facts in deployments {
            if let (Some(of), Ok(listed)) = (&facts.rollback_of, &mut self.listed) {
                if !listed.contains(of) {
                    listed.push(of.clone());
                }
            }
            if !self
                .known
                .iter()
                .any(|k| k.deployment_id == facts.deployment_id)
            {
                self.known.push(facts);
            }
        }
    }
}

/// Observes deployment groups by key: `GetDeploymentGroup` ∥ `ListDeployments` of the group
/// created since `since` (any status), each key's calls concurrently, at most
/// [`MAX_CONCURRENT_CALLS`] keys at a time. One round, the `rounds`-th of the invocation.
pub async fn observe(
    clients: &Clients,
    keys: &[Key],
    since: SystemTime,
    rounds: u8,
) -> Vec<Observed> {
    let cd = &clients.codedeploy;
    futures::stream::iter(keys)
        .map(|(application, deployment_group)| async move {
            let (group, listed) = tokio::join!(
                codedeploy::get_deployment_group(cd, application, deployment_group),
                codedeploy::list_group_deployments(
                    cd,
                    application,
                    deployment_group,
                    &[],
                    Some(since)
                ),
            );
            Observed {
                application: application.clone(),
                deployment_group: deployment_group.clone(),
                group,
                known: Vec::new(),
                listed,
                found: Vec::new(),
                rounds,
                look_for_replaced: true,
            }
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .collect()
        .await
}

/// Observes deployment groups by key from what an invocation already read (`known`, the sweep's
/// deployments): `BatchGetDeploymentGroups` per application, at most [`MAX_CONCURRENT_CALLS`]
/// applications at a time. One round, the `rounds`-th of the invocation; a failed call fails the
/// observation of its groups only.
pub async fn observe_read(
    clients: &Clients,
    keys: &[Key],
    known: &[DeploymentFacts],
    rounds: u8,
) -> Vec<Observed> {
    let mut applications: Vec<(&str, Vec<String>)> = Vec::new();
    for (application, group) in keys {
        match applications.iter_mut().find(|(a, _)| a == application) {
            Some((_, groups)) => groups.push(group.clone()),
            None => applications.push((application, vec![group.clone()])),
        }
    }
    let cd = &clients.codedeploy;
    let read: Vec<(&str, Result<Vec<DeploymentGroupFacts>, AwsError>)> =
        futures::stream::iter(&applications)
            .map(|(application, groups)| async move {
                let read = codedeploy::batch_get_deployment_groups(cd, application, groups).await;
                (*application, read)
            })
            .buffered(MAX_CONCURRENT_CALLS)
            .collect()
            .await;
    keys.iter()
        .map(|(application, group)| {
            let facts = read
                .iter()
                .find(|(a, _)| a == application)
                .map(|(_, read)| match read {
                    Ok(groups) => Ok(groups
                        .iter()
                        .find(|g| &g.deployment_group == group)
                        .cloned()),
                    Err(error) => Err(error.clone()),
                })
                .unwrap_or(Ok(None));
            let mut observed = Observed {
                application: application.clone(),
                deployment_group: group.clone(),
                group: facts,
                known: Vec::new(),
                listed: Ok(Vec::new()),
                found: Vec::new(),
                rounds,
                look_for_replaced: true,
            };
            observed.know(
                known
                    .iter()
                    .filter(|d| &d.application == application && &d.deployment_group == group)
                    .cloned(),
            );
            observed
        })
        .collect()
}
