//! Unit tests of the parent module.

use super::*;
use crate::domain::decision::SkipReason;

fn job() -> Job {
    Job::new(Subject {
        source: "Records[0]".into(),
        deployment_id: Some("d-1".into()),
        ..Subject::default()
    })
}

#[test]
fn a_skip_becomes_a_report_with_its_reason_and_rounds() {
    let mut job = job();
    job.round();
    job.decide(Decision::Skip(Skip::new(
        SkipReason::DeploymentFailed,
        "the deployment failed",
    )));
    let attempt = job.finish(false);
    assert!(attempt.error.is_none());
    let report = attempt.report;
    assert_eq!(report.outcome, Outcome::Skipped);
    assert_eq!(report.reason, Some(SkipReason::DeploymentFailed));
    assert_eq!(report.detail.as_deref(), Some("the deployment failed"));
    assert_eq!(report.aws_rounds, 1);
}

#[test]
fn attachments_come_from_the_plan_and_what_was_attached() {
    let mut job = job();
    for _ in 0..4 {
        job.round();
    }
    job.group = Some("G".into());
    job.plan = Plan::new(
        &["arn:a".into(), "arn:b".into(), "arn:c".into()],
        &["arn:a".into(), "arn:x".into()],
        &["clb".into()],
        &[],
    );
    job.attached_target_groups = vec!["arn:b".into()];
    job.end(Ending::Relinked);
    let report = job.finish(false).report;
    assert_eq!(report.outcome, Outcome::Relinked);
    assert_eq!(report.aws_rounds, 4);
    assert_eq!(report.replacement_group.as_deref(), Some("G"));
    assert_eq!(report.target_groups.attached, vec!["arn:b".to_owned()]);
    assert_eq!(report.target_groups.missing, vec!["arn:c".to_owned()]);
    assert_eq!(
        report.target_groups.already_present,
        vec!["arn:a".to_owned()]
    );
    assert_eq!(report.target_groups.extra, vec!["arn:x".to_owned()]);
    assert_eq!(report.load_balancers.missing, vec!["clb".to_owned()]);
}

#[test]
fn a_failure_carries_its_code_operation_and_subject() {
    let mut job = job();
    job.round();
    job.fail(AwsError {
        operation: "GetDeployment",
        resource: "d-1".into(),
        code: "ThrottlingException".into(),
        message: "slow down".into(),
        retryable: true,
    });
    let attempt = job.finish(true);
    let report = &attempt.report;
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.error_code.as_deref(), Some("ThrottlingException"));
    assert_eq!(report.error_operation.as_deref(), Some("GetDeployment"));
    assert!(report
        .detail
        .as_deref()
        .unwrap()
        .starts_with("deployment d-1: "));
    assert!(report.dry_run);
    assert!(attempt.error.unwrap().is_retryable());
}

#[test]
fn a_job_found_by_a_listing_starts_from_its_rounds_and_a_follower_keeps_its_subject() {
    let mut listing = Job::new(Subject::source("sweep"));
    listing.round();
    listing.round();
    let mut leader = listing.found(Subject::of("sweep", Some("d-1"), "app", "dg"));
    assert_eq!(leader.rounds(), 2);
    leader.round();
    leader.group = Some("G".into());
    leader.end(Ending::AlreadyLinked);

    let mut follower = job();
    follower.subject.source = "Records[3]".into();
    follower.follow(&leader);
    let report = follower.finish(false).report;
    assert_eq!(report.source, "Records[3]");
    assert_eq!(report.deployment_id.as_deref(), Some("d-1"));
    assert_eq!(report.aws_rounds, 3);
    assert_eq!(report.outcome, Outcome::AlreadyLinked);
    assert_eq!(report.replacement_group.as_deref(), Some("G"));
}

#[test]
fn a_job_that_never_ended_is_a_retryable_failure_not_a_panic() {
    let attempt = job().finish(false);
    assert_eq!(attempt.report.outcome, Outcome::Failed);
    assert_eq!(attempt.report.error_code.as_deref(), Some("Unfinished"));
    assert!(attempt.error.unwrap().is_retryable());
}
