//! Relinking: the rounds of AWS calls around the pure decision and plan.
//!
//! For one deployment ([`relink`]):
//! 1. `GetDeployment`;
//! 2. `DescribeTargetGroups` ∥ `DescribeAutoScalingGroups`;
//! 3. the attach calls, all concurrently, only for what is missing.
//!
//! Rounds 2 and 3 ([`link`]) take any number of groups at once, with names and groups described
//! in batches, so the sweep and the audit cost requests per batch, not per group.

use crate::aws::{autoscaling, codedeploy, elbv2, Clients, MAX_CONCURRENT_CALLS};
use crate::config::Config;
use crate::decision::{decide, Decision, RelinkTarget, Skip, SkipReason};
use crate::error::{AwsError, RelinkError};
use crate::event::DeploymentRef;
use crate::plan::Plan;
use crate::report::{Outcome, Report};
use futures::future::join_all;
use futures::StreamExt;
use tracing::instrument;

/// The result of relinking one group: always a report, and the error when it failed.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// What was done.
    pub report: Report,
    /// Why it failed, when `report.outcome` is [`Outcome::Failed`].
    pub error: Option<RelinkError>,
}

impl Attempt {
    fn done(report: Report) -> Self {
        Attempt {
            report,
            error: None,
        }
    }

    fn failed(report: Report, error: RelinkError) -> Self {
        Attempt {
            report: report.failed(error.code(), error.to_string()),
            error: Some(error),
        }
    }

    fn aws_failure(report: Report, error: AwsError) -> Self {
        let subject = subject(&report);
        Attempt::failed(report, RelinkError::Aws { subject, error })
    }
}

/// What an error says it is about: the deployment, or in an audit the deployment group.
fn subject(report: &Report) -> String {
    match &report.deployment_id {
        Some(id) => format!("deployment {id}"),
        None => format!(
            "deployment group {}/{}",
            report.application.as_deref().unwrap_or("?"),
            report.deployment_group.as_deref().unwrap_or("?")
        ),
    }
}

/// One group to link: what it should have, and the report to complete.
#[derive(Debug, Clone)]
pub struct Job {
    /// The group and its desired attachments.
    pub target: RelinkTarget,
    /// The report so far (source, deployment, names).
    pub report: Report,
}

/// Relinks the deployment a notification names, if it is ours to fix.
#[instrument(skip_all, fields(deployment_id = %notified.deployment_id))]
pub async fn relink(
    clients: &Clients,
    config: &Config,
    notified: &DeploymentRef,
    source: &str,
) -> Attempt {
    let id = notified.deployment_id.as_str();
    let mut report = Report::new(source, Some(id.to_owned()), config.dry_run);
    report.application = notified.application.clone();
    report.deployment_group = notified.deployment_group.clone();

    // Round 1: the deployment as CodeDeploy reports it.
    report.aws_rounds = 1;
    let facts = match codedeploy::get_deployment(&clients.codedeploy, id).await {
        Ok(Some(facts)) => facts,
        Ok(None) => {
            return Attempt::done(report.skipped(Skip {
                reason: SkipReason::DeploymentNotFound,
                detail: format!("GetDeployment does not know deployment {id}"),
            }))
        }
        Err(error) => return Attempt::aws_failure(report, error),
    };
    report.application = Some(facts.application.clone());
    report.deployment_group = Some(facts.deployment_group.clone());
    match decide(&facts, notified, config) {
        Decision::Skip(skip) => Attempt::done(report.skipped(skip)),
        Decision::Relink(target) => {
            let unanswered = report.clone();
            let mut attempts = link(clients, config.dry_run, vec![Job { target, report }]).await;
            // `link` answers every job; the fallback only keeps this free of panics.
            attempts.pop().unwrap_or_else(|| Attempt::done(unanswered))
        }
    }
}

/// Rounds 2 and 3 for any number of groups: every target group name resolved and every group
/// described in batches (concurrently), then each group's missing attachments attached. Returns
/// one attempt per job, in order. `aws_rounds` in each report counts on from what it says.
pub async fn link(clients: &Clients, dry_run: bool, jobs: Vec<Job>) -> Vec<Attempt> {
    let mut names: Vec<String> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    for job in &jobs {
        for name in &job.target.target_group_names {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        if !groups.contains(&job.target.replacement_group) {
            groups.push(job.target.replacement_group.clone());
        }
    }

    // Round 2: what should be attached, and what is.
    let resolve = async {
        if names.is_empty() {
            Ok(elbv2::Resolved::default())
        } else {
            elbv2::resolve_target_groups(&clients.elbv2, &names).await
        }
    };
    let (resolved, described) = tokio::join!(
        resolve,
        autoscaling::describe_groups(&clients.autoscaling, &groups)
    );

    let plans = jobs.into_iter().map(|mut job| {
        job.report.aws_rounds += 1;
        job.report.replacement_group = Some(job.target.replacement_group.clone());
        let outcome = match (&resolved, &described) {
            (_, Err(error)) => Err(Box::new(Attempt::aws_failure(
                job.report.clone(),
                error.clone(),
            ))),
            (Err(error), _) if !job.target.target_group_names.is_empty() => Err(Box::new(
                Attempt::aws_failure(job.report.clone(), error.clone()),
            )),
            (resolved, Ok(described)) => plan_job(&job, resolved.as_ref().ok(), described),
        };
        (job, outcome)
    });
    let attempts = futures::stream::iter(plans)
        .map(|(job, planned)| async move {
            match planned {
                Err(attempt) => *attempt,
                Ok(plan) => finish(clients, dry_run, job, plan).await,
            }
        })
        .buffered(MAX_CONCURRENT_CALLS);
    attempts.collect().await
}

/// Compares one job's desired attachments with its group's; `Err` is the job's final attempt
/// (boxed: it is much larger than a plan).
fn plan_job(
    job: &Job,
    resolved: Option<&elbv2::Resolved>,
    described: &std::collections::HashMap<String, autoscaling::GroupState>,
) -> Result<Plan, Box<Attempt>> {
    let target = &job.target;
    let group = match described.get(&target.replacement_group) {
        Some(group) if !group.is_deleting() => group,
        gone => {
            let state = gone.map_or("does not exist".to_owned(), |g| {
                format!("is {}", g.status.clone().unwrap_or_default())
            });
            return Err(Box::new(Attempt::done(job.report.clone().skipped(Skip {
                reason: SkipReason::ReplacementGroupGone,
                detail: format!("Auto Scaling group {} {state}", target.replacement_group),
            }))));
        }
    };
    let resolved = resolved.cloned().unwrap_or_default();
    let missing: Vec<String> = target
        .target_group_names
        .iter()
        .filter(|n| !resolved.arns.contains_key(*n))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let error = RelinkError::TargetGroupsNotFound {
            subject: subject(&job.report),
            application: job.report.application.clone().unwrap_or_default(),
            deployment_group: job.report.deployment_group.clone().unwrap_or_default(),
            names: missing,
        };
        return Err(Box::new(Attempt::failed(job.report.clone(), error)));
    }
    let desired_arns: Vec<String> = target
        .target_group_names
        .iter()
        .filter_map(|n| resolved.arns.get(n).cloned())
        .collect();
    Ok(Plan::new(
        &desired_arns,
        &group.target_group_arns,
        &target.load_balancer_names,
        &group.load_balancer_names,
    ))
}

/// Reports a plan and, unless it is complete or a dry run, carries it out (round 3).
async fn finish(clients: &Clients, dry_run: bool, job: Job, plan: Plan) -> Attempt {
    let mut report = job.report;
    report.target_groups.already_present = plan.target_groups.present.clone();
    report.target_groups.extra = plan.target_groups.extra.clone();
    report.load_balancers.already_present = plan.load_balancers.present.clone();
    report.load_balancers.extra = plan.load_balancers.extra.clone();
    if plan.is_complete() {
        report.outcome = Outcome::AlreadyLinked;
        return Attempt::done(report);
    }
    if dry_run {
        report.outcome = Outcome::Planned;
        report.target_groups.missing = plan.target_groups.missing.clone();
        report.load_balancers.missing = plan.load_balancers.missing.clone();
        return Attempt::done(report);
    }
    report.aws_rounds += 1;
    attach(clients, &job.target, &plan, report).await
}

async fn attach(
    clients: &Clients,
    target: &RelinkTarget,
    plan: &Plan,
    mut report: Report,
) -> Attempt {
    let group = target.replacement_group.as_str();
    let autoscaling = &clients.autoscaling;
    let target_group_calls = plan.target_groups.batches().map(|batch| async move {
        (
            batch,
            autoscaling::attach_target_groups(autoscaling, group, batch).await,
        )
    });
    let load_balancer_calls = plan.load_balancers.batches().map(|batch| async move {
        (
            batch,
            autoscaling::attach_load_balancers(autoscaling, group, batch).await,
        )
    });
    let (target_group_results, load_balancer_results) =
        tokio::join!(join_all(target_group_calls), join_all(load_balancer_calls));

    let mut failures = Vec::new();
    for (attachments, results) in [
        (&mut report.target_groups, target_group_results),
        (&mut report.load_balancers, load_balancer_results),
    ] {
        for (batch, result) in results {
            match result {
                Ok(()) => attachments.attached.extend_from_slice(batch),
                Err(error) => {
                    attachments.missing.extend_from_slice(batch);
                    failures.push(error);
                }
            }
        }
    }
    if failures.is_empty() {
        report.outcome = Outcome::Relinked;
        Attempt::done(report)
    } else {
        let error = RelinkError::Attach {
            subject: subject(&report),
            group: group.to_owned(),
            failures,
        };
        Attempt::failed(report, error)
    }
}
