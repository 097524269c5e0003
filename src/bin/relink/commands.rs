//! One function per command: each builds what it needs, runs the library's use case, prints for
//! people (through [`render`]) or one JSON envelope (through [`Ui`]), and says how the process
//! exits.

use crate::args::{DlqAction, Queue};
use crate::hints::hint_for_report;
use crate::output::{advance, announcing, confirm, progress_bar, spinner, Ui};
use crate::verdict::{failed_reports, Named, Verdict};
use crate::{clients, AwsChoice};
use anyhow::{bail, Context, Result};

use codedeploy_relink::domain::config::{AllowList, Config};
use codedeploy_relink::edges::render::{self, Shown};
use codedeploy_relink::usecases::audit::{audit, AuditSummary, State};
use codedeploy_relink::usecases::dlq;
use codedeploy_relink::usecases::invocation::{self, Caller, Relinker};
use codedeploy_relink::usecases::organization::{audit_organization, Scope};
use codedeploy_relink::usecases::sweep::SweepSummary;
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

/// Runs a payload through the function's use case and edge, prints the response, and exits as the
/// invocation would end. An unreadable payload fails before any AWS client exists.
pub(crate) async fn invoke(
    config: Config,
    aws: AwsChoice<'_>,
    payload: Value,
    ui: &Ui,
    named: Named,
) -> Result<ExitCode> {
    // An unreadable payload is answered before any AWS client exists.
    let (response, error) = match invocation::decode(&payload) {
        Err(error) => invocation::answer(Err(error)),
        Ok(_) => {
            let waiting = spinner(ui, "asking AWS");
            let clients = announcing(clients(aws).await, ui, &waiting);
            let relinker = Relinker::new(clients, config);
            let answer = relinker.invoke(&payload, Caller::Credentials).await;
            waiting.finish_and_clear();
            answer
        }
    };
    let verdict = Verdict::of(&response, error.as_ref(), named);
    let mut hint = None;
    for report in failed_reports(&response) {
        hint = hint_for_report(report, aws).await;
        if hint.is_some() {
            break;
        }
    }
    if ui.json {
        let mut summary = serde_json::to_value(
            response
                .summary
                .clone()
                .unwrap_or_else(|| SweepSummary::of(&response.reports)),
        )?;
        if response.sqs.is_some() {
            summary["batch_item_failures"] = json!(response.redelivered());
        }
        let envelope = ui.envelope().reports(&response.reports).summary(&summary);
        ui.print_json(&match &verdict.line {
            Some(message) => envelope.error(message.clone(), hint.clone()),
            None => envelope,
        })?;
    } else if !verdict.of_the_process {
        let shown = match (ui.quiet, named) {
            (true, _) => Shown::Problems,
            (false, Named::Sweep) => Shown::Changes,
            (false, _) => Shown::All,
        };
        print!("{}", render::response(&response, shown, ui.width));
    }
    let Some(line) = verdict.line else {
        return Ok(ExitCode::SUCCESS);
    };
    eprintln!("error: {line}");
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
    // The exit status contract (--help, args.rs): 2 when relink could not do the work at all
    // (an event it cannot read, no credentials or region), 1 when the work ran and failed.
    Ok(match verdict.unreadable || verdict.of_the_process {
        true => ExitCode::from(2),
        false => ExitCode::FAILURE,
    })
}

/// Exactly what the schedule sends the function.
pub(crate) fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {}
    })
}

pub(crate) fn read_event(path: &Path) -> Result<Value> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the event from standard input")?;
        text
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading event file {}", path.display()))?
    };
    let event: Value =
        serde_json::from_str(&text).with_context(|| match path.as_os_str() == "-" {
            true => "the event on standard input is not JSON".to_owned(),
            false => format!("event file {} is not JSON", path.display()),
        })?;
    let (event, unwrapped) = invocation::unwrap_destination_record(event);
    if unwrapped {
        eprintln!("note: replaying the requestPayload of a Lambda destination record");
    }
    Ok(event)
}

pub(crate) async fn run_audit(
    config: Config,
    aws: AwsChoice<'_>,
    filter: &AllowList,
    fix: bool,
    ui: &Ui,
    filters: &str,
) -> Result<ExitCode> {
    let clients = clients(aws).await;
    if fix {
        confirm(
            &clients,
            "audit --fix attaches what is missing",
            config.dry_run,
            ui.yes,
        )
        .await?;
    }
    let bar = progress_bar(ui.json, "scanning applications");
    let progress = advance(&bar);
    let report = audit(&clients, &config, filter, fix, &progress)
        .await
        .context("auditing the region")?;
    bar.finish_and_clear();
    if ui.json {
        ui.print_json(&ui.envelope().rows(&report.rows).summary(&report.summary))?;
    } else {
        print!("{}", render::audit(&report, ui.quiet, ui.width));
        // The notes are diagnostics: standard error, each error with its hint.
        for (note, row) in render::audit_notes(&report, ui.quiet, ui.width) {
            eprint!("{note}");
            if row.state == State::Failed {
                if let Some(hint) = hint_for_report(&row.report, aws).await {
                    eprintln!("hint: {hint}");
                }
            }
        }
    }
    warn_if_nothing_matched(&report.summary, filters, config.allow_list.is_restricted());
    Ok(if report.drift_remains() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A filter that matched nothing is said, naming it: an audit of nothing looks like a clean one.
fn warn_if_nothing_matched(summary: &AuditSummary, filters: &str, allow_list: bool) {
    if !filters.is_empty() && summary.deployment_groups == 0 {
        eprintln!(
            "warning: no deployment group matches {filters} (patterns are case-sensitive, with * and ? wildcards)"
        );
    }
    let not_allowed = summary.not_audited.get("not_allowed").copied().unwrap_or(0);
    if allow_list && summary.deployment_groups > 0 && not_allowed == summary.deployment_groups {
        eprintln!(
            "warning: RELINK_DEPLOYMENT_GROUPS allows none of the {not_allowed} deployment group(s) found (patterns are application/group, case-sensitive)"
        );
    }
}

pub(crate) async fn run_organization_audit(
    config: Config,
    (region, profile): AwsChoice<'_>,
    filter: &AllowList,
    fix: bool,
    scope: &Scope,
    ui: &Ui,
) -> Result<ExitCode> {
    if fix {
        let home = clients((region, profile)).await;
        let what = "audit --fix attaches what is missing, across accounts and regions, from";
        confirm(&home, what, config.dry_run, ui.yes).await?;
    }
    let base = codedeploy_relink::aws::load_config(region, profile).await;
    let bar = progress_bar(ui.json, "auditing account × region pairs");
    let progress = advance(&bar);
    let report = audit_organization(&base, &config, filter, fix, scope, &progress)
        .await
        .context("auditing the accounts")?;
    bar.finish_and_clear();
    if ui.json {
        ui.print_json(&ui.envelope().rows(&report.rows).summary(&report.summary))?;
    } else {
        print!("{}", render::organization(&report, ui.quiet, ui.width));
        for note in render::organization_notes(&report, ui.width) {
            eprint!("{note}");
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}

pub(crate) async fn run_dlq(
    config: Config,
    aws: AwsChoice<'_>,
    action: DlqAction,
    queue: Queue,
    ui: &Ui,
) -> Result<ExitCode> {
    let clients = clients(aws).await;
    let queue_url = match (queue.queue_url, queue.stack) {
        (Some(url), _) => url,
        (None, Some(stack)) => dlq::queue_of_stack(&clients, &stack)
            .await
            .with_context(|| format!("finding the dead-letter queue of stack {stack}"))?,
        (None, None) => bail!("name the queue with --queue-url or --stack"),
    };
    match action {
        DlqAction::List => {
            let waiting = spinner(ui, "reading the queue");
            let letters = dlq::list(&clients, &queue_url)
                .await
                .context("listing the dead-letter queue")?;
            waiting.finish_and_clear();
            if ui.json {
                let summary = json!({ "messages": letters.len() });
                ui.print_json(&ui.envelope().rows(&letters).summary(&summary))?;
            } else if !ui.quiet {
                print!("{}", render::letters(&letters, ui.width));
            }
            Ok(ExitCode::SUCCESS)
        }
        DlqAction::Replay { max } => {
            let dry_run = config.dry_run;
            let waiting = spinner(ui, "replaying the queue");
            let relinker = Relinker::new(announcing(clients.clone(), ui, &waiting), config);
            let replayed = dlq::replay(&relinker, &clients, &queue_url, max, dry_run)
                .await
                .context("replaying the dead-letter queue")?;
            waiting.finish_and_clear();
            let kept = replayed.iter().filter(|r| !r.deleted).count();
            if ui.json {
                let summary = json!({ "replayed": replayed.len(), "deleted": replayed.len() - kept,
                    "kept": kept });
                ui.print_json(&ui.envelope().rows(&replayed).summary(&summary))?;
            } else if !ui.quiet || kept > 0 {
                print!("{}", render::replayed(&replayed, ui.width));
            }
            Ok(if kept > 0 && !dry_run {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        DlqAction::Purge { older_than } => {
            let what = format!(
                "dlq purge deletes the messages older than {} from {queue_url}",
                render::duration(older_than)
            );
            confirm(&clients, &what, false, ui.yes).await?;
            let waiting = spinner(ui, "purging the queue");
            let (deleted, kept) = dlq::purge(&clients, &queue_url, older_than)
                .await
                .context("purging the dead-letter queue")?;
            waiting.finish_and_clear();
            if ui.json {
                let summary = json!({ "deleted": deleted.len(), "kept": kept });
                ui.print_json(&ui.envelope().rows(&deleted).summary(&summary))?;
            } else if !ui.quiet {
                print!("{}", render::letters(&deleted, ui.width));
                println!(
                    "purged {} message(s) older than {}; {kept} kept",
                    deleted.len(),
                    render::duration(older_than)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
