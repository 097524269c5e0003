//! The function's CloudWatch metrics, written to its log in the embedded metric format (EMF):
//! CloudWatch Logs extracts them, so they cost no AWS call and no permission. Pure: reports in,
//! EMF records out; the Lambda edge prints them, the CLI never does.
//!
//! Each invocation writes one record with its counts (dimension `FunctionName`), and one record per
//! skip reason it saw (dimensions `FunctionName`, `Reason`): an EMF record carries one value per
//! dimension, so counts by reason need a record each. Dimensions stay low-cardinality: never a
//! deployment id or a group name.
//!
//! Serde structs of the documented schema rather than a metrics crate (`metrics` with a
//! CloudWatch exporter): the function emits a fixed handful of counters once per invocation, so a
//! global recorder, its aggregation and its flushing would add moving parts without removing any.

use crate::domain::report::{Outcome, Report};
use crate::domain::retire::RetireOutcome;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The metrics' namespace.
pub const NAMESPACE: &str = "codedeploy-relink";
/// The dimension every record carries: the function's name.
pub const FUNCTION_DIMENSION: &str = "FunctionName";
/// The dimension of the per-reason records.
pub const REASON_DIMENSION: &str = "Reason";

/// The counters of the invocation record, each with its meaning.
pub const COUNTS: [(&str, &str); 13] = [
    (
        "Relinked",
        "groups whose missing load balancers were attached",
    ),
    ("AlreadyLinked", "groups that had everything"),
    ("Planned", "dry run: groups that would have been relinked"),
    ("Skipped", "notifications or deployments left alone"),
    (
        "Failed",
        "notifications or deployments that could not be relinked",
    ),
    ("TargetGroupsAttached", "target groups attached"),
    ("LoadBalancersAttached", "classic load balancers attached"),
    (
        "Retired",
        "copies whose deployment group's load balancers were detached",
    ),
    ("TargetGroupsDetached", "target groups detached from copies"),
    (
        "LoadBalancersDetached",
        "classic load balancers detached from copies",
    ),
    ("Invocations", "invocations (1 per record)"),
    ("SweepRuns", "scheduled sweeps (1 per sweep)"),
    ("SweepDeploymentsSeen", "deployments a sweep read"),
];
/// Seconds from a deployment's success to the attach, one value per relinked group of a
/// succeeded deployment: how long the copy ran without its load balancers at least.
pub const ATTACH_DELAY: &str = "AttachDelay";

#[derive(Serialize)]
struct Record<'a> {
    #[serde(rename = "_aws")]
    metadata: Metadata<'a>,
    #[serde(flatten)]
    members: Map<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: u64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'static str,
    dimensions: [Vec<&'static str>; 1],
    metrics: Vec<Metric<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metric<'a> {
    name: &'a str,
    unit: &'static str,
}

/// What an invocation was, besides its reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Invocation {
    /// A scheduled sweep.
    pub sweep: bool,
    /// An event that could not be read at all (counted as one failure).
    pub invalid: bool,
    /// When it ended, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// The EMF records of one invocation's reports: the counts, then one record per skip reason.
pub fn records(function_name: &str, reports: &[Report], invocation: Invocation) -> Vec<Value> {
    let mut members = Map::new();
    members.insert(FUNCTION_DIMENSION.into(), function_name.into());
    let mut metrics: Vec<Metric> = counts(reports, &invocation)
        .iter()
        .map(|(name, value)| {
            members.insert((*name).into(), (*value).into());
            Metric {
                name,
                unit: "Count",
            }
        })
        .collect();
    let delays: Vec<u64> = reports
        .iter()
        .filter_map(|r| r.attach_delay_seconds)
        .collect();
    if !delays.is_empty() {
        members.insert(ATTACH_DELAY.into(), delays.into());
        metrics.push(Metric {
            name: ATTACH_DELAY,
            unit: "Seconds",
        });
    }
    let mut out = vec![record(
        vec![FUNCTION_DIMENSION],
        metrics,
        members,
        invocation.timestamp_ms,
    )];
    out.extend(skips_by_reason(
        function_name,
        reports,
        invocation.timestamp_ms,
    ));
    out
}

/// The counts of the invocation's record, by metric name.
fn counts(reports: &[Report], invocation: &Invocation) -> [(&'static str, usize); 13] {
    let count = |outcome: Outcome| reports.iter().filter(|r| r.outcome == outcome).count();
    let retired = || {
        reports
            .iter()
            .flat_map(|r| &r.retired)
            .filter(|r| r.outcome == RetireOutcome::Retired)
    };
    let sweep = invocation.sweep;
    [
        ("Relinked", count(Outcome::Relinked)),
        ("AlreadyLinked", count(Outcome::AlreadyLinked)),
        ("Planned", count(Outcome::Planned)),
        ("Skipped", count(Outcome::Skipped)),
        (
            "Failed",
            count(Outcome::Failed) + usize::from(invocation.invalid),
        ),
        (
            "TargetGroupsAttached",
            reports.iter().map(|r| r.target_groups.attached.len()).sum(),
        ),
        (
            "LoadBalancersAttached",
            reports
                .iter()
                .map(|r| r.load_balancers.attached.len())
                .sum(),
        ),
        ("Retired", retired().count()),
        (
            "TargetGroupsDetached",
            retired().map(|r| r.target_groups.len()).sum(),
        ),
        (
            "LoadBalancersDetached",
            retired().map(|r| r.load_balancers.len()).sum(),
        ),
        ("Invocations", 1),
        ("SweepRuns", usize::from(sweep)),
        (
            "SweepDeploymentsSeen",
            if sweep { reports.len() } else { 0 },
        ),
    ]
}

/// One record per skip reason the invocation saw: `Skipped` with the `Reason` dimension.
fn skips_by_reason(function_name: &str, reports: &[Report], timestamp_ms: u64) -> Vec<Value> {
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for reason in reports.iter().filter_map(|r| r.reason) {
        *by_reason.entry(reason.code()).or_default() += 1;
    }
    by_reason
        .into_iter()
        .map(|(reason, n)| {
            let mut members = Map::new();
            members.insert(FUNCTION_DIMENSION.into(), function_name.into());
            members.insert(REASON_DIMENSION.into(), reason.into());
            members.insert("Skipped".into(), n.into());
            let metrics = vec![Metric {
                name: "Skipped",
                unit: "Count",
            }];
            record(
                vec![FUNCTION_DIMENSION, REASON_DIMENSION],
                metrics,
                members,
                timestamp_ms,
            )
        })
        .collect()
}

fn record(
    dimensions: Vec<&'static str>,
    metrics: Vec<Metric>,
    members: Map<String, Value>,
    timestamp_ms: u64,
) -> Value {
    let record = Record {
        metadata: Metadata {
            timestamp: timestamp_ms,
            cloud_watch_metrics: [Directive {
                namespace: NAMESPACE,
                dimensions: [dimensions],
                metrics,
            }],
        },
        members,
    };
    serde_json::to_value(record).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::{Skip, SkipReason};
    use crate::domain::job::{Ending, Job, Subject};
    use crate::domain::plan::Plan;

    fn report(ending: Ending, attached: usize, delay: Option<u64>) -> Report {
        let arns: Vec<String> = (0..attached).map(|i| format!("arn:tg/{i}")).collect();
        let mut job = Job::new(Subject::default());
        job.group = Some("G".into());
        job.plan = Plan::new(&arns, &[], &[], &[]);
        job.attached_target_groups = arns;
        job.end(ending);
        let mut report = job.finish(false).report;
        report.attach_delay_seconds = delay;
        report
    }

    #[test]
    fn the_invocation_record_counts_outcomes_and_attachments() {
        let reports = [
            report(Ending::Relinked, 2, Some(30)),
            report(Ending::Relinked, 1, None),
            report(Ending::AlreadyLinked, 0, None),
            report(Ending::Skipped(Skip::new(SkipReason::NotLive, "")), 0, None),
        ];
        let at = |timestamp_ms| Invocation {
            timestamp_ms,
            ..Invocation::default()
        };
        let records = records("relink", &reports, at(1_700_000_000_000));
        let main = &records[0];
        assert_eq!(main["_aws"]["Timestamp"], 1_700_000_000_000_u64);
        let directive = &main["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["FunctionName"]])
        );
        assert_eq!(main["FunctionName"], "relink");
        assert_eq!(main["Relinked"], 2);
        assert_eq!(main["AlreadyLinked"], 1);
        assert_eq!(main["Skipped"], 1);
        assert_eq!(main["TargetGroupsAttached"], 3);
        assert_eq!(main["SweepRuns"], 0);
        assert_eq!(main["AttachDelay"], serde_json::json!([30]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"AttachDelay") && names.contains(&"Relinked"));
    }

    #[test]
    fn each_skip_reason_has_a_record_of_its_own() {
        let skip = |reason| report(Ending::Skipped(Skip::new(reason, "")), 0, None);
        let reports = [
            skip(SkipReason::NotLive),
            skip(SkipReason::InPlace),
            skip(SkipReason::NotLive),
        ];
        let sweep = Invocation {
            sweep: true,
            ..Invocation::default()
        };
        let records = records("relink", &reports, sweep);
        assert_eq!(records.len(), 3);
        assert_eq!(records[0]["SweepRuns"], 1);
        assert_eq!(records[0]["SweepDeploymentsSeen"], 3);
        let by_reason: Vec<(String, u64)> = records[1..]
            .iter()
            .map(|r| {
                (
                    r["Reason"].as_str().unwrap().to_owned(),
                    r["Skipped"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(by_reason, [("in_place".into(), 1), ("not_live".into(), 2)]);
        assert_eq!(
            records[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["FunctionName", "Reason"]])
        );
    }

    #[test]
    fn retirements_count_the_copies_retired_and_what_was_detached() {
        use crate::domain::retire::{KeepReason, RetireOutcome, Retirement};
        let retirement = |outcome, tgs: usize, clbs: usize| Retirement {
            group: "CodeDeploy_web-bg_d-1".into(),
            outcome,
            reason: (outcome == RetireOutcome::Kept).then_some(KeepReason::Serving),
            target_groups: (0..tgs).map(|i| format!("arn:tg/{i}")).collect(),
            load_balancers: (0..clbs).map(|i| format!("clb-{i}")).collect(),
            detail: String::new(),
        };
        let mut one = report(Ending::AlreadyLinked, 0, None);
        one.retired = vec![
            retirement(RetireOutcome::Retired, 2, 1),
            retirement(RetireOutcome::Kept, 3, 3),
            retirement(RetireOutcome::Planned, 1, 0),
        ];
        let mut two = report(Ending::Relinked, 1, None);
        two.retired = vec![retirement(RetireOutcome::Retired, 1, 0)];
        let records = records("relink", &[one, two], Invocation::default());
        assert_eq!(records[0]["Retired"], 2);
        assert_eq!(records[0]["TargetGroupsDetached"], 3);
        assert_eq!(records[0]["LoadBalancersDetached"], 1);
    }

    #[test]
    fn no_attach_delay_without_a_value() {
        let records = records(
            "relink",
            &[report(Ending::AlreadyLinked, 0, None)],
            Invocation::default(),
        );
        assert!(records[0].get("AttachDelay").is_none());
    }

    #[test]
    fn an_unreadable_event_is_one_failure() {
        let invalid = Invocation {
            invalid: true,
            ..Invocation::default()
        };
        let records = records("relink", &[], invalid);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["Failed"], 1);
        assert_eq!(records[0]["Invocations"], 1);
    }
}
