//! The detach calls of the copies the rule retires.

use super::Retired;
use crate::aws::{autoscaling, Clients};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::plan::MAX_PER_ATTACH_CALL;
use crate::domain::retire::{Held, RetireOutcome, Retirement};

/// Detaches what each copy holds (`(copy, held, evidence)`), copies concurrently; each becomes a
/// `retired` record, or `failed` with what it still holds, and the first failure fails the
/// deployment group's job.
pub(super) async fn detach_all(
    clients: &Clients,
    detaches: Vec<(String, Held, String)>,
    deployment_group: &str,
    subject: &str,
    retired: &mut Retired,
) {
    let done = futures::future::join_all(
        detaches
            .iter()
            .map(|(group, held, _)| detach(clients, group, held)),
    )
    .await;
    let mut failures = Vec::new();
    for ((group, held, evidence), (detached, failed)) in detaches.into_iter().zip(done) {
        let (outcome, detail, rest) = match failed.first() {
            None => (RetireOutcome::Retired, evidence, detached),
            Some(error) => (
                RetireOutcome::Failed,
                format!("{error} (detached: [{}])", detached.names().join(", ")),
                left(&held, &detached),
            ),
        };
        retired.retirements.push(Retirement {
            group: group.clone(),
            outcome,
            reason: None,
            target_groups: rest.target_groups,
            load_balancers: rest.load_balancers,
            detail,
        });
        if !failed.is_empty() {
            failures.push((group, failed));
        }
    }
    if let Some((group, failed)) = failures.into_iter().next() {
        retired.error = Some(RelinkError::Detach {
            subject: subject.to_owned(),
            deployment_group: deployment_group.to_owned(),
            group,
            failures: failed,
        });
    }
}

/// The detach calls of one copy: its target groups in batches of 10, then its classic load
/// balancers, one call after another. What was detached, and the failures.
async fn detach(clients: &Clients, group: &str, held: &Held) -> (Held, Vec<AwsError>) {
    let client = &clients.autoscaling;
    let mut detached = Held::default();
    let mut failures = Vec::new();
    for batch in held.target_groups.chunks(MAX_PER_ATTACH_CALL) {
        match autoscaling::detach_target_groups(client, group, batch).await {
            Ok(()) => detached.target_groups.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    for batch in held.load_balancers.chunks(MAX_PER_ATTACH_CALL) {
        match autoscaling::detach_load_balancers(client, group, batch).await {
            Ok(()) => detached.load_balancers.extend_from_slice(batch),
            Err(error) => failures.push(error),
        }
    }
    (detached, failures)
}

/// What `held` still holds after `detached`.
fn left(held: &Held, detached: &Held) -> Held {
    Held {
        target_groups: held
            .target_groups
            .iter()
            .filter(|t| !detached.target_groups.contains(t))
            .cloned()
            .collect(),
        load_balancers: held
            .load_balancers
            .iter()
            .filter(|l| !detached.load_balancers.contains(l))
            .cloned()
            .collect(),
    }
}
