//! Classic Elastic Load Balancing adapter: reads which instances each classic load balancer
//! serves.

use super::{aws_error, MAX_CONCURRENT_CALLS};
use crate::error::AwsError;
use crate::live;
use aws_sdk_elasticloadbalancing::Client;
use futures::{StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};

/// The instances each classic load balancer has registered and not deregistering
/// ([`live::classic_serves`]): one `DescribeInstanceHealth` per load balancer, at most
/// [`MAX_CONCURRENT_CALLS`] at a time.
pub async fn serving_instances(
    client: &Client,
    names: &[String],
) -> Result<HashMap<String, HashSet<String>>, AwsError> {
    futures::stream::iter(names)
        .map(|name| async move {
            let output = client
                .describe_instance_health()
                .load_balancer_name(name)
                .send()
                .await
                .map_err(|err| {
                    aws_error(
                        "DescribeInstanceHealth",
                        format!("classic load balancer {name}"),
                        err,
                    )
                })?;
            let serving = output
                .instance_states()
                .iter()
                .filter(|s| live::classic_serves(s.state().unwrap_or_default(), s.description()))
                .filter_map(|s| s.instance_id().map(str::to_owned))
                .collect();
            Ok::<_, AwsError>((name.clone(), serving))
        })
        .buffer_unordered(MAX_CONCURRENT_CALLS)
        .try_collect()
        .await
}
