//! `relink audit`: every blue/green deployment group with a copied fleet in a region, the Auto
//! Scaling groups it points at and any running deployment's replacement group, compared with
//! the attachments its `loadBalancerInfo` asks for; `--fix` attaches what is missing with the
//! same code as the function, so only under the live-fleet rule ([`crate::domain::live`]). While a newer
//! deployment runs (its termination wait too) the deployment group still names the previous
//! copy; that copy is reported `superseded` (read just before its attach, like every path) and
//! left alone, while the running deployment's copy is fixed once CodeDeploy has routed traffic to
//! all of it. An outage repair
//! (a load balancer that serves no instance at all, and the group CodeDeploy names as the fleet)
//! is counted apart. A copy of a deployment group's that still holds its load balancers and no
//! longer serves is `retirable`, and `--fix` retires it under the retire rule
//! ([`crate::domain::retire`]); a group a person made that holds them is a `retired_attached`
//! warning, never changed.
//!
//! Requests: `ListApplications` (per 100 applications) ∥ `ListDeployments` (running) ∥
//! `DescribeAutoScalingGroups` of every group of the region (per 100: the copies of any age); per
//! application `ListDeploymentGroups` and `BatchGetDeploymentGroups` (per 100 groups), at most 8
//! applications at a time, ∥ `BatchGetDeployments` (per 25); `BatchGetDeployments` of the
//! deployments whose copies the deployment groups name (their creation times); then [`reconcile`]'s rounds:
//! `DescribeTargetGroups` (per 20 names) ∥ `DescribeAutoScalingGroups` (per 100 groups), for the
//! groups missing something `DescribeTargetHealth` ∥ `DescribeInstanceHealth` (per load
//! balancer), and with `--fix` the attach calls.

mod retired;
mod rows;

pub use rows::{retire_row, row, AuditReport, AuditRow, AuditSummary, Role, State};

use crate::aws::{autoscaling, codedeploy, Clients, MAX_CONCURRENT_CALLS};
use crate::domain::config::{AllowList, AttachWhen, Config};
use crate::domain::decision::{
    copy_named, decide, decide_group, Decision, DeploymentFacts, DeploymentGroupFacts, SkipReason,
};
use crate::domain::error::AwsError;
use crate::domain::job::{Ending, Job, Step, Subject};
use crate::usecases::relink::{reconcile, GroupOutcome, Observed};
use crate::usecases::sweep::RUNNING;
use futures::{StreamExt, TryStreamExt};

/// Audits the region (the deployment groups `filter` allows); with `fix` (and no dry run)
/// attaches what is missing to live groups. `progress` is told (applications done, applications
/// in all) as the scan goes.
pub async fn audit(
    clients: &Clients,
    config: &Config,
    filter: &AllowList,
    fix: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<AuditReport, AwsError> {
    let cd = &clients.codedeploy;
    // Every group of the region, beside the listings: the copies of any age, and the retired
    // groups that still hold attachments.
    let (applications, running, all_groups) = tokio::join!(
        codedeploy::list_applications(cd),
        codedeploy::list_deployments(cd, &RUNNING, None),
        autoscaling::describe_all_groups(&clients.autoscaling),
    );
    let all_groups = all_groups?;
    let applications: Vec<String> = applications?
        .into_iter()
        .filter(|a| filter.allows_application(a))
        .collect();
    let running = running?;

    let total = applications.len();
    let (groups, deployments) = tokio::join!(
        deployment_groups(clients, &applications, filter, progress),
        codedeploy::batch_get_deployments(cd, &running)
    );
    let (groups, deployments) = (groups?, deployments?);
    let named = named_fleets(clients, &groups, &running).await;
    // What is known of deployments, for the creation times (the running ones included, though a
    // deployment group names a copy only once its deployment succeeded).
    let known: Vec<DeploymentFacts> = named
        .into_iter()
        .chain(deployments.iter().cloned())
        .collect();

    let dry_run = !fix || config.dry_run;
    let mut summary = AuditSummary {
        applications: total,
        deployment_groups: groups.len(),
        ..AuditSummary::default()
    };
    let (roles, jobs): (Vec<Role>, Vec<Job>) =
        jobs(&groups, &deployments, &known, config, filter, &mut summary)
            .into_iter()
            .unzip();

    let observed = observed(&groups, &known, config, &all_groups);
    let reconciled = reconcile(clients, config, dry_run, jobs, observed).await;
    let mut rows: Vec<AuditRow> = reconciled
        .jobs
        .into_iter()
        .map(|job| job.finish(dry_run))
        .zip(roles)
        // A running deployment whose traffic has not moved yet, or that CodeDeploy is still
        // moving, has nothing to audit yet.
        .filter(|(attempt, _)| {
            !matches!(
                attempt.report.reason,
                Some(SkipReason::TrafficNotShifted | SkipReason::Rerouting)
            )
        })
        .map(|(attempt, role)| row(role, attempt.report))
        .collect();
    rows.extend(reconciled.groups.into_iter().flat_map(retire_rows));
    rows.extend(retired::retired_rows(&rows, &all_groups));
    // A report says dry run only where one was asked for: a plain audit changes nothing by design.
    for row in &mut rows {
        row.report.dry_run = fix && config.dry_run;
    }
    summary.count(&rows);
    Ok(AuditReport { rows, summary })
}

/// The audited deployment groups as a reconcile observes them: their facts, the deployments read,
/// and the groups of the region named like their copies (`CodeDeploy_<group>_…`). Pure.
fn observed(
    groups: &[DeploymentGroupFacts],
    known: &[DeploymentFacts],
    config: &Config,
    all_groups: &[(String, crate::domain::plan::GroupState)],
) -> Vec<Observed> {
    groups
        .iter()
        .filter(|g| decide_group(g, config, known).is_ok())
        .map(|g| {
            let of_group = |d: &&DeploymentFacts| {
                d.application == g.application && d.deployment_group == g.deployment_group
            };
            let mut observed = Observed::read(g.clone(), Vec::new(), 0);
            observed.look_for_replaced = false; // every group of the region is read anyway
            observed.know(known.iter().filter(of_group).cloned());
            let prefix = format!("CodeDeploy_{}_", g.deployment_group);
            observed.found = all_groups
                .iter()
                .map(|(name, _)| name)
                .filter(|name| name.starts_with(&prefix))
                .cloned()
                .collect();
            observed
        })
        .collect()
}

/// The rows of one deployment group's copies that held its load balancers, and a failed row
/// when its retire rounds failed before any copy was judged.
fn retire_rows(group: GroupOutcome) -> Vec<AuditRow> {
    let (application, deployment_group) = &group.key;
    let error = group.retired.error.as_ref();
    let mut rows: Vec<AuditRow> = group
        .retired
        .retirements
        .iter()
        .cloned()
        .map(|r| retire_row(application, deployment_group, r, error))
        .collect();
    if let (Some(error), true) = (error, rows.is_empty()) {
        let mut job = Job::new(Subject::of("audit", None, application, deployment_group));
        job.round();
        job.end(Ending::Failed(error.clone()));
        rows.push(row(Role::Retired, job.finish(true).report));
    }
    rows
}

/// Every deployment group of `applications` that `filter` allows, read application by
/// application (`progress` counts them).
async fn deployment_groups(
    clients: &Clients,
    applications: &[String],
    filter: &AllowList,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<DeploymentGroupFacts>, AwsError> {
    let cd = &clients.codedeploy;
    let total = applications.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    progress(0, total);
    let groups = futures::stream::iter(applications)
        .map(|application| async {
            let names: Vec<String> = codedeploy::list_deployment_groups(cd, application)
                .await?
                .into_iter()
                .filter(|g| filter.allows(application, g))
                .collect();
            let groups = codedeploy::batch_get_deployment_groups(cd, application, &names).await?;
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            Ok::<_, AwsError>(groups)
        })
        .buffered(MAX_CONCURRENT_CALLS)
        .try_collect::<Vec<Vec<DeploymentGroupFacts>>>()
        .await?;
    Ok(groups.into_iter().flatten().collect())
}

/// The deployments whose copies the deployment groups name (the running ones aside, read
/// already): when they were created, from which newer deployments are counted just before an
/// attach.
async fn named_fleets(
    clients: &Clients,
    groups: &[DeploymentGroupFacts],
    running: &[String],
) -> Vec<DeploymentFacts> {
    let named: Vec<String> = groups
        .iter()
        .flat_map(|g| {
            g.auto_scaling_groups
                .iter()
                .filter_map(|name| copy_named(&g.deployment_group, name, &[]).deployment_id)
        })
        .filter(|id| !running.contains(id))
        .collect();
    // Unread, a group's creation time is unknown and every deployment of its deployment group
    // counts as newer (fail closed): a failed read costs those groups a longer listing, and fails
    // no other group's job.
    match named.is_empty() {
        true => Vec::new(),
        false => codedeploy::batch_get_deployments(&clients.codedeploy, &named)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "could not read when the named fleets' deployments were created");
                Vec::new()
            }),
    }
}

/// The audit's jobs: each group a deployment group names (those not audited counted by reason in
/// `summary`), then each running deployment's copy not already among them. Pure.
fn jobs(
    groups: &[DeploymentGroupFacts],
    deployments: &[DeploymentFacts],
    known: &[DeploymentFacts],
    config: &Config,
    filter: &AllowList,
    summary: &mut AuditSummary,
) -> Vec<(Role, Job)> {
    let mut jobs = Vec::new();
    for group in groups {
        match decide_group(group, config, known) {
            Err(skip) => {
                *summary
                    .not_audited
                    .entry(skip.reason.code().to_owned())
                    .or_default() += 1
            }
            Ok(targets) => {
                for target in targets {
                    let mut job = Job::new(Subject::of(
                        "audit",
                        None,
                        &group.application,
                        &group.deployment_group,
                    ));
                    job.decide(Decision::Relink(target));
                    jobs.push((Role::Current, job));
                }
            }
        }
    }
    // Running deployments' replacement groups, whatever RELINK_ATTACH_WHEN says: the live-fleet
    // check tells those already serving traffic.
    let running_mode = Config {
        attach_when: AttachWhen::TrafficShifted,
        ..config.clone()
    };
    for facts in deployments {
        if !filter.allows(&facts.application, &facts.deployment_group) {
            continue;
        }
        let Decision::Relink(target) = decide(facts, &running_mode) else {
            continue;
        };
        let listed = jobs
            .iter()
            .any(|(_, job)| matches!(&job.step, Step::Link(t) if t.group == target.group));
        if !listed {
            let mut job = Job::new(Subject::of(
                "audit",
                Some(&facts.deployment_id),
                &facts.application,
                &facts.deployment_group,
            ));
            job.decide(Decision::Relink(target));
            jobs.push((Role::Replacement, job));
        }
    }
    jobs
}
