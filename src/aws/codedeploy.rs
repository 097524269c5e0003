//! CodeDeploy adapter: reads deployments and deployment groups.

use super::{all_items, aws_error, MAX_CONCURRENT_CALLS};
use crate::domain::decision::{DeploymentFacts, DeploymentGroupFacts, GroupSettings};
use crate::domain::error::AwsError;
use aws_sdk_codedeploy::primitives::DateTime;
use aws_sdk_codedeploy::types::{
    BlueGreenDeploymentConfiguration, DeploymentGroupInfo, DeploymentInfo, DeploymentStatus,
    DeploymentStyle, InstanceAction, LoadBalancerInfo, TargetFilterName, TimeRange,
};
use aws_sdk_codedeploy::Client;
use futures::{StreamExt, TryStreamExt};
use std::time::SystemTime;

/// Deployment ids per `BatchGetDeployments` call (the API's limit).
pub const MAX_DEPLOYMENTS_PER_BATCH: usize = 25;
/// Deployment group names per `BatchGetDeploymentGroups` call (the API's limit).
pub const MAX_GROUPS_PER_BATCH: usize = 100;

/// Reads a deployment with `GetDeployment`. A deployment that does not exist is `Ok(None)`.
pub async fn get_deployment(
    client: &Client,
    deployment_id: &str,
) -> Result<Option<DeploymentFacts>, AwsError> {
    match client
        .get_deployment()
        .deployment_id(deployment_id)
        .send()
        .await
    {
        Ok(output) => Ok(output
            .deployment_info()
            .map(|info| facts_from(info, deployment_id))),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_deployment_does_not_exist_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws_error(
            "GetDeployment",
            format!("deployment {deployment_id}"),
            err,
        )),
    }
}

/// Lists the ids of every deployment in the region with one of `statuses`, created after
/// `created_after` when given (`ListDeployments`, all pages).
pub async fn list_deployments(
    client: &Client,
    statuses: &[DeploymentStatus],
    created_after: Option<SystemTime>,
) -> Result<Vec<String>, AwsError> {
    list_deployments_of(client, None, statuses, created_after).await
}

/// Lists the ids of the deployments of one deployment group (`application`, `group`) with one of
/// `statuses` (any status when empty), created at or after `created_after` when given
/// (`ListDeployments`, all pages).
pub async fn list_group_deployments(
    client: &Client,
    application: &str,
    group: &str,
    statuses: &[DeploymentStatus],
    created_after: Option<SystemTime>,
) -> Result<Vec<String>, AwsError> {
    list_deployments_of(client, Some((application, group)), statuses, created_after).await
}

async fn list_deployments_of(
    client: &Client,
    group: Option<(&str, &str)>,
    statuses: &[DeploymentStatus],
    created_after: Option<SystemTime>,
) -> Result<Vec<String>, AwsError> {
    let pages = client
        .list_deployments()
        .set_application_name(group.map(|(a, _)| a.to_owned()))
        .set_deployment_group_name(group.map(|(_, g)| g.to_owned()))
        .set_include_only_statuses((!statuses.is_empty()).then(|| statuses.to_vec()))
        .set_create_time_range(
            created_after.map(|t| TimeRange::builder().start(DateTime::from(t)).build()),
        )
        .into_paginator()
        .items()
        .send();
    all_items(pages, "ListDeployments", || {
        let mut statuses: Vec<&str> = statuses.iter().map(DeploymentStatus::as_str).collect();
        if statuses.is_empty() {
            statuses.push("all");
        }
        match group {
            Some((application, group)) => format!(
                "{} deployments of deployment group {application}/{group}",
                statuses.join("/")
            ),
            None => format!("{} deployments", statuses.join("/")),
        }
    })
    .await
}

/// The Auto Scaling groups CodeDeploy names as a deployment group's fleet (`GetDeploymentGroup`
/// → `autoScalingGroups[].name`).
pub async fn deployment_group_fleet(
    client: &Client,
    application: &str,
    group: &str,
) -> Result<Vec<String>, AwsError> {
    Ok(get_deployment_group(client, application, group)
        .await?
        .map(|g| g.auto_scaling_groups)
        .unwrap_or_default())
}

/// A deployment group (`GetDeploymentGroup`): its settings and the fleet CodeDeploy names;
/// `None` when AWS does not know it.
pub async fn get_deployment_group(
    client: &Client,
    application: &str,
    group: &str,
) -> Result<Option<DeploymentGroupFacts>, AwsError> {
    let output = client
        .get_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await
        .map_err(|err| {
            aws_error(
                "GetDeploymentGroup",
                format!("deployment group {application}/{group}"),
                err,
            )
        });
    match output {
        Ok(output) => Ok(output.deployment_group_info().map(group_facts_from)),
        Err(err) if err.code == "DeploymentGroupDoesNotExistException" => Ok(None),
        Err(err) => Err(err),
    }
}

/// The instances a blue/green deployment replaced (`ListDeploymentTargets`, `ServerInstanceLabel`
/// `Blue`, every page): for an EC2 deployment, the original fleet's instance ids.
pub async fn blue_instances(client: &Client, deployment_id: &str) -> Result<Vec<String>, AwsError> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let output = client
            .list_deployment_targets()
            .deployment_id(deployment_id)
            .target_filters(
                TargetFilterName::ServerInstanceLabel,
                vec!["Blue".to_owned()],
            )
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| {
                aws_error(
                    "ListDeploymentTargets",
                    format!("the original instances of deployment {deployment_id}"),
                    err,
                )
            })?;
        ids.extend(output.target_ids().iter().cloned());
        match output.next_token().filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(ids),
        }
    }
}

/// Statuses of a deployment's target that has not finished its lifecycle: for a replacement
/// (`Green`) instance, CodeDeploy has not routed traffic to it yet.
const UNFINISHED: [&str; 4] = ["Pending", "InProgress", "Ready", "Unknown"];

/// How many replacement (`Green`) instances of a blue/green deployment CodeDeploy has not finished
/// with (`ListDeploymentTargets`, one page: enough to say "some"): while it reroutes, those it has
/// not routed traffic to yet.
pub async fn unrouted_instances(client: &Client, deployment_id: &str) -> Result<usize, AwsError> {
    let output = client
        .list_deployment_targets()
        .deployment_id(deployment_id)
        .target_filters(
            TargetFilterName::ServerInstanceLabel,
            vec!["Green".to_owned()],
        )
        .target_filters(
            TargetFilterName::TargetStatus,
            UNFINISHED.iter().map(|s| s.to_string()).collect(),
        )
        .send()
        .await
        .map_err(|err| {
            aws_error(
                "ListDeploymentTargets",
                format!("the replacement instances of deployment {deployment_id}"),
                err,
            )
        })?;
    Ok(output.target_ids().len())
}

/// Reads deployments with `BatchGetDeployments`, [`MAX_DEPLOYMENTS_PER_BATCH`] per call and calls
/// concurrently (at most [`MAX_CONCURRENT_CALLS`] at a time). Unknown ids are left out.
pub async fn batch_get_deployments(
    client: &Client,
    ids: &[String],
) -> Result<Vec<DeploymentFacts>, AwsError> {
    let batches: Vec<Vec<DeploymentFacts>> =
        futures::stream::iter(ids.chunks(MAX_DEPLOYMENTS_PER_BATCH))
            .map(|batch| async move {
                let output = client
                    .batch_get_deployments()
                    .set_deployment_ids(Some(batch.to_vec()))
                    .send()
                    .await
                    .map_err(|err| {
                        aws_error(
                            "BatchGetDeployments",
                            format!("deployments {}", batch.join(", ")),
                            err,
                        )
                    })?;
                Ok::<_, AwsError>(
                    output
                        .deployments_info()
                        .iter()
                        .filter_map(|info| Some(facts_from(info, info.deployment_id()?)))
                        .collect(),
                )
            })
            .buffered(MAX_CONCURRENT_CALLS)
            .try_collect()
            .await?;
    Ok(batches.into_iter().flatten().collect())
}

/// Every application in the region (`ListApplications`, all pages).
pub async fn list_applications(client: &Client) -> Result<Vec<String>, AwsError> {
    let pages = client.list_applications().into_paginator().items().send();
    all_items(pages, "ListApplications", || "the region".to_owned()).await
}

/// Every deployment group of an application (`ListDeploymentGroups`, all pages).
pub async fn list_deployment_groups(
    client: &Client,
    application: &str,
) -> Result<Vec<String>, AwsError> {
    let pages = client
        .list_deployment_groups()
        .application_name(application)
        .into_paginator()
        .items()
        .send();
    all_items(pages, "ListDeploymentGroups", || {
        format!("application {application}")
    })
    .await
}

/// Reads deployment groups of one application, [`MAX_GROUPS_PER_BATCH`] per
/// `BatchGetDeploymentGroups` call; names AWS does not know are left out.
pub async fn batch_get_deployment_groups(
    client: &Client,
    application: &str,
    names: &[String],
) -> Result<Vec<DeploymentGroupFacts>, AwsError> {
    let mut groups = Vec::with_capacity(names.len());
    for batch in names.chunks(MAX_GROUPS_PER_BATCH) {
        let output = client
            .batch_get_deployment_groups()
            .application_name(application)
            .set_deployment_group_names(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|err| {
                aws_error(
                    "BatchGetDeploymentGroups",
                    format!("application {application}"),
                    err,
                )
            })?;
        if let Some(message) = output.error_message().filter(|m| !m.is_empty()) {
            tracing::warn!(
                application,
                message,
                "BatchGetDeploymentGroups left some groups out"
            );
        }
        groups.extend(output.deployment_groups_info().iter().map(group_facts_from));
    }
    Ok(groups)
}

/// Reduces the API's deployment group to the facts the audit needs.
pub fn group_facts_from(info: &DeploymentGroupInfo) -> DeploymentGroupFacts {
    DeploymentGroupFacts {
        application: info.application_name().unwrap_or_default().to_owned(),
        deployment_group: info.deployment_group_name().unwrap_or_default().to_owned(),
        settings: settings_of(
            info.compute_platform().map(|p| p.as_str()),
            info.deployment_style(),
            info.blue_green_deployment_configuration(),
            info.load_balancer_info(),
        ),
        auto_scaling_groups: info
            .auto_scaling_groups()
            .iter()
            .filter_map(|g| g.name())
            .map(str::to_owned)
            .collect(),
    }
}

/// Reduces the API's deployment to the facts the decision needs.
pub fn facts_from(info: &DeploymentInfo, deployment_id: &str) -> DeploymentFacts {
    DeploymentFacts {
        deployment_id: info.deployment_id().unwrap_or(deployment_id).to_owned(),
        application: info.application_name().unwrap_or_default().to_owned(),
        deployment_group: info.deployment_group_name().unwrap_or_default().to_owned(),
        status: info
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        settings: settings_of(
            info.compute_platform().map(|p| p.as_str()),
            info.deployment_style(),
            info.blue_green_deployment_configuration(),
            info.load_balancer_info(),
        ),
        target_auto_scaling_groups: info
            .target_instances()
            .map(|t| t.auto_scaling_groups().to_vec())
            .unwrap_or_default(),
        completed_at: info
            .complete_time()
            .and_then(|t| SystemTime::try_from(*t).ok()),
        created_at: info
            .create_time()
            .and_then(|t| SystemTime::try_from(*t).ok()),
        creator: info.creator().map(|c| c.as_str().to_owned()),
        termination_wait_started: info.instance_termination_wait_time_started(),
        rollback_of: info
            .rollback_info()
            .and_then(|r| r.rollback_triggering_deployment_id())
            .map(str::to_owned),
    }
}

/// The settings a deployment and its deployment group both carry.
fn settings_of(
    compute_platform: Option<&str>,
    style: Option<&DeploymentStyle>,
    blue_green: Option<&BlueGreenDeploymentConfiguration>,
    load_balancers: Option<&LoadBalancerInfo>,
) -> GroupSettings {
    let names = |items: Vec<Option<&str>>| items.into_iter().flatten().map(str::to_owned).collect();
    GroupSettings {
        compute_platform: compute_platform.map(str::to_owned),
        deployment_type: style
            .and_then(|s| s.deployment_type())
            .map(|t| t.as_str().to_owned()),
        deployment_option: style
            .and_then(|s| s.deployment_option())
            .map(|o| o.as_str().to_owned()),
        green_fleet_action: blue_green
            .and_then(|c| c.green_fleet_provisioning_option())
            .and_then(|o| o.action())
            .map(|a| a.as_str().to_owned()),
        keep_alive: blue_green
            .and_then(|c| c.terminate_blue_instances_on_deployment_success())
            .and_then(|t| t.action())
            .is_some_and(|a| *a == InstanceAction::KeepAlive),
        target_group_names: names(
            load_balancers
                .map(|i| {
                    i.target_group_info_list()
                        .iter()
                        .map(|t| t.name())
                        .collect()
                })
                .unwrap_or_default(),
        ),
        classic_load_balancer_names: names(
            load_balancers
                .map(|i| i.elb_info_list().iter().map(|e| e.name()).collect())
                .unwrap_or_default(),
        ),
    }
}
