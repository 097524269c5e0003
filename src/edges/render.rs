//! Everything `relink` prints for people: an invocation's reports as blocks, the sweep's summary,
//! the SQS partial-batch answer, and the audit as a table. (`--json` prints the types' own serde
//! form instead; the Lambda function prints nothing but its logs.)

use crate::domain::plan::short_name;
use crate::domain::report::{Attachments, Report};
use crate::usecases::audit::{AuditReport, AuditRow, Role, State};
use crate::usecases::dlq::{Letter, Replayed};
use crate::usecases::invocation::Response;
use crate::usecases::organization::OrganizationReport;
use comfy_table::{presets, Table};
use std::fmt::Write as _;
use std::time::Duration;

/// An invocation's response: each report as a block, then the sweep's summary and the SQS
/// records to redeliver when there are.
pub fn response(response: &Response) -> String {
    let mut out = String::new();
    for report in &response.reports {
        let _ = writeln!(out, "{}", report_block(report));
    }
    if let Some(summary) = &response.summary {
        let _ = writeln!(out, "{summary}");
    }
    if let Some(sqs) = &response.sqs {
        let ids: Vec<&str> = sqs
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let _ = writeln!(out, "batchItemFailures: {}", or_none(&ids.join(", ")));
    }
    out
}

/// One report: a header line (outcome, deployment group, Auto Scaling group, deployment) and
/// its details as indented label and value columns. Target groups are shown by name.
pub fn report_block(report: &Report) -> String {
    let dash = |v: &Option<String>| v.as_deref().unwrap_or("-").to_owned();
    let header = [
        report.outcome.as_str().to_uppercase(),
        format!(
            "{}/{}",
            dash(&report.application),
            dash(&report.deployment_group)
        ),
        dash(&report.replacement_group),
        dash(&report.deployment_id),
    ]
    .join("  ");
    let mut details = vec![("source", report.source.clone())];
    if let Some(instance) = &report.instance_id {
        details.push(("instance", instance.clone()));
    }
    if let Some(reason) = report.reason {
        details.push(("reason", reason.code().to_owned()));
    }
    if let Some(code) = &report.error_code {
        details.push(("error code", code.clone()));
    }
    details.push(("summary", report.to_string()));
    for (label, attachments) in [
        ("target groups", &report.target_groups),
        ("load balancers", &report.load_balancers),
    ] {
        for (what, items) in kinds(attachments) {
            let names: Vec<&str> = items.iter().map(|i| short_name(i)).collect();
            details.push((label, format!("{what}: {}", names.join(", "))));
        }
    }
    if report.dry_run {
        details.push(("dry run", "yes: no change was made".to_owned()));
    }
    let mut table = Table::new();
    table.load_style(presets::NOTHING).add_rows(
        details
            .into_iter()
            .map(|(label, value)| [label.to_owned(), value]),
    );
    if let Some(labels) = table.column_mut(0) {
        labels.set_padding((2, 1));
    }
    if let Some(values) = table.column_mut(1) {
        values.set_padding((1, 0));
    }
    format!("{header}\n{}", lines(&table))
}

/// A table's lines without the padding after their last column.
fn lines(table: &Table) -> String {
    table
        .to_string()
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

fn kinds(a: &Attachments) -> impl Iterator<Item = (&'static str, &Vec<String>)> {
    [
        ("attached", &a.attached),
        ("missing", &a.missing),
        ("already present", &a.already_present),
        ("extra (kept)", &a.extra),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
}

/// The audit: a table of every Auto Scaling group, the warnings and errors under it, and a
/// summary line.
pub fn audit(report: &AuditReport) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_header([
        "DEPLOYMENT GROUP",
        "AUTO SCALING GROUP",
        "ROLE",
        "MISSING (+ attached)",
        "EXTRA",
        "STATE",
    ]);
    for row in &report.rows {
        table.add_row(audit_cells(row));
    }
    let mut out = format!("{table}\n");
    for row in &report.rows {
        let group = row.report.replacement_group.as_deref().unwrap_or("?");
        for warning in &row.warnings {
            let _ = writeln!(
                out,
                "warning: {group}: {warning}; CodeDeploy will not copy it to the next replacement group"
            );
        }
        match (row.state, &row.report.detail) {
            (State::Failed, Some(detail)) => {
                let _ = writeln!(out, "error: {detail}");
            }
            (State::NotLive, Some(detail)) => {
                let _ = writeln!(
                    out,
                    "not live: {detail}; left alone (its load balancers do not serve it)"
                );
            }
            (State::Superseded, Some(detail)) => {
                let _ = writeln!(out, "superseded: {detail}; left alone");
            }
            (State::RetiredAttached, Some(detail)) => {
                let _ = writeln!(out, "warning: {detail}");
            }
            (State::Drift | State::Fixed, Some(detail)) if row.report.outage_repair => {
                let _ = writeln!(out, "outage repair: {detail}");
            }
            _ => {}
        }
    }
    let s = &report.summary;
    let not_audited: usize = s.not_audited.values().sum();
    let _ = writeln!(
        out,
        "audit: {} application(s), {} deployment group(s) ({} not blue/green copies), {} Auto Scaling group(s): {} linked, {} drift, {} fixed, {} failed, {} gone, {} not live, {} superseded; {} outage repair(s), {} retired still attached; {} warning(s)",
        s.applications, s.deployment_groups, not_audited, s.auto_scaling_groups, s.linked, s.drift, s.fixed, s.failed, s.gone, s.not_live, s.superseded, s.outage_repairs, s.retired_attached, s.warnings
    );
    out
}

fn audit_cells(row: &AuditRow) -> [String; 6] {
    let r = &row.report;
    [
        format!(
            "{}/{}",
            r.application.as_deref().unwrap_or("?"),
            r.deployment_group.as_deref().unwrap_or("?")
        ),
        r.replacement_group.clone().unwrap_or_default(),
        match row.role {
            Role::Current => "current".to_owned(),
            Role::Replacement => {
                format!("replacement {}", r.deployment_id.as_deref().unwrap_or(""))
            }
            Role::Retired => "retired".to_owned(),
        },
        or_dash(&row.missing().join(",")),
        or_dash(&row.extra().join(",")),
        row.state.as_str().to_owned(),
    ]
}

/// The multi-account audit: one table (account, region, deployment group, Auto Scaling group,
/// state, missing), the reasons of what failed, was not live or unreachable, and a summary.
pub fn organization(report: &OrganizationReport) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_header([
        "ACCOUNT",
        "REGION",
        "DEPLOYMENT GROUP",
        "AUTO SCALING GROUP",
        "STATE",
        "MISSING",
    ]);
    for row in &report.rows {
        table.add_row([
            row.account.clone(),
            or_dash(row.region.as_deref().unwrap_or_default()),
            or_dash(row.deployment_group.as_deref().unwrap_or_default()),
            or_dash(row.auto_scaling_group.as_deref().unwrap_or_default()),
            row.state.clone(),
            or_dash(&row.missing.join(",")),
        ]);
    }
    let mut out = format!("{table}\n");
    for row in &report.rows {
        if let (Some(detail), true) = (&row.detail, row.state != "linked") {
            let place = match &row.region {
                Some(region) => format!("{} {region}", row.account),
                None => row.account.clone(),
            };
            let _ = writeln!(out, "{}: {place}: {detail}", row.state);
        }
    }
    let s = &report.summary;
    let a = &s.audit;
    let _ = writeln!(
        out,
        "audit: {} account(s), {} account × region pair(s) audited, {} unreachable; {} Auto Scaling group(s): {} linked, {} drift, {} fixed, {} failed, {} gone, {} not live, {} superseded; {} outage repair(s), {} retired still attached",
        s.accounts, s.pairs, s.unreachable, a.auto_scaling_groups, a.linked, a.drift, a.fixed, a.failed, a.gone, a.not_live, a.superseded, a.outage_repairs, a.retired_attached
    );
    out
}

/// The messages of the dead-letter queue: age, message id, deployments, the error.
pub fn letters(letters: &[Letter]) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_header(["AGE", "MESSAGE", "DEPLOYMENTS", "ERROR"]);
    for letter in letters {
        table.add_row([
            letter
                .age_seconds
                .map_or("?".into(), |s| duration(Duration::from_secs(s))),
            letter.message_id.clone(),
            or_dash(&letter.deployments.join(",")),
            or_dash(letter.error.as_deref().unwrap_or_default()),
        ]);
    }
    format!("{table}\n{} message(s)\n", letters.len())
}

/// What a replay of the dead-letter queue did with each message.
pub fn replayed(replayed: &[Replayed]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    for r in replayed {
        let (done, result) = match &r.kept_because {
            None => ("deleted", r.outcomes.join(",")),
            Some(why) => ("kept", why.clone()),
        };
        table.add_row([
            done.to_owned(),
            r.letter.message_id.clone(),
            format!("({})", or_dash(&r.letter.deployments.join(","))),
            result,
        ]);
    }
    if let Some(first) = table.column_mut(0) {
        first.set_padding((0, 1));
    }
    let deleted = replayed.iter().filter(|r| r.deleted).count();
    format!(
        "{}replayed {} message(s): {deleted} deleted, {} kept\n",
        lines(&table),
        replayed.len(),
        replayed.len() - deleted
    )
}

/// A duration the way people write it: `3d`, `5h`, `12m`, `40s`.
pub fn duration(duration: Duration) -> String {
    let s = duration.as_secs();
    match s {
        86_400.. => format!("{}d", s / 86_400),
        3_600.. => format!("{}h", s / 3_600),
        60.. => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

fn or_dash(text: &str) -> String {
    if text.is_empty() { "-" } else { text }.to_owned()
}

fn or_none(text: &str) -> String {
    if text.is_empty() { "none" } else { text }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::{Ending, Job, Subject};
    use crate::domain::plan::Plan;
    use crate::usecases::audit::{row, AuditSummary};

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg/0123";

    fn relinked() -> Report {
        let mut job = Job::new(Subject::of("event", Some("d-1"), "web", "web-bg"));
        job.group = Some("CodeDeploy_web-bg_d-1".into());
        job.plan = Plan::new(&[TG.into()], &[], &[], &["old-clb".into()]);
        job.attached_target_groups = vec![TG.into()];
        job.end(Ending::Relinked);
        job.finish(false).report
    }

    #[test]
    fn a_report_block_lists_attachments_by_name() {
        let text = report_block(&relinked());
        assert!(text.starts_with("RELINKED"), "{text}");
        assert!(
            text.contains("target groups   attached: web-tg\n"),
            "{text}"
        );
        assert!(
            text.contains("load balancers  extra (kept): old-clb"),
            "{text}"
        );
        assert!(
            text.contains("attached 1 target group(s) and 0 classic"),
            "{text}"
        );
    }

    #[test]
    fn a_replay_lines_up_deleted_and_kept_messages_without_trailing_spaces() {
        let replay = |id: &str, kept_because: Option<&str>| Replayed {
            letter: Letter {
                message_id: id.into(),
                age_seconds: Some(60),
                deployments: vec!["d-1".into()],
                error: None,
            },
            deleted: kept_because.is_none(),
            outcomes: vec!["relinked".into()],
            kept_because: kept_because.map(str::to_owned),
        };
        let text = replayed(&[
            replay("m-1", None),
            replay("m-22", Some("d-1 failed again")),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("deleted "), "{text}");
        assert!(lines[1].starts_with("kept "), "{text}");
        assert_eq!(lines[0].find("m-1"), lines[1].find("m-22"), "{text}");
        assert!(lines[0].ends_with("(d-1)  relinked"), "{text}");
        assert!(lines.iter().all(|l| l == &l.trim_end()), "{text:?}");
        assert_eq!(lines[2], "replayed 2 message(s): 1 deleted, 1 kept");
    }

    #[test]
    fn the_audit_table_keeps_long_names_whole() {
        let mut report = relinked();
        report.replacement_group = Some(format!("CodeDeploy_{}_d-1", "g".repeat(80)));
        let audit = AuditReport {
            rows: vec![row(Role::Current, report)],
            summary: AuditSummary {
                fixed: 1,
                ..AuditSummary::default()
            },
        };
        let text = super::audit(&audit);
        assert!(text.contains(&"g".repeat(80)), "{text}");
        assert!(text.contains("tg:+web-tg"), "{text}");
        assert!(text.contains("0 linked, 0 drift, 1 fixed"), "{text}");
    }
}
