//! Retired groups that still hold attachments: an Auto Scaling group that is neither a fleet
//! CodeDeploy names nor a running deployment's copy (a superseded copy, a `KEEP_ALIVE` original),
//! yet is attached to a load balancer an audited deployment group lists. Every instance it
//! launches later is registered with production, on an old revision. relink never detaches: the
//! audit only says so. Pure.

use super::{AuditRow, Role, State};
use crate::domain::decision::{Skip, SkipReason};
use crate::domain::job::{Ending, Job, Subject};
use crate::domain::plan::{short_name, GroupState};
use crate::domain::report::Report;
use std::collections::HashSet;

/// One warning row per retired group holding an attachment of an audited deployment group, for
/// the first deployment group (in row order) whose load balancers it holds.
pub fn retired_rows(rows: &[AuditRow], groups: &[(String, GroupState)]) -> Vec<AuditRow> {
    let fleets: HashSet<&str> = rows
        .iter()
        .filter_map(|r| r.report.replacement_group.as_deref())
        .collect();
    let mut out = Vec::new();
    for (name, state) in groups {
        if fleets.contains(name.as_str()) {
            continue;
        }
        let holder = rows.iter().find_map(|row| {
            let held = held(&row.report, state);
            (!held.is_empty()).then_some((row, held))
        });
        if let Some((row, held)) = holder {
            out.push(retired_row(&row.report, name, &held));
        }
    }
    out
}

/// The load balancers of `report`'s deployment group that `group` is attached to, by name.
fn held(report: &Report, group: &GroupState) -> Vec<String> {
    let desired = |a: &crate::domain::report::Attachments| -> Vec<String> {
        [&a.attached, &a.missing, &a.already_present]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    };
    let target_groups = desired(&report.target_groups);
    let load_balancers = desired(&report.load_balancers);
    group
        .target_group_arns
        .iter()
        .filter(|arn| target_groups.contains(arn))
        .map(|arn| short_name(arn).to_owned())
        .chain(
            group
                .load_balancer_names
                .iter()
                .filter(|n| load_balancers.contains(n))
                .cloned(),
        )
        .collect()
}

fn retired_row(fleet: &Report, group: &str, held: &[String]) -> AuditRow {
    let application = fleet.application.as_deref().unwrap_or_default();
    let deployment_group = fleet.deployment_group.as_deref().unwrap_or_default();
    let detail = format!(
        "{group} is not the fleet of {application}/{deployment_group} nor a running deployment's copy, \
         yet holds {}: every instance it launches is registered with them; relink never detaches, \
         detach it yourself if it is retired",
        held.join(", ")
    );
    let mut job = Job::new(Subject::of("audit", None, application, deployment_group));
    // Found by the one listing of every group of the region.
    job.round();
    job.group = Some(group.to_owned());
    job.end(Ending::Skipped(Skip::new(SkipReason::Superseded, detail)));
    AuditRow {
        role: Role::Retired,
        state: State::RetiredAttached,
        warnings: Vec::new(),
        report: job.finish(true).report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::Plan;

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg/a";

    fn fleet_row(group: &str) -> AuditRow {
        let mut job = Job::new(Subject::of("audit", None, "web", "web-bg"));
        job.group = Some(group.into());
        job.plan = Plan::new(&[TG.into()], &[TG.into()], &["clb".into()], &[]);
        job.end(Ending::AlreadyLinked);
        super::super::row(Role::Current, job.finish(true).report)
    }

    fn asg(tgs: &[&str], clbs: &[&str]) -> GroupState {
        GroupState {
            target_group_arns: tgs.iter().map(|s| s.to_string()).collect(),
            load_balancer_names: clbs.iter().map(|s| s.to_string()).collect(),
            ..GroupState::default()
        }
    }

    #[test]
    fn a_group_that_is_no_fleet_but_holds_an_attachment_is_a_warning_row() {
        let rows = [fleet_row("CodeDeploy_web-bg_d-2")];
        let groups = vec![
            ("CodeDeploy_web-bg_d-2".to_owned(), asg(&[TG], &[])),
            ("CodeDeploy_web-bg_d-1".to_owned(), asg(&[TG], &["clb"])),
            ("web-asg".to_owned(), asg(&[], &[])),
            ("other-service".to_owned(), asg(&["arn:other"], &[])),
        ];
        let retired = retired_rows(&rows, &groups);
        assert_eq!(retired.len(), 1, "{retired:?}");
        let row = &retired[0];
        assert_eq!(
            (row.role, row.state),
            (Role::Retired, State::RetiredAttached)
        );
        assert_eq!(
            row.report.replacement_group.as_deref(),
            Some("CodeDeploy_web-bg_d-1")
        );
        let detail = row.report.detail.as_deref().unwrap();
        assert!(detail.contains("holds web-tg, clb"), "{detail}");
        assert!(detail.contains("not the fleet of web/web-bg"), "{detail}");
    }
}
