//! Elastic Load Balancing v2 adapter: resolves target group names to ARNs and reads which
//! instances each target group serves.

use super::{aws_error, MAX_CONCURRENT_CALLS};
use crate::domain::error::AwsError;
use crate::domain::live::{self, Traffic};
use aws_sdk_elasticloadbalancingv2::Client;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Names asked for per `DescribeTargetGroups` call. AWS documents no limit on `Names`; its
/// sibling `DescribeLoadBalancers` takes at most 20, so 20 is safe either way.
pub const MAX_NAMES_PER_DESCRIBE: usize = 20;

/// Target group names resolved to ARNs, the names that do not exist, and the names that could
/// not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// ARN by name.
    pub arns: HashMap<String, String>,
    /// Names no target group has, in the order asked.
    pub missing: Vec<String>,
    /// Names whose call failed, with the failure: only the jobs that need them fail.
    pub failed: HashMap<String, AwsError>,
}

/// Resolves target group names to ARNs: [`MAX_NAMES_PER_DESCRIBE`] names per call, calls
/// concurrently (at most [`MAX_CONCURRENT_CALLS`] at a time), so one round trip for up to
/// 20 × 8 names. A failed call fails its names only.
pub async fn resolve_target_groups(client: &Client, names: &[String]) -> Resolved {
    let batches: Vec<(&[String], Result<Resolved, AwsError>)> =
        futures::stream::iter(names.chunks(MAX_NAMES_PER_DESCRIBE))
            .map(|batch| async move { (batch, describe(client, batch).await) })
            .buffered(MAX_CONCURRENT_CALLS)
            .collect()
            .await;
    let mut resolved = Resolved::default();
    for (names, batch) in batches {
        match batch {
            Ok(batch) => {
                resolved.arns.extend(batch.arns);
                resolved.missing.extend(batch.missing);
            }
            Err(error) => resolved
                .failed
                .extend(names.iter().map(|n| (n.clone(), error.clone()))),
        }
    }
    resolved
}

/// One `DescribeTargetGroups` call. AWS answers `TargetGroupNotFound` for the whole call when
/// any name is unknown; then each name is asked alone so the answer can say which ones.
async fn describe(client: &Client, names: &[String]) -> Result<Resolved, AwsError> {
    let arns = match describe_call(client, names).await? {
        Some(arns) => arns,
        None if names.len() == 1 => HashMap::new(),
        None => {
            let single = futures::future::try_join_all(
                names
                    .iter()
                    .map(|n| describe_call(client, std::slice::from_ref(n))),
            )
            .await?;
            single.into_iter().flatten().flatten().collect()
        }
    };
    let missing = names
        .iter()
        .filter(|n| !arns.contains_key(*n))
        .cloned()
        .collect();
    Ok(Resolved {
        arns,
        missing,
        failed: HashMap::new(),
    })
}

/// `Ok(None)` when AWS answers `TargetGroupNotFound`.
async fn describe_call(
    client: &Client,
    names: &[String],
) -> Result<Option<HashMap<String, String>>, AwsError> {
    match client
        .describe_target_groups()
        .set_names(Some(names.to_vec()))
        .send()
        .await
    {
        Ok(output) => Ok(Some(
            output
                .target_groups()
                .iter()
                .filter_map(|tg| {
                    Some((
                        tg.target_group_name()?.to_owned(),
                        tg.target_group_arn()?.to_owned(),
                    ))
                })
                .collect(),
        )),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_target_group_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws_error(
            "DescribeTargetGroups",
            format!("target groups {}", names.join(", ")),
            err,
        )),
    }
}

/// Where each target group sends traffic ([`live::target_state`]): one `DescribeTargetHealth`
/// per target group, at most [`MAX_CONCURRENT_CALLS`] at a time.
pub async fn traffic(
    client: &Client,
    arns: &[String],
) -> Result<HashMap<String, Traffic>, AwsError> {
    futures::stream::iter(arns)
        .map(|arn| async move {
            let output = client
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(|err| {
                    aws_error("DescribeTargetHealth", format!("target group {arn}"), err)
                })?;
            let mut traffic = Traffic::default();
            for description in output.target_health_descriptions() {
                let Some(id) = description.target().and_then(|t| t.id()) else {
                    continue;
                };
                let state = description
                    .target_health()
                    .and_then(|h| h.state())
                    .map_or("", |s| s.as_str());
                traffic.add(id.to_owned(), state, live::target_state(state));
            }
            Ok::<_, AwsError>((arn.clone(), traffic))
        })
        .buffer_unordered(MAX_CONCURRENT_CALLS)
        .try_collect()
        .await
}
