//! Elastic Load Balancing v2 adapter: resolves target group names to ARNs and reads which
//! instances each target group serves.

use super::pace::Pace;
use super::{aws_error, MAX_CONCURRENT_CALLS};
use crate::domain::error::AwsError;
use crate::domain::live::{self, Traffic};
use aws_sdk_elasticloadbalancingv2::Client;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a process trusts a target group's ARN it resolved: an ARN changes only when the
/// target group is deleted and made again under the same name.
pub const TARGET_GROUP_TTL: Duration = Duration::from_secs(300);

/// Target group ARNs by name that this process resolved, with when: the notifications of one
/// deployment, batch after batch, resolve the same names once.
#[derive(Debug, Default)]
pub struct KnownArns {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl KnownArns {
    fn fresh(&self, names: &[String], now: Instant) -> HashMap<String, String> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        names
            .iter()
            .filter_map(|name| {
                let (arn, at) = entries.get(name)?;
                (now.duration_since(*at) < TARGET_GROUP_TTL).then(|| (name.clone(), arn.clone()))
            })
            .collect()
    }

    fn remember(&self, arns: &HashMap<String, String>, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for (name, arn) in arns {
            entries.insert(name.clone(), (arn.clone(), now));
        }
    }
}

/// [`resolve_target_groups`] of the names `known` has not resolved within [`TARGET_GROUP_TTL`].
pub async fn resolve_known(
    client: &Client,
    pace: &Pace,
    known: &KnownArns,
    names: &[String],
) -> Resolved {
    let now = Instant::now();
    let fresh = known.fresh(names, now);
    let rest: Vec<String> = names
        .iter()
        .filter(|n| !fresh.contains_key(*n))
        .cloned()
        .collect();
    let mut resolved = match rest.is_empty() {
        true => Resolved::default(),
        false => resolve_target_groups(client, pace, &rest).await,
    };
    known.remember(&resolved.arns, now);
    resolved.arns.extend(fresh);
    resolved
}

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
pub async fn resolve_target_groups(client: &Client, pace: &Pace, names: &[String]) -> Resolved {
    let batches: Vec<(&[String], Result<Resolved, AwsError>)> =
        futures::stream::iter(names.chunks(MAX_NAMES_PER_DESCRIBE))
            .map(|batch| async move { (batch, describe(client, pace, batch).await) })
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
async fn describe(client: &Client, pace: &Pace, names: &[String]) -> Result<Resolved, AwsError> {
    let arns = match describe_call(client, pace, names).await? {
        Some(arns) => arns,
        None if names.len() == 1 => HashMap::new(),
        None => {
            let single = futures::future::try_join_all(
                names
                    .iter()
                    .map(|n| describe_call(client, pace, std::slice::from_ref(n))),
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
    pace: &Pace,
    names: &[String],
) -> Result<Option<HashMap<String, String>>, AwsError> {
    pace.ready().await;
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
    pace: &Pace,
    arns: &[String],
) -> Result<HashMap<String, Traffic>, AwsError> {
    futures::stream::iter(arns)
        .map(|arn| async move {
            pace.ready().await;
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
