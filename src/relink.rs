//! Relinking one deployment: three sequential rounds of AWS calls around the pure decision.
//!
//! 1. `GetDeployment`;
//! 2. `DescribeTargetGroups` ∥ `DescribeAutoScalingGroups`;
//! 3. the attach calls, all concurrently, only for what is missing.

use crate::aws::{autoscaling, codedeploy, elbv2, Clients};
use crate::config::Config;
use crate::decision::{decide, Decision, DeploymentFacts, RelinkTarget, Skip, SkipReason};
use crate::error::{AwsError, RelinkError};
use crate::event::DeploymentRef;
use crate::plan::Plan;
use crate::report::{Outcome, Report};
use futures::future::join_all;
use tracing::instrument;

/// The result of relinking one deployment: always a report, and the error when it failed.
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
    let aws_failure = |report: Report, error: AwsError| {
        Attempt::failed(
            report,
            RelinkError::Aws {
                deployment_id: id.to_owned(),
                error,
            },
        )
    };

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
        Err(error) => return aws_failure(report, error),
    };
    report.application = Some(facts.application.clone());
    report.deployment_group = Some(facts.deployment_group.clone());
    let target = match decide(&facts, notified, config) {
        Decision::Skip(skip) => return Attempt::done(report.skipped(skip)),
        Decision::Relink(target) => target,
    };
    report.replacement_group = Some(target.replacement_group.clone());

    // Round 2: what should be attached, and what is.
    report.aws_rounds = 2;
    let resolve = async {
        if target.target_group_names.is_empty() {
            Ok(Vec::new())
        } else {
            elbv2::resolve_target_groups(&clients.elbv2, &target.target_group_names).await
        }
    };
    let describe = autoscaling::describe_group(&clients.autoscaling, &target.replacement_group);
    let (resolved, group) = tokio::join!(resolve, describe);
    let group = match group {
        Ok(Some(group)) if !group.is_deleting() => group,
        Ok(gone) => {
            let state = gone.map_or("does not exist".to_owned(), |g| {
                format!("is {}", g.status.unwrap_or_default())
            });
            return Attempt::done(report.skipped(Skip {
                reason: SkipReason::ReplacementGroupGone,
                detail: format!("replacement group {} {state}", target.replacement_group),
            }));
        }
        Err(error) => return aws_failure(report, error),
    };
    let desired_arns: Vec<String> = match resolved {
        Ok(pairs) => pairs.into_iter().map(|(_, arn)| arn).collect(),
        Err(elbv2::ResolveError::NotFound(names)) => {
            let error = not_found(&facts, names);
            return Attempt::failed(report, error);
        }
        Err(elbv2::ResolveError::Aws(error)) => return aws_failure(report, error),
    };

    let plan = Plan::new(
        &desired_arns,
        &group.target_group_arns,
        &target.load_balancer_names,
        &group.load_balancer_names,
    );
    report.target_groups.already_present = plan.target_groups.present.clone();
    report.target_groups.extra = plan.target_groups.extra.clone();
    report.load_balancers.already_present = plan.load_balancers.present.clone();
    report.load_balancers.extra = plan.load_balancers.extra.clone();
    if plan.is_complete() {
        report.outcome = Outcome::AlreadyLinked;
        return Attempt::done(report);
    }
    if config.dry_run {
        report.outcome = Outcome::Planned;
        report.target_groups.missing = plan.target_groups.missing.clone();
        report.load_balancers.missing = plan.load_balancers.missing.clone();
        return Attempt::done(report);
    }

    // Round 3: attach what is missing, every batch concurrently.
    report.aws_rounds = 3;
    attach(clients, &target, &plan, report).await
}

fn not_found(facts: &DeploymentFacts, names: Vec<String>) -> RelinkError {
    RelinkError::TargetGroupsNotFound {
        deployment_id: facts.deployment_id.clone(),
        application: facts.application.clone(),
        deployment_group: facts.deployment_group.clone(),
        names,
    }
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
            deployment_id: report.deployment_id.clone().unwrap_or_default(),
            group: group.to_owned(),
            failures,
        };
        Attempt::failed(report, error)
    }
}
