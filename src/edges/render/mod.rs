//! Everything `relink` prints for people: an invocation's reports as blocks, the sweep's summary,
//! the SQS partial-batch answer, the dead-letter queue's messages; the audits' listings are in
//! `audit.rs`. Tables and long lines fit the width given (the terminal's), and are left whole
//! without one (a pipe, a file). (`--json` prints [`crate::edges::envelope`] instead; the Lambda
//! function prints nothing but its logs.)

mod audit;

pub use audit::{audit, audit_notes, organization, organization_notes};

use crate::domain::plan::short_name;
use crate::domain::report::{Attachments, Outcome, Report};
use crate::usecases::dlq::{Letter, Replayed};
use crate::usecases::invocation::Response;
use comfy_table::{presets, ColumnConstraint, ContentArrangement, Table};
use std::fmt::Write as _;
use std::time::Duration;

/// The columns output fits in: the terminal's width, or none (a pipe or a file: lines whole).
pub type Width = Option<usize>;

/// Which reports an invocation's output shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Every report (one event replayed, one deployment).
    All,
    /// What changed, would change or failed, then the summary (the sweep: most deployments it
    /// sees need nothing).
    Changes,
    /// Only what failed (`--quiet`).
    Problems,
}

impl Shown {
    fn shows(self, report: &Report) -> bool {
        match self {
            Shown::All => true,
            Shown::Changes => report.changed(),
            Shown::Problems => report.outcome == Outcome::Failed,
        }
    }
}

/// An invocation's response: each report `shown` as a block, then the sweep's summary and the SQS
/// records to redeliver when there are (not with [`Shown::Problems`]).
pub fn response(response: &Response, shown: Shown, width: Width) -> String {
    let mut out = String::new();
    for report in response.reports.iter().filter(|r| shown.shows(r)) {
        let _ = writeln!(out, "{}", report_block(report, width));
    }
    if shown == Shown::Problems {
        return out;
    }
    if let Some(summary) = &response.summary {
        out.push_str(&wrap(&summary.to_string(), width));
    }
    if response.sqs.is_some() {
        let ids = response.redelivered().join(", ");
        let _ = writeln!(out, "batchItemFailures: {}", or_none(&ids));
    }
    out
}

/// One report: a header line (outcome, deployment group, Auto Scaling group, deployment) and
/// its details as indented label and value columns. Target groups are shown by name.
pub fn report_block(report: &Report, width: Width) -> String {
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
    for retirement in &report.retired {
        details.push(("copy", retirement.to_string()));
    }
    if report.dry_run {
        details.push(("dry run", "yes: no change was made".to_owned()));
    }
    let mut table = fitted(width);
    table.add_rows(
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
    format!("{}{}", wrap(&header, width), lines(&table))
}

/// A table without borders, fitted to `width` by wrapping its cells (at spaces where it can).
fn fitted(width: Width) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    if let Some(width) = width {
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(width).unwrap_or(u16::MAX));
    }
    table
}

/// The `columns` of `table` kept as wide as their content: ids and names are never broken.
fn whole(table: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(column) = table.column_mut(i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}

/// Rows of cells as lines whose columns line up, two spaces apart, nothing after the last.
fn aligned(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|cells| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            padded.join("  ").trim_end().to_owned()
        })
        .collect()
}

/// `text` as lines of at most `width` columns (the continuation indented), or as it is.
fn wrap(text: &str, width: Width) -> String {
    wrap_indented(text, width, "  ")
}

/// `text` as lines of at most `width` columns, the continuation lines indented by `indent`.
fn wrap_indented(text: &str, width: Width, indent: &str) -> String {
    let Some(width) = width else {
        return format!("{text}\n");
    };
    // Names are never broken: a word longer than the line stands alone on its line.
    let options = textwrap::Options::new(width.max(20))
        .subsequent_indent(indent)
        .break_words(false)
        // Names have hyphens (CodeDeploy_web-bg_d-…): lines break at spaces only.
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    textwrap::wrap(text, options)
        .into_iter()
        .map(|line| format!("{line}\n"))
        .collect()
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
/// The messages of the dead-letter queue: age, message id, deployments, the error.
pub fn letters(letters: &[Letter], width: Width) -> String {
    let mut table = fitted(width);
    table.set_header(["AGE", "MESSAGE", "DEPLOYMENTS", "ERROR"]);
    for letter in letters {
        table.add_row([
            letter
                .age_seconds
                .map_or("?".into(), |s| duration(Duration::from_secs(s))),
            letter.message_id.clone(),
            or_dash(&letter.deployments.join(", ")),
            or_dash(letter.error.as_deref().unwrap_or_default()),
        ]);
    }
    whole(&mut table, &[0, 1, 2]);
    format!("{}{} message(s)\n", lines(&table), letters.len())
}

/// What a replay of the dead-letter queue did with each message.
pub fn replayed(replayed: &[Replayed], width: Width) -> String {
    let mut table = fitted(width);
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
    whole(&mut table, &[0, 1, 2]);
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

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg/0123";

    /// A report of a relinked group, for the renderings' tests.
    pub(super) fn relinked() -> Report {
        let mut job = Job::new(Subject::of("event", Some("d-1"), "web", "web-bg"));
        job.group = Some("CodeDeploy_web-bg_d-1".into());
        job.plan = Plan::new(&[TG.into()], &[], &[], &["old-clb".into()]);
        job.attached_target_groups = vec![TG.into()];
        job.end(Ending::Relinked);
        job.finish(false).report
    }

    #[test]
    fn a_report_block_lists_attachments_by_name() {
        let text = report_block(&relinked(), None);
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
    fn wrapping_never_breaks_a_name() {
        let text = "PLANNED  shop/shop-bg  CodeDeploy_shop-bg_d-LR38HIMQW  d-LR38HIMQW";
        let wrapped = wrap(text, Some(40));
        assert_eq!(
            wrapped,
            "PLANNED  shop/shop-bg\n  CodeDeploy_shop-bg_d-LR38HIMQW\n  d-LR38HIMQW\n"
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
        let text = replayed(
            &[
                replay("m-1", None),
                replay("m-22", Some("d-1 failed again")),
            ],
            None,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("deleted "), "{text}");
        assert!(lines[1].starts_with("kept "), "{text}");
        assert_eq!(lines[0].find("m-1"), lines[1].find("m-22"), "{text}");
        assert!(lines[0].ends_with("(d-1)  relinked"), "{text}");
        assert!(lines.iter().all(|l| l == &l.trim_end()), "{text:?}");
        assert_eq!(lines[2], "replayed 2 message(s): 1 deleted, 1 kept");
    }
}
