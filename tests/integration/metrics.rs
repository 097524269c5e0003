//! The function's metrics, end to end: the real Lambda binary writes embedded-metric-format
//! records to its log; each follows the EMF specification and carries the values of the
//! invocation it belongs to. The CLI writes none.

use crate::emulator::{Emulator, LambdaRun};
use crate::fixtures::*;
use serde_json::{json, Value};

/// The CloudWatch units an EMF metric may declare.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The rules of the EMF specification: `_aws` with a millisecond `Timestamp` and metric
/// directives (a namespace, dimension sets of at most 30 names, at most 100 metrics with a known
/// unit); every dimension a string member of the record and every metric a number, or an array of
/// at most 100 numbers.
fn check_emf(record: &Value) -> Result<(), String> {
    let metadata = record["_aws"].as_object().ok_or("no _aws object")?;
    let timestamp = metadata
        .get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not a number of milliseconds")?;
    if timestamp < 1_000_000_000_000 {
        return Err(format!("_aws.Timestamp {timestamp} is not in milliseconds"));
    }
    let directives = metadata
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    for directive in directives {
        let namespace = directive["Namespace"].as_str().ok_or("no Namespace")?;
        if namespace.trim().is_empty() || namespace.len() > 255 {
            return Err(format!("namespace {namespace:?}"));
        }
        for set in directive["Dimensions"].as_array().ok_or("no Dimensions")? {
            let set = set
                .as_array()
                .ok_or("a dimension set that is not an array")?;
            if set.len() > 30 {
                return Err("more than 30 dimensions in a set".into());
            }
            for name in set {
                let name = name
                    .as_str()
                    .ok_or("a dimension name that is not a string")?;
                if !record[name].is_string() {
                    return Err(format!(
                        "dimension {name} has no string value in the record"
                    ));
                }
            }
        }
        let metrics = directive["Metrics"].as_array().ok_or("no Metrics")?;
        if metrics.len() > 100 {
            return Err("more than 100 metrics in a directive".into());
        }
        for metric in metrics {
            let name = metric["Name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or("a metric without a name")?;
            if let Some(unit) = metric.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(format!("metric {name} has unit {unit}"));
                }
            }
            let value = &record[name];
            let numbers = match value {
                Value::Number(_) => true,
                Value::Array(values) => values.len() <= 100 && values.iter().all(Value::is_number),
                _ => false,
            };
            if !numbers {
                return Err(format!("metric {name} has value {value}"));
            }
        }
    }
    Ok(())
}

/// The EMF records a run logged, each checked against the specification.
fn emf_records(run: &LambdaRun) -> Vec<Value> {
    let records: Vec<Value> = run
        .logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    for record in &records {
        check_emf(record).unwrap_or_else(|e| panic!("not an EMF record ({e}): {record}"));
    }
    records
}

fn invocation_record(records: &[Value]) -> &Value {
    let record = &records[0];
    assert_eq!(record["FunctionName"], "codedeploy-relink");
    assert_eq!(record["Invocations"], 1);
    record
}

#[test]
fn a_relink_is_counted_with_its_attachments_and_delay() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "target_groups": 2,
        "classic_load_balancers": 1}));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(SUCCESS).unwrap()).unwrap();
    let run = emulator.invoke_lambda(&event, &[], FUNCTION_ARN);
    assert!(run.succeeded(), "{:?}", run.body);
    let report = &run.body["reports"][0];
    let records = emf_records(&run);
    assert_eq!(
        records.len(),
        1,
        "no skip, no per-reason record: {records:?}"
    );
    let main = invocation_record(&records);
    assert_eq!(main["Relinked"], 1);
    assert_eq!(main["Skipped"], 0);
    assert_eq!(main["Failed"], 0);
    assert_eq!(
        main["TargetGroupsAttached"].as_u64(),
        report["target_groups"]["attached"]
            .as_array()
            .map(|a| a.len() as u64)
    );
    assert_eq!(main["LoadBalancersAttached"], 1);
    assert_eq!(main["SweepRuns"], 0);
    assert_eq!(main["AttachDelay"], json!([report["attach_delay_seconds"]]));
}

#[test]
fn skips_are_counted_by_reason_and_failures_as_failures() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C", "status": "Failed",
        "traffic_shifted": false}));
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string("events/sns-deployment-failure.json").unwrap(),
    )
    .unwrap();
    let run = emulator.invoke_lambda(&event, &[], FUNCTION_ARN);
    let records = emf_records(&run);
    assert_eq!(invocation_record(&records)["Skipped"], 1);
    assert_eq!(records[1]["Reason"], "deployment_failed");
    assert_eq!(records[1]["Skipped"], 1);
    assert_eq!(
        records[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["FunctionName", "Reason"]])
    );

    let invalid: Value = serde_json::from_str(
        &std::fs::read_to_string("events/invalid/unknown-shape.json").unwrap(),
    )
    .unwrap();
    let run = emulator.invoke_lambda(&invalid, &[], FUNCTION_ARN);
    assert!(run.path.ends_with("/error"));
    assert_eq!(invocation_record(&emf_records(&run))["Failed"], 1);
}

#[test]
fn a_sweep_is_a_heartbeat_with_the_deployments_it_read() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"application": "web", "deployment_group": "web-bg"}));
    emulator.build(json!({"application": "api", "deployment_group": "api-bg", "linked": true}));
    let schedule: Value =
        serde_json::from_str(&std::fs::read_to_string("events/scheduled-sweep.json").unwrap())
            .unwrap();
    let run = emulator.invoke_lambda(&schedule, &[], FUNCTION_ARN);
    assert!(run.succeeded(), "{:?}", run.body);
    let main = invocation_record(&emf_records(&run)).clone();
    assert_eq!(main["SweepRuns"], 1);
    assert_eq!(
        main["SweepDeploymentsSeen"],
        run.body["summary"]["deployments_seen"]
    );
    assert_eq!(main["Relinked"], run.body["summary"]["relinked"]);
    assert_eq!(main["AlreadyLinked"], run.body["summary"]["already_linked"]);
}

#[test]
fn the_cli_writes_no_metrics() {
    let mut emulator = Emulator::start();
    emulator.build(json!({"deployment_id": "d-75I7MBT7C"}));
    for args in [vec!["replay", SUCCESS], vec!["--json", "sweep"]] {
        let run = emulator.relink(&args, &[]);
        assert!(run.success(), "{}", run.stderr());
        let out = String::from_utf8_lossy(&run.output.stdout).into_owned() + &run.stderr();
        assert!(!out.contains("\"_aws\""), "{out}");
    }
}

#[test]
fn the_checker_refuses_what_the_specification_refuses() {
    let good = json!({"_aws": {"Timestamp": 1_700_000_000_000_u64, "CloudWatchMetrics": [
        {"Namespace": "n", "Dimensions": [["F"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]},
        "F": "f", "M": 1});
    assert_eq!(check_emf(&good), Ok(()));
    let broken = |change: fn(&mut Value)| {
        let mut record = good.clone();
        change(&mut record);
        check_emf(&record)
    };
    assert!(broken(|r| r["_aws"]["Timestamp"] = json!(1_700_000_000)).is_err());
    assert!(broken(|r| r["M"] = json!("1")).is_err());
    assert!(broken(|r| r["F"] = json!(1)).is_err());
    assert!(
        broken(|r| r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Apples"))
            .is_err()
    );
    assert!(broken(|r| r["_aws"]["CloudWatchMetrics"] = json!([])).is_err());
}
