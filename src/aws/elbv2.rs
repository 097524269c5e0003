//! Elastic Load Balancing v2 adapter: resolves target group names to ARNs.

use super::aws_error;
use crate::error::AwsError;
use aws_sdk_elasticloadbalancingv2::Client;
use futures::future::try_join_all;

/// Names asked for per `DescribeTargetGroups` call. AWS documents no limit on `Names`; its
/// sibling `DescribeLoadBalancers` takes at most 20, so 20 is safe either way.
pub const MAX_NAMES_PER_DESCRIBE: usize = 20;

/// Why names could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// These names do not exist.
    NotFound(Vec<String>),
    /// A call failed.
    Aws(AwsError),
}

/// Resolves target group names to `(name, ARN)` pairs in the order given. Batches run
/// concurrently: one round trip for up to [`MAX_NAMES_PER_DESCRIBE`] names per call.
pub async fn resolve_target_groups(
    client: &Client,
    names: &[String],
) -> Result<Vec<(String, String)>, ResolveError> {
    let batches = try_join_all(
        names
            .chunks(MAX_NAMES_PER_DESCRIBE)
            .map(|batch| describe(client, batch)),
    )
    .await?;
    let found: Vec<(String, String)> = batches.into_iter().flatten().collect();
    let mut resolved = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        match found.iter().find(|(n, _)| n == name) {
            Some(pair) => resolved.push(pair.clone()),
            None => missing.push(name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(resolved)
    } else {
        Err(ResolveError::NotFound(missing))
    }
}

/// One `DescribeTargetGroups` call. AWS answers `TargetGroupNotFound` for the whole call when
/// any name is unknown; then each name is asked alone so the error can say which ones.
async fn describe(
    client: &Client,
    names: &[String],
) -> Result<Vec<(String, String)>, ResolveError> {
    match describe_call(client, names).await {
        Err(DescribeError::NotFound) if names.len() > 1 => {
            let single = futures::future::join_all(
                names
                    .iter()
                    .map(|n| describe_call(client, std::slice::from_ref(n))),
            )
            .await;
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for (name, result) in names.iter().zip(single) {
                match result {
                    Ok(pairs) => found.extend(pairs),
                    Err(DescribeError::NotFound) => missing.push(name.clone()),
                    Err(DescribeError::Aws(e)) => return Err(ResolveError::Aws(e)),
                }
            }
            if missing.is_empty() {
                Ok(found)
            } else {
                Err(ResolveError::NotFound(missing))
            }
        }
        Err(DescribeError::NotFound) => Err(ResolveError::NotFound(names.to_vec())),
        Err(DescribeError::Aws(e)) => Err(ResolveError::Aws(e)),
        Ok(pairs) => Ok(pairs),
    }
}

enum DescribeError {
    NotFound,
    Aws(AwsError),
}

async fn describe_call(
    client: &Client,
    names: &[String],
) -> Result<Vec<(String, String)>, DescribeError> {
    match client
        .describe_target_groups()
        .set_names(Some(names.to_vec()))
        .send()
        .await
    {
        Ok(output) => Ok(output
            .target_groups()
            .iter()
            .filter_map(|tg| {
                Some((
                    tg.target_group_name()?.to_owned(),
                    tg.target_group_arn()?.to_owned(),
                ))
            })
            .collect()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_target_group_not_found_exception()) =>
        {
            Err(DescribeError::NotFound)
        }
        Err(err) => Err(DescribeError::Aws(aws_error(
            "DescribeTargetGroups",
            format!("target groups {}", names.join(", ")),
            err,
        ))),
    }
}
