//! The audits' listings for people: each deployment group's Auto Scaling groups under it (the
//! region's audit) or under its account and region (the organization's), a summary line, and the
//! notes for standard error.

use super::{aligned, wrap, wrap_indented, Width};
use crate::usecases::audit::{AuditReport, AuditRow, AuditSummary, Role, State};
use crate::usecases::organization::OrganizationReport;
use std::fmt::Write as _;

/// The audit: under each deployment group, a line for each of its Auto Scaling groups (state,
/// name, role; with `quiet`, only those that need attention, and no summary) and what it misses or
/// has extra, wrapped to `width`; then a summary of the counts that are not zero. Names are never
/// broken. The notes on the rows are [`audit_notes`].
pub fn audit(report: &AuditReport, quiet: bool, width: Width) -> String {
    let rows: Vec<&AuditRow> = report
        .rows
        .iter()
        .filter(|row| !quiet || needs_attention(row))
        .collect();
    let entries: Vec<Entry> = rows.iter().map(|row| audit_entry(row)).collect();
    let mut out = grouped(&entries, width);
    if quiet {
        return if rows.is_empty() { String::new() } else { out };
    }
    let s = &report.summary;
    let not_audited: usize = s.not_audited.values().sum();
    let counts = states(s, true);
    let line = format!(
        "audit: {} application(s), {} deployment group(s) ({not_audited} not blue/green copies), {} Auto Scaling group(s): {counts}",
        s.applications, s.deployment_groups, s.auto_scaling_groups
    );
    out.push_str(&wrap(&line, width));
    out
}

/// Whether a row shows something to do or to look at: anything but linked, fixed and the groups
/// left alone on purpose.
fn needs_attention(row: &AuditRow) -> bool {
    !row.warnings.is_empty()
        || matches!(
            row.state,
            State::Drift | State::Failed | State::RetiredAttached | State::Retirable
        )
}

/// The groups' states that counted some, and the warnings when asked.
fn states(s: &AuditSummary, warnings: bool) -> String {
    nonzero(&[
        (s.linked, "linked"),
        (s.drift, "drift"),
        (s.fixed, "fixed"),
        (s.failed, "failed"),
        (s.gone, "gone"),
        (s.not_live, "not live"),
        (s.superseded, "superseded"),
        (s.outage_repairs, "outage repair(s)"),
        (s.retirable, "retirable"),
        (s.retired, "retired"),
        (s.retired_attached, "retired still attached"),
        (if warnings { s.warnings } else { 0 }, "warning(s)"),
    ])
}

/// `n what` for each count that is not zero, separated by commas; `none` when all are.
fn nonzero(counts: &[(usize, &str)]) -> String {
    let said: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    match said.is_empty() {
        true => "none".to_owned(),
        false => said.join(", "),
    }
}

/// The notes under the audit, for standard error: each row's warnings, why it failed, is not live
/// or was superseded, and outage repairs (with `quiet`, the warnings and failures only). Each
/// comes with its row (for a hint).
pub fn audit_notes(report: &AuditReport, quiet: bool, width: Width) -> Vec<(String, &AuditRow)> {
    let mut notes = Vec::new();
    for row in &report.rows {
        let group = row.report.replacement_group.as_deref().unwrap_or("?");
        for warning in &row.warnings {
            let note = format!(
                "warning: {group}: {warning}; CodeDeploy will not copy it to the next replacement group"
            );
            notes.push((wrap(&note, width), row));
        }
        let note = match (row.state, &row.report.detail) {
            (State::Failed, Some(detail)) => format!("error: {detail}"),
            (State::RetiredAttached, Some(detail)) => format!("warning: {detail}"),
            _ if quiet => continue,
            (State::NotLive, Some(detail)) => {
                format!("not live: {detail}; left alone (its load balancers do not serve it)")
            }
            (State::Superseded, Some(detail)) => format!("superseded: {detail}; left alone"),
            (State::Retirable | State::Retired, Some(detail)) => format!("retire: {detail}"),
            (State::Drift | State::Fixed, Some(detail)) if row.report.outage_repair => {
                format!("outage repair: {detail}")
            }
            _ => continue,
        };
        notes.push((wrap(&note, width), row));
    }
    notes
}

/// A row of the audit as an entry under its deployment group.
fn audit_entry(row: &AuditRow) -> Entry {
    let r = &row.report;
    let role = match row.role {
        Role::Current => "current".to_owned(),
        Role::Replacement => format!("replacement {}", r.deployment_id.as_deref().unwrap_or("")),
        Role::Retired => "retired".to_owned(),
    };
    let notes = [("missing", row.missing()), ("extra", row.extra())]
        .into_iter()
        .chain(row.retirement())
        .filter(|(_, items)| !items.is_empty())
        .map(|(what, items)| format!("{what}: {}", items.join(", ")))
        .collect();
    Entry {
        heading: format!(
            "{}/{}",
            r.application.as_deref().unwrap_or("?"),
            r.deployment_group.as_deref().unwrap_or("?")
        ),
        cells: vec![
            row.state.as_str().to_owned(),
            r.replacement_group.clone().unwrap_or_default(),
            role,
        ],
        notes,
    }
}

/// One line of a grouped listing: the heading of its group, its cells, and the notes under it.
struct Entry {
    heading: String,
    cells: Vec<String>,
    notes: Vec<String>,
}

/// Entries under their headings (a heading once for consecutive entries that share it), the cells
/// lined up across the whole listing, each note under the second cell and wrapped to `width`.
fn grouped(entries: &[Entry], width: Width) -> String {
    let cells: Vec<Vec<String>> = entries.iter().map(|e| e.cells.clone()).collect();
    let first = cells
        .iter()
        .filter_map(|c| c.first())
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(2 + first + 2);
    let mut out = String::new();
    let mut heading = None;
    for (entry, line) in entries.iter().zip(aligned(&cells)) {
        if heading != Some(&entry.heading) {
            let _ = writeln!(out, "{}", entry.heading);
            heading = Some(&entry.heading);
        }
        let _ = writeln!(out, "  {line}");
        for note in &entry.notes {
            out.push_str(&wrap_indented(
                &format!("{indent}{note}"),
                width,
                &format!("{indent}  "),
            ));
        }
    }
    out
}

/// The multi-account audit: one table (account, region, deployment group, Auto Scaling group,
/// state, missing; with `quiet`, only the rows that need attention, and no summary), then a
/// summary. The reasons of what failed, was not live or unreachable are [`organization_notes`].
pub fn organization(report: &OrganizationReport, quiet: bool, width: Width) -> String {
    let attention = |state: &str| !matches!(state, "linked" | "fixed" | "not_live" | "superseded");
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter(|row| !quiet || attention(&row.state))
        .collect();
    let entries: Vec<Entry> = rows
        .iter()
        .map(|row| Entry {
            heading: [
                Some(&row.account),
                row.region.as_ref(),
                row.deployment_group.as_ref(),
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join("  "),
            cells: vec![
                row.state.clone(),
                row.auto_scaling_group.clone().unwrap_or_default(),
            ],
            notes: match row.missing.is_empty() {
                true => Vec::new(),
                false => vec![format!("missing: {}", row.missing.join(", "))],
            },
        })
        .collect();
    let mut out = grouped(&entries, width);
    if quiet && rows.is_empty() {
        return String::new();
    }
    if quiet {
        return out;
    }
    let s = &report.summary;
    let a = &s.audit;
    let counts = states(a, false);
    let line = format!(
        "audit: {} account(s), {} account × region pair(s) audited, {} unreachable; {} Auto Scaling group(s): {counts}",
        s.accounts, s.pairs, s.unreachable, a.auto_scaling_groups
    );
    out.push_str(&wrap(&line, width));
    out
}

/// The notes under the multi-account audit, for standard error: why a row failed, is not live, or
/// could not be reached.
pub fn organization_notes(report: &OrganizationReport, width: Width) -> Vec<String> {
    report
        .rows
        .iter()
        .filter(|row| row.state != "linked")
        .filter_map(|row| {
            let detail = row.detail.as_ref()?;
            let place = match &row.region {
                Some(region) => format!("{} {region}", row.account),
                None => row.account.clone(),
            };
            Some(wrap(&format!("{}: {place}: {detail}", row.state), width))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::relinked;
    use super::*;
    use crate::usecases::audit::{row, AuditSummary};

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
        let text = super::audit(&audit, false, None);
        assert!(text.contains(&"g".repeat(80)), "{text}");
        assert!(text.contains("tg:+web-tg"), "{text}");
        assert!(text.contains(": 1 fixed\n"), "{text}");
    }

    #[test]
    fn the_audit_fits_the_width_it_is_given_without_trailing_spaces() {
        let mut report = relinked();
        report.replacement_group = Some("CodeDeploy_web-bg_d-75I7MBT7C".into());
        report.target_groups.attached.clear();
        report.target_groups.missing = (1..=6)
            .map(|i| {
                format!(
                    "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-frontend-{i}/0123"
                )
            })
            .collect();
        report.detail = Some(format!("{} is what went wrong", "word ".repeat(40)));
        let mut row = row(Role::Replacement, report);
        row.state = State::Failed;
        row.warnings = vec!["its launch template is deprecated".into()];
        let audit = AuditReport {
            rows: vec![row],
            summary: AuditSummary {
                applications: 12,
                deployment_groups: 30,
                auto_scaling_groups: 31,
                linked: 20,
                drift: 3,
                failed: 1,
                not_live: 2,
                superseded: 3,
                retired_attached: 2,
                warnings: 1,
                ..AuditSummary::default()
            },
        };
        for width in [80, 100] {
            let text = super::audit(&audit, false, Some(width));
            let notes: String = audit_notes(&audit, false, Some(width))
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            for line in text.lines().chain(notes.lines()) {
                assert!(line.chars().count() <= width, "{width}: {line:?}\n{text}");
                assert_eq!(line, line.trim_end(), "{width}: trailing spaces");
            }
            assert!(text.contains("tg:web-frontend-6"), "{text}");
            assert!(notes.starts_with("warning: "), "{notes}");
            assert!(notes.contains("error: word"), "{notes}");
        }
        // Without a width (a pipe), nothing is wrapped: the header, the row, what it misses and
        // has extra, the summary.
        assert_eq!(super::audit(&audit, false, None).lines().count(), 5);
        // Quiet: the rows that need attention and no summary.
        let quiet = super::audit(&audit, true, None);
        assert_eq!(quiet.lines().count(), 4, "{quiet}");
        assert!(!quiet.contains("audit:"), "{quiet}");
    }

    #[test]
    fn quiet_notes_keep_the_warnings_and_failures_only() {
        let note = |state: State| {
            let mut report = relinked();
            report.detail = Some("why".into());
            let mut row = row(Role::Current, report);
            row.state = state;
            row.warnings.clear();
            let audit = AuditReport {
                rows: vec![row],
                summary: AuditSummary::default(),
            };
            [false, true].map(|quiet| audit_notes(&audit, quiet, None).len())
        };
        assert_eq!(note(State::Failed), [1, 1]);
        assert_eq!(note(State::RetiredAttached), [1, 1]);
        assert_eq!(note(State::NotLive), [1, 0]);
        assert_eq!(note(State::Superseded), [1, 0]);
    }
}
