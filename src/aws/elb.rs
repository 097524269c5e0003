//! Classic Elastic Load Balancing adapter: reads where each classic load balancer sends traffic.

use super::pace::Pace;
use super::{aws_error, MAX_CONCURRENT_CALLS};
use crate::domain::error::AwsError;
use crate::domain::live::{self, Traffic};
use aws_sdk_elasticloadbalancing::Client;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Where each classic load balancer sends traffic ([`live::classic_state`]): one
/// `DescribeInstanceHealth` per load balancer, each within `pace`, at most [`MAX_CONCURRENT_CALLS`] at a time.
pub async fn traffic(
    client: &Client,
    pace: &Pace,
    names: &[String],
) -> Result<HashMap<String, Traffic>, AwsError> {
    futures::stream::iter(names)
        .map(|name| async move {
            pace.ready().await;
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
            let mut traffic = Traffic::default();
            for instance in output.instance_states() {
                let Some(id) = instance.instance_id() else {
                    continue;
                };
                let state = instance.state().unwrap_or_default();
                let registration = live::classic_state(state, instance.description());
                traffic.add(id.to_owned(), state, registration);
            }
            Ok::<_, AwsError>((name.clone(), traffic))
        })
        .buffer_unordered(MAX_CONCURRENT_CALLS)
        .try_collect()
        .await
}
