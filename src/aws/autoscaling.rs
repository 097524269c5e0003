//! Auto Scaling adapter: reads groups' attachments, attaches what is missing and detaches what a
//! retired copy holds ([`crate::domain::retire`]). It has no function that deletes or modifies
//! anything else.

use super::{all_items, aws_error, MAX_CONCURRENT_CALLS};
use crate::domain::error::AwsError;
use crate::domain::plan::GroupState;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_autoscaling::Client;
use futures::StreamExt;
use std::collections::HashMap;

/// Groups named per `DescribeAutoScalingGroups` call (its `MaxRecords` limit).
pub const MAX_GROUPS_PER_DESCRIBE: usize = 100;

/// Groups as described, and the names whose call failed.
#[derive(Debug, Clone, Default)]
pub struct Described {
    /// The groups that exist, by name (groups that do not exist are absent).
    pub groups: HashMap<String, GroupState>,
    /// Names whose call failed, with the failure: only the jobs about them fail.
    pub failed: HashMap<String, AwsError>,
}

/// Describes groups by name, [`MAX_GROUPS_PER_DESCRIBE`] per call and calls concurrently (at most
/// [`MAX_CONCURRENT_CALLS`] at a time). A failed call fails its names only.
pub async fn describe_groups(client: &Client, names: &[String]) -> Described {
    let pages: Vec<(&[String], Page)> =
        futures::stream::iter(names.chunks(MAX_GROUPS_PER_DESCRIBE))
            .map(|batch| async move { (batch, describe_batch(client, batch).await) })
            .buffered(MAX_CONCURRENT_CALLS)
            .collect()
            .await;
    let mut described = Described::default();
    for (names, page) in pages {
        match page {
            Ok(groups) => described.groups.extend(groups),
            Err(error) => described
                .failed
                .extend(names.iter().map(|n| (n.clone(), error.clone()))),
        }
    }
    described
}

/// Every Auto Scaling group of the region (`DescribeAutoScalingGroups`, all pages of 100).
pub async fn describe_all_groups(client: &Client) -> Result<Vec<(String, GroupState)>, AwsError> {
    let pages = client
        .describe_auto_scaling_groups()
        .max_records(MAX_GROUPS_PER_DESCRIBE as i32)
        .into_paginator()
        .items()
        .send();
    let groups: Vec<AutoScalingGroup> = all_items(pages, "DescribeAutoScalingGroups", || {
        "the region".to_owned()
    })
    .await?;
    Ok(groups
        .iter()
        .filter_map(|g| Some((g.auto_scaling_group_name()?.to_owned(), group_state(g))))
        .collect())
}

/// Instance ids per `DescribeAutoScalingInstances` call (its limit).
pub const MAX_INSTANCES_PER_DESCRIBE: usize = 50;

/// The Auto Scaling groups the instances `ids` belong to (`DescribeAutoScalingInstances`, 50 ids
/// per call, calls concurrently); instances in no group are left out. Each group once.
pub async fn groups_of(client: &Client, ids: &[String]) -> Result<Vec<String>, AwsError> {
    let pages: Vec<Result<Vec<String>, AwsError>> =
        futures::stream::iter(ids.chunks(MAX_INSTANCES_PER_DESCRIBE))
            .map(|batch| async move {
                let output = client
                    .describe_auto_scaling_instances()
                    .set_instance_ids(Some(batch.to_vec()))
                    .send()
                    .await
                    .map_err(|err| {
                        aws_error(
                            "DescribeAutoScalingInstances",
                            format!("instances {}", batch.join(", ")),
                            err,
                        )
                    })?;
                Ok(output
                    .auto_scaling_instances()
                    .iter()
                    .filter_map(|i| i.auto_scaling_group_name())
                    .map(str::to_owned)
                    .collect())
            })
            .buffered(MAX_CONCURRENT_CALLS)
            .collect()
            .await;
    let mut groups: Vec<String> = Vec::new();
    for page in pages {
        for group in page? {
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
    }
    Ok(groups)
}

/// One `DescribeAutoScalingGroups` batch: the groups found, by name.
type Page = Result<Vec<(String, GroupState)>, AwsError>;

async fn describe_batch(client: &Client, names: &[String]) -> Page {
    let pages = client
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(names.to_vec()))
        .max_records(MAX_GROUPS_PER_DESCRIBE as i32)
        .into_paginator()
        .items()
        .send();
    let groups: Vec<AutoScalingGroup> = all_items(pages, "DescribeAutoScalingGroups", || {
        format!("groups {}", names.join(", "))
    })
    .await?;
    Ok(groups
        .iter()
        .filter_map(|g| Some((g.auto_scaling_group_name()?.to_owned(), group_state(g))))
        .filter(|(name, _)| names.contains(name))
        .collect())
}

fn group_state(found: &AutoScalingGroup) -> GroupState {
    let mut state = GroupState {
        target_group_arns: found.target_group_arns().to_vec(),
        load_balancer_names: found.load_balancer_names().to_vec(),
        status: found.status().map(str::to_owned),
        instances: found
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state().is_none_or(|s| !leaving(s.as_str())))
            .filter_map(|i| i.instance_id())
            .map(str::to_owned)
            .collect(),
        leaving: found
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state().is_some_and(|s| leaving(s.as_str())))
            .filter_map(|i| i.instance_id())
            .map(str::to_owned)
            .collect(),
    };
    // Attachments made with AttachTrafficSources are listed as traffic sources.
    for source in found.traffic_sources() {
        let (Some(identifier), kind) = (source.identifier(), source.r#type()) else {
            continue;
        };
        let list = match kind {
            Some("elb") => &mut state.load_balancer_names,
            Some("elbv2") | None if identifier.contains(":targetgroup/") => {
                &mut state.target_group_arns
            }
            _ => continue,
        };
        if !list.iter().any(|i| i == identifier) {
            list.push(identifier.to_owned());
        }
    }
    state
}

/// Whether an instance in this lifecycle state is on its way out of the group: an attach never
/// registers it. Every other state (`Pending*`, `InService`, `Standby`, …) is or will be
/// registered by an attach, so it counts.
fn leaving(state: &str) -> bool {
    state.starts_with("Terminat") || state.starts_with("Detach")
}

/// `AttachLoadBalancerTargetGroups` for at most 10 ARNs.
pub async fn attach_target_groups(
    client: &Client,
    group: &str,
    arns: &[String],
) -> Result<(), AwsError> {
    client
        .attach_load_balancer_target_groups()
        .auto_scaling_group_name(group)
        .set_target_group_arns(Some(arns.to_vec()))
        .send()
        .await
        .map(drop)
        .map_err(|err| {
            aws_error(
                "AttachLoadBalancerTargetGroups",
                format!("group {group} (target groups {})", arns.join(", ")),
                err,
            )
        })
}

/// `AttachLoadBalancers` for at most 10 classic load balancer names.
pub async fn attach_load_balancers(
    client: &Client,
    group: &str,
    names: &[String],
) -> Result<(), AwsError> {
    client
        .attach_load_balancers()
        .auto_scaling_group_name(group)
        .set_load_balancer_names(Some(names.to_vec()))
        .send()
        .await
        .map(drop)
        .map_err(|err| {
            aws_error(
                "AttachLoadBalancers",
                format!("group {group} (load balancers {})", names.join(", ")),
                err,
            )
        })
}

/// `DetachLoadBalancerTargetGroups` for at most 10 ARNs: deregisters the group's instances from
/// them (with draining) and stops registering the ones it launches.
pub async fn detach_target_groups(
    client: &Client,
    group: &str,
    arns: &[String],
) -> Result<(), AwsError> {
    client
        .detach_load_balancer_target_groups()
        .auto_scaling_group_name(group)
        .set_target_group_arns(Some(arns.to_vec()))
        .send()
        .await
        .map(drop)
        .map_err(|err| {
            aws_error(
                "DetachLoadBalancerTargetGroups",
                format!("group {group} (target groups {})", arns.join(", ")),
                err,
            )
        })
}

/// `DetachLoadBalancers` for at most 10 classic load balancer names.
pub async fn detach_load_balancers(
    client: &Client,
    group: &str,
    names: &[String],
) -> Result<(), AwsError> {
    client
        .detach_load_balancers()
        .auto_scaling_group_name(group)
        .set_load_balancer_names(Some(names.to_vec()))
        .send()
        .await
        .map(drop)
        .map_err(|err| {
            aws_error(
                "DetachLoadBalancers",
                format!("group {group} (load balancers {})", names.join(", ")),
                err,
            )
        })
}
