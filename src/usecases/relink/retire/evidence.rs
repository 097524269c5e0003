//! The retire evidence of one deployment group, read within seconds of the detach.

use super::{at_rest_with, Candidate, Options, Seen, RUNNING};
use crate::aws::{autoscaling, codedeploy, elb, elbv2, Clients};
use crate::domain::decision::DeploymentGroupFacts;
use crate::domain::error::AwsError;
use crate::domain::live::Registrations;
use crate::domain::plan::GroupState;
use std::collections::HashMap;

/// What the evidence round read.
pub(super) struct Evidence {
    pub group: Option<DeploymentGroupFacts>,
    pub running: Vec<(String, Option<String>)>,
    pub copies: HashMap<String, GroupState>,
    pub traffic: Registrations,
}

/// The deployment group's target groups (of `targets`) and classic load balancers that some
/// candidate holds, each once.
fn held(candidates: &[Candidate<'_>], targets: &[String]) -> (Vec<String>, Vec<String>) {
    let mut target_groups: Vec<String> = Vec::new();
    let mut load_balancers: Vec<String> = Vec::new();
    for Candidate { held, .. } in candidates {
        for arn in &held.target_groups {
            if !target_groups.contains(arn) && targets.contains(arn) {
                target_groups.push(arn.clone());
            }
        }
        for name in &held.load_balancers {
            if !load_balancers.contains(name) {
                load_balancers.push(name.clone());
            }
        }
    }
    (target_groups, load_balancers)
}

/// The evidence round: every read concurrently; and, when the look-back lists deployments not
/// read yet, one round more that reads them (a status relink does not know keeps the deployment
/// group from rest, and no listing filtered by status shows it) -> the evidence, and the rounds
/// beyond the first.
pub(super) async fn evidence(
    clients: &Clients,
    Options { dry_run, since, .. }: Options,
    seen: &Seen<'_>,
    candidates: &[Candidate<'_>],
    targets: &[String],
) -> Result<(Evidence, u8), AwsError> {
    let (application, group) = (&seen.facts.application, &seen.facts.deployment_group);
    let names: Vec<String> = candidates.iter().map(|c| c.group.to_owned()).collect();
    let (target_groups, load_balancers) = held(candidates, targets);
    let announce = async {
        if let Some(before) = &clients.before_change {
            before.call(dry_run).await;
        }
    };
    let cd = &clients.codedeploy;
    let (fresh, running, recent, copies, tg_traffic, lb_traffic, ()) = tokio::join!(
        codedeploy::get_deployment_group(cd, application, group),
        codedeploy::list_group_deployments(cd, application, group, &RUNNING, None),
        codedeploy::list_group_deployments(cd, application, group, &[], Some(since)),
        autoscaling::describe_groups(&clients.autoscaling, &names),
        async {
            match target_groups.is_empty() {
                true => Ok(HashMap::new()),
                false => elbv2::traffic(&clients.elbv2, &clients.elbv2_pace, &target_groups).await,
            }
        },
        async {
            match load_balancers.is_empty() {
                true => Ok(HashMap::new()),
                false => elb::traffic(&clients.elb, &clients.elb_pace, &load_balancers).await,
            }
        },
        announce,
    );
    if let Some(error) = copies.failed.into_values().next() {
        return Err(error);
    }
    let statuses: HashMap<&str, &str> = seen
        .deployments
        .iter()
        .map(|d| (d.deployment_id.as_str(), d.status.as_str()))
        .collect();
    let mut running: Vec<(String, Option<String>)> = running?
        .into_iter()
        .map(|id| {
            let status = statuses.get(id.as_str()).map(|s| s.to_string());
            (id, status)
        })
        .collect();
    // A status relink does not know, among those read, keeps the deployment group from rest too;
    // and among those of the look-back not read yet.
    running.extend(seen.unsettled(true));
    let unread: Vec<String> = recent?
        .into_iter()
        .filter(|id| !statuses.contains_key(id.as_str()))
        .filter(|id| !running.iter().any(|(r, _)| r == id))
        .collect();
    let mut rounds = 0;
    if !unread.is_empty() {
        rounds += 1;
        let read = codedeploy::batch_get_deployments(cd, &unread).await?;
        running.extend(
            read.into_iter()
                .filter(|d| !at_rest_with(&d.status))
                .map(|d| (d.deployment_id, Some(d.status))),
        );
    }
    let evidence = Evidence {
        group: fresh?,
        running,
        copies: copies.groups,
        traffic: Registrations {
            target_groups: tg_traffic?,
            load_balancers: lb_traffic?,
        },
    };
    Ok((evidence, rounds))
}
