//! `relink`: the function's logic from a terminal. `relink replay` runs any supported event
//! through exactly the Lambda handler's code; `relink deployment` relinks one deployment by id.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use codedeploy_relink::audit::{audit, AuditReport, Role, State};
use codedeploy_relink::aws::Clients;
use codedeploy_relink::config::{AllowList, Config};
use codedeploy_relink::handler::{Caller, Invocation, Relinker};
use codedeploy_relink::plan::short_name;
use codedeploy_relink::report::Outcome;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Re-attach a CodeDeploy blue/green deployment group's load balancers to the Auto Scaling group
/// CodeDeploy copied. Region, credentials and endpoint come from the usual AWS environment
/// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, …); RELINK_* variables configure it as in Lambda.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Plan and report, but attach nothing (overrides RELINK_DRY_RUN).
    #[arg(long, global = true)]
    dry_run: bool,
    /// Print the invocation's JSON response instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an event file (SNS, SQS, EventBridge or {"deploymentId": …}) through the handler.
    Replay {
        /// The event file, or - for standard input.
        event: PathBuf,
    },
    /// Relink one deployment by id.
    Deployment {
        /// The deployment id, e.g. d-75I7MBT7C.
        id: String,
    },
    /// Audit every copied blue/green deployment group of the region.
    ///
    /// Compares the Auto Scaling groups each deployment group points at, and in-progress
    /// replacement groups whose traffic has shifted, with its load balancer info. Exits 1 while
    /// drift remains.
    Audit {
        /// Only applications matching this pattern (* and ? wildcards).
        #[arg(long)]
        application: Option<String>,
        /// Only deployment groups matching this pattern (* and ? wildcards).
        #[arg(long)]
        deployment_group: Option<String>,
        /// Attach what is missing (same safety rules as the function; --dry-run still wins).
        #[arg(long)]
        fix: bool,
    },
    /// Run the scheduled sweep once.
    ///
    /// Relinks every in-progress deployment whose traffic has shifted and every deployment that
    /// succeeded within the look-back, as the function does on its schedule.
    Sweep {
        /// Hours back to re-check succeeded deployments (overrides RELINK_SWEEP_LOOKBACK_HOURS).
        #[arg(long)]
        lookback_hours: Option<u64>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = Config::from_env().context("reading the RELINK_* configuration")?;
    config.dry_run |= cli.dry_run;
    let payload = match &cli.command {
        Command::Audit {
            application,
            deployment_group,
            fix,
        } => {
            let filter = AllowList::single(application.as_deref(), deployment_group.as_deref());
            return run_audit(config, &filter, *fix, cli.json).await;
        }
        Command::Replay { event } => read_event(event)?,
        Command::Deployment { id } => serde_json::json!({ "deploymentId": id }),
        Command::Sweep { lookback_hours } => {
            if let Some(hours) = lookback_hours {
                config.sweep_lookback = std::time::Duration::from_secs(hours * 3600);
            }
            // Exactly what the schedule sends the function.
            serde_json::json!({
                "version": "0",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "detail": {}
            })
        }
    };
    let relinker = Relinker::new(Clients::from_env().await, config);
    let invocation = relinker.handle(&payload, Caller::Credentials).await;
    print(&invocation, cli.json)?;
    let failed = invocation
        .response
        .reports
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .count();
    Ok(match invocation.error {
        Some(error) => {
            eprintln!(
                "error: the invocation would fail ({}): {error}",
                error.error_type()
            );
            ExitCode::FAILURE
        }
        None if invocation
            .response
            .batch_item_failures
            .as_ref()
            .is_some_and(|f| !f.is_empty()) =>
        {
            eprintln!(
                "error: some SQS records failed and would be redelivered (see batchItemFailures)"
            );
            ExitCode::FAILURE
        }
        None if failed > 0 => {
            eprintln!(
                "error: {failed} swept deployment(s) failed (the function reports them and does not fail a scheduled invocation)"
            );
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    })
}

fn read_event(path: &PathBuf) -> Result<serde_json::Value> {
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
    let event: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("event file {} is not JSON", path.display()))?;
    Ok(unwrap_destination_record(event))
}

/// A record from the function's on-failure destination (the dead-letter queue) wraps the event
/// that failed in `requestPayload`; replaying it means replaying that event.
fn unwrap_destination_record(mut event: serde_json::Value) -> serde_json::Value {
    if event.get("requestContext").is_some() {
        if let Some(payload) = event.get_mut("requestPayload") {
            eprintln!("note: replaying the requestPayload of a Lambda destination record");
            return payload.take();
        }
    }
    event
}

fn print(invocation: &Invocation, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&invocation.response)?);
        return Ok(());
    }
    for report in &invocation.response.reports {
        println!("{}", report.render());
    }
    if let Some(summary) = &invocation.response.summary {
        println!(
            "sweep: {} deployment(s) seen, {} relinked, {} already linked, {} planned, {} failed, skipped: {}",
            summary.deployments_seen,
            summary.relinked,
            summary.already_linked,
            summary.planned,
            summary.failed,
            if summary.skipped.is_empty() {
                "none".to_owned()
            } else {
                summary
                    .skipped
                    .iter()
                    .map(|(reason, n)| format!("{reason} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    if let Some(failures) = &invocation.response.batch_item_failures {
        let ids: Vec<&str> = failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        println!(
            "batchItemFailures: {}",
            if ids.is_empty() {
                "none".to_owned()
            } else {
                ids.join(", ")
            }
        );
    }
    Ok(())
}

async fn run_audit(config: Config, filter: &AllowList, fix: bool, json: bool) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let clients = Clients::from_env().await;
    let bar = if json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning applications {pos}/{len} {wide_bar} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    };
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = audit(&clients, &config, filter, fix, &progress)
        .await
        .context("auditing the region")?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_audit(&report);
    }
    Ok(if report.drift_remains() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_audit(report: &AuditReport) {
    let names = |items: &[String], prefix: &str| -> Vec<String> {
        items
            .iter()
            .map(|i| format!("{prefix}{}", short_name(i)))
            .collect()
    };
    let rows: Vec<[String; 6]> = report
        .rows
        .iter()
        .map(|row| {
            let r = &row.report;
            let missing = [
                names(&r.target_groups.missing, "tg:"),
                names(&r.load_balancers.missing, "clb:"),
                names(&r.target_groups.attached, "tg:+"),
                names(&r.load_balancers.attached, "clb:+"),
            ]
            .concat();
            let extra = [
                names(&r.target_groups.extra, "tg:"),
                names(&r.load_balancers.extra, "clb:"),
            ]
            .concat();
            let or_dash = |v: Vec<String>| {
                if v.is_empty() {
                    "-".to_owned()
                } else {
                    v.join(",")
                }
            };
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
                },
                or_dash(missing),
                or_dash(extra),
                row.state.as_str().to_owned(),
            ]
        })
        .collect();
    let header = [
        "DEPLOYMENT GROUP",
        "AUTO SCALING GROUP",
        "ROLE",
        "MISSING (+ attached)",
        "EXTRA",
        "STATE",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{out}");
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    for row in &report.rows {
        for warning in &row.warnings {
            println!(
                "warning: {}: {warning}; CodeDeploy will not copy it to the next replacement group",
                row.report.replacement_group.as_deref().unwrap_or("?")
            );
        }
        match (row.state, &row.report.detail) {
            (State::Failed, Some(detail)) => println!("error: {detail}"),
            (State::NotLive, Some(detail)) => {
                println!("not live: {detail}; left alone (its load balancers do not serve it)")
            }
            _ => {}
        }
    }
    let s = &report.summary;
    let not_audited: usize = s.not_audited.values().sum();
    println!(
        "audit: {} application(s), {} deployment group(s) ({} not blue/green copies), {} Auto Scaling group(s): {} linked, {} drift, {} fixed, {} failed, {} gone, {} not live; {} warning(s)",
        s.applications, s.deployment_groups, not_audited, s.auto_scaling_groups, s.linked, s.drift, s.fixed, s.failed, s.gone, s.not_live, s.warnings
    );
}

/// Logs go to standard error (the report goes to standard output); level from RUST_LOG, default warn.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
