//! Unit tests of the parent module.

use super::*;
use crate::domain::job::{Ending, Job, Subject};
use crate::usecases::audit::{Role, State};

#[test]
fn role_arns_follow_the_partition_of_the_home_region() {
    assert_eq!(
        role_arn(partition_of("eu-west-1"), "111111111111", "RelinkAudit"),
        "arn:aws:iam::111111111111:role/RelinkAudit"
    );
    assert_eq!(partition_of("cn-north-1"), "aws-cn");
    assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
}

fn audit_with(ending: Ending, group: &str) -> AuditReport {
    let mut job = Job::new(Subject::of("audit", None, "web", "web-bg"));
    job.group = Some(group.into());
    job.end(ending);
    let report = job.finish(true).report;
    let row = crate::usecases::audit::row(Role::Current, report);
    let mut summary = AuditSummary {
        applications: 1,
        deployment_groups: 1,
        auto_scaling_groups: 1,
        ..AuditSummary::default()
    };
    match row.state {
        State::Linked => summary.linked = 1,
        State::Drift => summary.drift = 1,
        _ => summary.failed = 1,
    }
    AuditReport {
        rows: vec![row],
        summary,
    }
}

#[test]
fn exit_codes_say_drift_and_unreachable_apart() {
    let mut clean = OrganizationReport::default();
    clean.add_pair(
        "111111111111",
        "eu-west-1",
        audit_with(Ending::AlreadyLinked, "g1"),
    );
    assert_eq!(clean.exit_code(), 0);

    let mut drift = clean.clone();
    drift.add_pair(
        "222222222222",
        "eu-west-1",
        audit_with(Ending::Planned, "g2"),
    );
    assert_eq!(drift.exit_code(), EXIT_DRIFT);

    let mut unreachable = clean.clone();
    unreachable.add_unreachable("333333333333", None, "AccessDenied".into());
    assert_eq!(unreachable.exit_code(), EXIT_UNREACHABLE);

    drift.add_unreachable("333333333333", Some("eu-west-1"), "x".into());
    assert_eq!(drift.exit_code(), EXIT_DRIFT | EXIT_UNREACHABLE);
    assert_eq!(drift.summary.pairs, 2);
    assert_eq!(drift.summary.audit.linked, 1);
    assert_eq!(drift.summary.audit.drift, 1);
}

#[test]
fn rows_name_account_region_and_group_and_sort() {
    let mut report = OrganizationReport::default();
    report.add_pair(
        "222222222222",
        "us-east-1",
        audit_with(Ending::Planned, "g2"),
    );
    report.add_unreachable("111111111111", None, "AccessDenied".into());
    report.add_pair(
        "222222222222",
        "eu-west-1",
        audit_with(Ending::AlreadyLinked, "g1"),
    );
    report.sort();
    let places: Vec<(&str, Option<&str>, &str)> = report
        .rows
        .iter()
        .map(|r| (r.account.as_str(), r.region.as_deref(), r.state.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            ("111111111111", None, "unreachable"),
            ("222222222222", Some("eu-west-1"), "linked"),
            ("222222222222", Some("us-east-1"), "drift"),
        ]
    );
    assert_eq!(
        report.rows[1].deployment_group.as_deref(),
        Some("web/web-bg")
    );
    assert_eq!(report.rows[1].auto_scaling_group.as_deref(), Some("g1"));
}

#[test]
fn a_rejected_token_hints_at_a_region_not_enabled() {
    let error = AwsError {
        operation: "ListApplications",
        resource: "the region".into(),
        code: "UnrecognizedClientException".into(),
        message: "The security token included in the request is invalid".into(),
        retryable: false,
    };
    assert!(unreachable_reason(&error).contains("is the region enabled"));
    let denied = AwsError {
        code: "AccessDeniedException".into(),
        ..error
    };
    assert!(!unreachable_reason(&denied).contains("region enabled"));
}
