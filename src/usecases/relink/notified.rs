//! The notifications' path into a reconcile: the origin check, round 1 (the deployments, beside
//! them the deployment groups the messages name), the decision, and the observation of the
//! deployment groups only the API names.

use super::observe::{observe, Key, Observed};
use super::reconcile::{lookback_start, reconcile};
use crate::aws::{codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::domain::config::Config;
use crate::domain::crosscheck::{check_names, check_origin, Home};
use crate::domain::decision::{decide, ours, Decision, DeploymentFacts, Skip, SkipReason};
use crate::domain::error::{AwsError, RelinkError};
use crate::domain::event::DeploymentRef;
use crate::domain::job::{Ending, Job, Step, Subject};
use crate::domain::report::Attempt;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use tracing::instrument;

/// Reconciles the deployment groups of the deployments notifications name, one job per
/// notification, in order: the origin check, then round 1 (`GetDeployment` once per deployment,
/// at most [`MAX_CONCURRENT_CALLS`] at a time, beside the observation of the deployment groups the
/// messages name) and the decision, then [`reconcile`].
#[instrument(skip_all, fields(notifications = notified.len()))]
pub async fn relink(
    clients: &Clients,
    config: &Config,
    home: &Home,
    notified: &[(&DeploymentRef, &str)],
) -> Vec<Attempt> {
    let (mut jobs, ids, named) = first_round(notified, home);
    let since = lookback_start(config);
    let (read, observed) = tokio::join!(
        futures::stream::iter(ids)
            .map(|id| async move {
                (
                    id,
                    codedeploy::get_deployment(&clients.codedeploy, id).await,
                )
            })
            .buffered(MAX_CONCURRENT_CALLS)
            .collect::<HashMap<&str, Result<Option<DeploymentFacts>, AwsError>>>(),
        observe(clients, &named, since, 1),
    );
    let mut known: HashMap<Key, Vec<DeploymentFacts>> = HashMap::new();
    let mut deployment_level: HashSet<Key> = HashSet::new();
    for ((notified, _), job) in notified.iter().zip(&mut jobs) {
        if let (Step::Read, Some(read)) = (&job.step, read.get(notified.deployment_id.as_str())) {
            job.round();
            if let Some(facts) = decide_notified(config, notified, job, read) {
                let key = (facts.application.clone(), facts.deployment_group.clone());
                if notified.instance.is_none() {
                    deployment_level.insert(key.clone());
                }
                known.entry(key).or_default().push(facts.clone());
            }
        }
    }
    let mut observed: Vec<Observed> = observed
        .into_iter()
        .filter(|o| known.contains_key(&o.key()))
        .collect();
    // The deployment groups no message named (an instance-level SNS message names none): observed
    // in one round more.
    let unnamed: Vec<Key> = known
        .keys()
        .filter(|key| !observed.iter().any(|o| o.key() == **key))
        .cloned()
        .collect();
    if !unnamed.is_empty() {
        observed.extend(observe(clients, &unnamed, since, 2).await);
        for job in &mut jobs {
            if job
                .key()
                .is_some_and(|(a, g)| unnamed.iter().any(|k| k.0 == a && k.1 == g))
            {
                job.round();
            }
        }
    }
    for o in &mut observed {
        o.look_for_replaced = deployment_level.contains(&o.key());
        o.know(known.remove(&o.key()).unwrap_or_default());
    }
    reconcile(clients, config, config.dry_run, jobs, observed)
        .await
        .finish(config.dry_run)
}

/// The jobs of the notified deployments (those from another account or region already failed),
/// the deployments round 1 reads, and the deployment groups deployment-level messages name.
fn first_round<'n>(
    notified: &'n [(&DeploymentRef, &str)],
    home: &Home,
) -> (Vec<Job>, Vec<&'n str>, Vec<Key>) {
    let jobs: Vec<Job> = notified
        .iter()
        .map(|(n, source)| {
            let mut job = Job::new(Subject::notified(source, n));
            if let Err(error) = check_origin(n, home) {
                job.end(Ending::Failed(RelinkError::Foreign {
                    subject: job.subject.describe(),
                    error,
                }));
            }
            job
        })
        .collect();
    let mut ids: Vec<&'n str> = Vec::new();
    let mut named: Vec<Key> = Vec::new();
    for ((n, _), job) in notified.iter().zip(&jobs) {
        if !matches!(job.step, Step::Read) {
            continue;
        }
        if !ids.contains(&n.deployment_id.as_str()) {
            ids.push(&n.deployment_id);
        }
        // Only deployment-level messages: they are few, and the instance-level ones of other
        // kinds of deployment (in-place, with the EventBridge rule) many.
        if let (None, Some(a), Some(g)) = (&n.instance, &n.application, &n.deployment_group) {
            let key = (a.clone(), g.clone());
            if !named.contains(&key) {
                named.push(key);
            }
        }
    }
    (jobs, ids, named)
}

/// The decision about one notification, from round 1's answer; the deployment's facts when its
/// deployment group is one relink reconciles.
fn decide_notified<'a>(
    config: &Config,
    notified: &DeploymentRef,
    job: &mut Job,
    read: &'a Result<Option<DeploymentFacts>, AwsError>,
) -> Option<&'a DeploymentFacts> {
    let facts = match read {
        Ok(Some(facts)) => facts,
        Ok(None) => {
            let skip = Skip::new(
                SkipReason::DeploymentNotFound,
                format!(
                    "GetDeployment does not know deployment {}",
                    notified.deployment_id
                ),
            );
            job.decide(Decision::Skip(skip));
            return None;
        }
        Err(error) => {
            job.fail(error.clone());
            return None;
        }
    };
    job.subject.application = Some(facts.application.clone());
    job.subject.deployment_group = Some(facts.deployment_group.clone());
    match check_names(notified, facts) {
        Ok(()) => {
            job.decide(decide(facts, config));
            ours(facts, config).then_some(facts)
        }
        Err(skip) => {
            job.decide(Decision::Skip(skip));
            None
        }
    }
}
