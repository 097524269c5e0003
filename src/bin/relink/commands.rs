//! One function per command: each builds what it needs, runs the library's use case, prints for
//! people (through [`render`]) or as JSON, and says how the process exits.

use crate::args::{DlqAction, Queue};
use crate::hints::{hint_for_report, of_the_process};
use crate::{clients, AwsChoice};
use anyhow::{bail, Context, Result};
use codedeploy_relink::aws::{sts, Clients};
use codedeploy_relink::domain::config::{AllowList, Config};
use codedeploy_relink::domain::report::{Outcome, Report};
use codedeploy_relink::domain::skip::SkipReason;
use codedeploy_relink::edges::render;
use codedeploy_relink::usecases::audit::{audit, AuditSummary};
use codedeploy_relink::usecases::dlq;
use codedeploy_relink::usecases::invocation::{self, Caller, InvocationError, Relinker};
use codedeploy_relink::usecases::organization::{audit_organization, Scope};
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
    json: bool,
    named: Named,
) -> Result<ExitCode> {
    // An unreadable payload is answered before any AWS client exists.
    let (response, error) = match invocation::decode(&payload) {
        Err(error) => invocation::answer(Err(error)),
        Ok(_) => {
            let relinker = Relinker::new(clients(aws).await, config);
            relinker.invoke(&payload, Caller::Credentials).await
        }
    };
    let failed: Vec<&Report> = response
        .reports
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    // No credentials or no region fail every record alike: said once, on standard error.
    let of_the_process = !failed.is_empty()
        && failed
            .iter()
            .all(|r| r.error_code.as_deref().is_some_and(of_the_process));
    if json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else if !of_the_process {
        print!("{}", render::response(&response));
    }
    let redelivered = response
        .sqs
        .as_ref()
        .is_some_and(|s| !s.batch_item_failures.is_empty());
    // `relink deployment` names one deployment: one that does not exist is the user's error.
    let unknown = response
        .reports
        .iter()
        .find(|r| named == Named::Deployment && r.reason == Some(SkipReason::DeploymentNotFound));
    let summary = match (&error, redelivered, failed.len()) {
        (Some(error), _, _) => format!(
            "the invocation would fail ({}): {error}",
            error.error_type()
        ),
        (None, _, 0) if unknown.is_some() => format!(
            "no deployment {} in this region and account (CodeDeploy does not know it)",
            unknown
                .and_then(|r| r.deployment_id.as_deref())
                .unwrap_or_default()
        ),
        (None, true, _) => {
            "some SQS records failed and would be redelivered (see batchItemFailures)".to_owned()
        }
        (None, false, 0) => return Ok(ExitCode::SUCCESS),
        (None, false, n) => {
            let first = failed[0].detail.as_deref().unwrap_or("no detail");
            format!("{n} swept deployment(s) failed (the function reports them and does not fail a scheduled invocation); the first: {first}")
        }
    };
    eprintln!("error: {summary}");
    if let Some(hint) = failed.iter().find_map(|r| hint_for_report(r)) {
        eprintln!("hint: {hint}");
    }
    // The exit status contract (--help, args.rs): 2 when relink could not do the work at all
    // (an event it cannot read, no credentials or region), 1 when the work ran and failed.
    let invalid = matches!(&error, Some(InvocationError::InvalidEvent(_)));
    Ok(if invalid || of_the_process {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    })
}

/// What the command line named: an event (its outcome is the function's) or one deployment
/// (`relink deployment`: one that does not exist is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Named {
    Event,
    Deployment,
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
    let event: Value = serde_json::from_str(&text)
        .with_context(|| format!("event file {} is not JSON", path.display()))?;
    let (event, unwrapped) = invocation::unwrap_destination_record(event);
    if unwrapped {
        eprintln!("note: replaying the requestPayload of a Lambda destination record");
    }
    Ok(event)
}

/// Before a command that changes resources in bulk: one line on standard error naming the
/// account, the region and whether it is a dry run, then consent — a prompt on a terminal,
/// `--yes` otherwise. Without it nothing is changed.
pub(crate) async fn confirm(clients: &Clients, what: &str, dry_run: bool, yes: bool) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let region = clients.region.as_deref().unwrap_or("(no region)");
    let account = match sts::caller_account(&clients.sts).await {
        Ok(account) => format!("account {account}"),
        Err(_) => "an account relink could not identify".to_owned(),
    };
    if dry_run {
        eprintln!("dry run: {what} in {account}, region {region}: nothing will be changed");
        return Ok(());
    }
    eprintln!("{what} in {account}, region {region}");
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{what} changes AWS resources: pass --yes to go ahead (there is no terminal to ask on)"
        );
    }
    eprint!("Go ahead? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("cancelled: nothing was changed")
    }
}

pub(crate) async fn run_audit(
    config: Config,
    aws: AwsChoice<'_>,
    filter: &AllowList,
    fix: bool,
    json: bool,
    yes: bool,
    filters: &str,
) -> Result<ExitCode> {
    let clients = clients(aws).await;
    if fix {
        confirm(
            &clients,
            "audit --fix attaches what is missing",
            config.dry_run,
            yes,
        )
        .await?;
    }
    let bar = progress_bar(json, "scanning applications");
    let progress = advance(&bar);
    let report = audit(&clients, &config, filter, fix, &progress)
        .await
        .context("auditing the region")?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::audit(&report));
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
    json: bool,
    yes: bool,
) -> Result<ExitCode> {
    if fix {
        let home = clients((region, profile)).await;
        let what = "audit --fix attaches what is missing, across accounts and regions, from";
        confirm(&home, what, config.dry_run, yes).await?;
    }
    let base = codedeploy_relink::aws::load_config(region, profile).await;
    let bar = progress_bar(json, "auditing account × region pairs");
    let progress = advance(&bar);
    let report = audit_organization(&base, &config, filter, fix, scope, &progress)
        .await
        .context("auditing the accounts")?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::organization(&report));
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// The (done, total) callback of the library's long runs, moving `bar`.
fn advance(bar: &indicatif::ProgressBar) -> impl Fn(usize, usize) + Sync + '_ {
    move |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }
}

/// A progress bar on standard error, hidden for --json and when standard error is not a terminal.
fn progress_bar(json: bool, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what} {{pos}}/{{len}} {{wide_bar}} {{elapsed}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    )
}

pub(crate) async fn run_dlq(
    config: Config,
    aws: AwsChoice<'_>,
    action: DlqAction,
    queue: Queue,
    json: bool,
    yes: bool,
) -> Result<ExitCode> {
    let clients = clients(aws).await;
    let queue_url = match (queue.queue_url, queue.stack) {
        (Some(url), _) => url,
        (None, Some(stack)) => match dlq::queue_of_stack(&clients, &stack).await {
            Ok(url) => url,
            Err(why) => bail!("finding the dead-letter queue of stack {stack}: {why}"),
        },
        (None, None) => bail!("name the queue with --queue-url or --stack"),
    };
    match action {
        DlqAction::List => {
            let letters = dlq::list(&clients, &queue_url)
                .await
                .context("listing the dead-letter queue")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&letters)?);
            } else {
                print!("{}", render::letters(&letters));
            }
            Ok(ExitCode::SUCCESS)
        }
        DlqAction::Replay { max } => {
            let dry_run = config.dry_run;
            let relinker = Relinker::new(clients.clone(), config);
            let replayed = dlq::replay(&relinker, &clients, &queue_url, max, dry_run)
                .await
                .context("replaying the dead-letter queue")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&replayed)?);
            } else {
                print!("{}", render::replayed(&replayed));
            }
            let kept = replayed.iter().filter(|r| !r.deleted).count();
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
            confirm(&clients, &what, false, yes).await?;
            let (deleted, kept) = dlq::purge(&clients, &queue_url, older_than)
                .await
                .context("purging the dead-letter queue")?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"deleted": deleted, "kept": kept}))?
                );
            } else {
                print!("{}", render::letters(&deleted));
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
