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
/// indented details. Target groups are shown by name.
pub fn report_block(report: &Report) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<30} {:<40} {}",
        report.outcome.as_str().to_uppercase(),
        format!(
            "{}/{}",
            dash(&report.application),
            dash(&report.deployment_group)
        ),
        dash(&report.replacement_group),
        dash(&report.deployment_id),
    );
    let _ = writeln!(out, "  source          {}", report.source);
    if let Some(instance) = &report.instance_id {
        let _ = writeln!(out, "  instance        {instance}");
    }
    if let Some(reason) = report.reason {
        let _ = writeln!(out, "  reason          {}", reason.code());
    }
    if let Some(code) = &report.error_code {
        let _ = writeln!(out, "  error code      {code}");
    }
    let _ = writeln!(out, "  summary         {}", report.summary());
    for (label, attachments) in [
        ("target groups", &report.target_groups),
        ("load balancers", &report.load_balancers),
    ] {
        for (what, items) in kinds(attachments) {
            let names: Vec<&str> = items.iter().map(|i| short_name(i)).collect();
            let _ = writeln!(out, "  {label:<15} {what}: {}", names.join(", "));
        }
    }
    if report.dry_run {
        let _ = writeln!(out, "  dry run         yes: no change was made");
    }
    out
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
    let mut out = String::new();
    for r in replayed {
        let what = or_dash(&r.letter.deployments.join(","));
        let outcomes = r.outcomes.join(",");
        let _ = match &r.kept_because {
            None => writeln!(out, "deleted {} ({what}): {outcomes}", r.letter.message_id),
            Some(why) => writeln!(out, "kept    {} ({what}): {why}", r.letter.message_id),
        };
    }
    let deleted = replayed.iter().filter(|r| r.deleted).count();
    let _ = writeln!(
        out,
        "replayed {} message(s): {deleted} deleted, {} kept",
        replayed.len(),
        replayed.len() - deleted
    );
    out
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
