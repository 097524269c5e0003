//! `relink`: the function's logic from a terminal, one function per command. `replay`,
//! `deployment` and `sweep` run an event through exactly the Lambda function's use case and edge
//! ([`lambda::answer`]); `audit` checks a whole region. Everything printed for people comes from
//! [`render`].

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use codedeploy_relink::audit::audit;
use codedeploy_relink::aws::Clients;
use codedeploy_relink::config::{AllowList, Config};
use codedeploy_relink::invocation::{Caller, Relinker};
use codedeploy_relink::lambda;
use codedeploy_relink::render;
use codedeploy_relink::report::Outcome;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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
    /// Compares the Auto Scaling groups each deployment group points at, and running deployments'
    /// replacement groups its load balancers serve, with its load balancer info. Exits 1 while
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
    /// Relinks every running deployment whose load balancers serve its replacement group and every
    /// deployment that succeeded within the look-back, as the function does on its schedule.
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
    match cli.command {
        Command::Replay { event } => invoke(config, read_event(&event)?, cli.json).await,
        Command::Deployment { id } => invoke(config, json!({ "deploymentId": id }), cli.json).await,
        Command::Sweep { lookback_hours } => {
            if let Some(hours) = lookback_hours {
                config.sweep_lookback = Duration::from_secs(hours * 3600);
            }
            invoke(config, scheduled_event(), cli.json).await
        }
        Command::Audit {
            application,
            deployment_group,
            fix,
        } => {
            let filter = AllowList::single(application.as_deref(), deployment_group.as_deref());
            run_audit(config, &filter, fix, cli.json).await
        }
    }
}

/// Runs a payload through the function's use case and edge, prints the response, and exits as the
/// invocation would end. An unreadable payload fails before any AWS client exists.
async fn invoke(config: Config, payload: Value, json: bool) -> Result<ExitCode> {
    let outcome = match lambda::decode(&payload) {
        Ok(event) => {
            let relinker = Relinker::new(Clients::from_env().await, config);
            Ok(relinker.handle(&event, Caller::Credentials).await)
        }
        Err(error) => Err(error),
    };
    let (response, error) = lambda::answer(outcome);
    if json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        print!("{}", render::response(&response));
    }
    let redelivered = response
        .sqs
        .as_ref()
        .is_some_and(|s| !s.batch_item_failures.is_empty());
    let failed = response
        .reports
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .count();
    Ok(match error {
        Some(error) => {
            eprintln!(
                "error: the invocation would fail ({}): {error}",
                error.error_type()
            );
            ExitCode::FAILURE
        }
        None if redelivered => {
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

/// Exactly what the schedule sends the function.
fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {}
    })
}

fn read_event(path: &Path) -> Result<Value> {
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
    Ok(unwrap_destination_record(event))
}

/// A record from the function's on-failure destination (the dead-letter queue) wraps the event
/// that failed in `requestPayload`; replaying it means replaying that event.
fn unwrap_destination_record(mut event: Value) -> Value {
    if event.get("requestContext").is_some() {
        if let Some(payload) = event.get_mut("requestPayload") {
            eprintln!("note: replaying the requestPayload of a Lambda destination record");
            return payload.take();
        }
    }
    event
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
        print!("{}", render::audit(&report));
    }
    Ok(if report.drift_remains() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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
