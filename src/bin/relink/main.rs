//! `relink`: the function's logic from a terminal. `replay`, `deployment` and `sweep` run an event
//! through exactly the Lambda function's use case (`Relinker::invoke`); `audit` checks a whole
//! region or every account and region; `dlq` works the dead-letter queue. The flags are in `args`,
//! one function per command in `commands`, the hints for common failures in `hints`, `--accounts`
//! and `--regions` in `scope`, the output's choices (`--json`, `--quiet`, width, progress, consent)
//! in `output`, the error line and exit status of an invocation in `verdict`; everything printed for people comes from `render`, for machines from `envelope`;
//! errors are one line on standard error, with a hint.

mod args;
mod commands;
mod hints;
mod output;
mod scope;
mod verdict;

use anyhow::{Context, Result};
use args::{Cli, Command};
use clap::{CommandFactory, Parser};
use codedeploy_relink::aws::Clients;
use codedeploy_relink::domain::config::{AllowList, Config};
use codedeploy_relink::domain::event::check_deployment_id;
use codedeploy_relink::usecases::organization::{Accounts, Regions, Scope};
use commands::{invoke, read_event, run_audit, run_dlq, run_organization_audit, scheduled_event};
use hints::hint_for_error;
use output::Ui;
use serde_json::json;
use std::process::ExitCode;
use std::time::Duration;
use verdict::Named;

/// mimalloc in the shipped static build, as the function (src/main.rs).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let ui = Ui {
        json: cli.json,
        quiet: cli.quiet,
        yes: cli.yes,
        width: output::width(),
        command: cli.command.name(),
        dry_run: cli.dry_run,
    };
    let (region, profile) = (cli.region.clone(), cli.profile.clone());
    match run(cli, ui.clone()).await {
        Ok(code) => code,
        Err(error) => {
            let hint = hint_for_error(&error, (region.as_deref(), profile.as_deref())).await;
            eprintln!("error: {error:#}");
            if let Some(hint) = &hint {
                eprintln!("hint: {hint}");
            }
            if ui.json {
                let _ = ui.print_json(&ui.envelope().error(format!("{error:#}"), hint));
            }
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli, mut ui: Ui) -> Result<ExitCode> {
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "relink", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            man_page(&mut std::io::stdout())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let mut config = Config::from_env().context("reading the RELINK_* configuration")?;
    config.dry_run |= cli.dry_run;
    ui.dry_run = config.dry_run;
    let ui = &ui;
    let aws = (cli.region.as_deref(), cli.profile.as_deref());
    match cli.command {
        Command::Replay { event } => {
            invoke(config, aws, read_event(&event)?, ui, Named::Event).await
        }
        Command::Deployment { id } => {
            // A wrong id is refused here, before any client or AWS call exists.
            check_deployment_id(&id, "the deployment id").map_err(anyhow::Error::msg)?;
            invoke(
                config,
                aws,
                json!({ "deploymentId": id }),
                ui,
                Named::Deployment,
            )
            .await
        }
        Command::Sweep { lookback_hours } => {
            if let Some(hours) = lookback_hours {
                config.sweep_lookback = Duration::from_secs(hours * 3600);
            }
            invoke(config, aws, scheduled_event(), ui, Named::Sweep).await
        }
        Command::Audit {
            application,
            deployment_group,
            fix,
            accounts,
            regions,
            role_name,
            external_id,
            concurrency,
        } => {
            let filter = AllowList::single(application.as_deref(), deployment_group.as_deref());
            if accounts.is_none() && regions.is_none() {
                let named: Vec<String> = [
                    ("--application", &application),
                    ("--deployment-group", &deployment_group),
                ]
                .into_iter()
                .filter_map(|(flag, value)| value.as_ref().map(|v| format!("{flag} '{v}'")))
                .collect();
                return run_audit(config, aws, &filter, fix, ui, &named.join(" ")).await;
            }
            let scope = Scope {
                accounts: accounts.unwrap_or(Accounts::Current),
                regions: regions.unwrap_or(Regions::Current),
                role_name,
                external_id,
                concurrency: usize::from(concurrency),
            };
            run_organization_audit(config, aws, &filter, fix, &scope, ui).await
        }
        Command::Dlq { action, queue } => run_dlq(config, aws, action, queue, ui).await,
        Command::Completions { .. } | Command::Man => Ok(ExitCode::SUCCESS),
    }
}

/// relink(1): clap_mangen's title, name, synopsis, description and options, then the commands as
/// `relink COMMAND` (clap_mangen would name a relink-COMMAND(1) page for each, which does not
/// ship), and the help's closing paragraphs as EXAMPLES, ENVIRONMENT and EXIT STATUS.
fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(
            out,
            ".TP\n\\fBrelink {}\\fR\n{}",
            roff(sub.get_name()),
            roff(&about)
        )?;
    }
    writeln!(
        out,
        ".PP\n\\fBrelink help\\fR \\fICOMMAND\\fR shows a command's options."
    )?;
    let after = command
        .get_after_help()
        .map(|a| a.to_string())
        .unwrap_or_default();
    for paragraph in after.split("\n\n") {
        let heading = match paragraph.split(':').next().unwrap_or_default() {
            "Examples" => "EXAMPLES",
            "AWS" => "ENVIRONMENT",
            "Exit status" => "EXIT STATUS",
            _ => "NOTES",
        };
        let body = paragraph.strip_prefix("Examples:\n").unwrap_or(paragraph);
        let body = body.strip_prefix("Exit status:\n").unwrap_or(body);
        // The lists keep their lines; prose (one line) is filled by the pager.
        match body.contains('\n') {
            true => writeln!(out, ".SH \"{heading}\"\n.nf\n{}\n.fi", roff(body))?,
            false => writeln!(out, ".SH \"{heading}\"\n{}", roff(body))?,
        }
    }
    man.render_version_section(out)
}

/// Text made safe for roff: backslashes and hyphens escaped, no line starting a request.
fn roff(text: &str) -> String {
    text.replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\(aq")
        .lines()
        .map(|line| match line.starts_with('.') {
            true => format!("\\&{line}"),
            false => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A reader that closes the pipe (`relink audit --json | head -1`) ends relink quietly, as it
/// ends other Unix tools: by the default action of SIGPIPE, which Rust's runtime sets to ignore
/// (every later write would then panic on the broken pipe).
fn quiet_on_closed_pipe() {
    // SAFETY: `signal` only sets the process's disposition of SIGPIPE; it touches no memory of
    // this program and is safe to call from any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

pub(crate) type AwsChoice<'a> = (Option<&'a str>, Option<&'a str>);

pub(crate) async fn clients((region, profile): AwsChoice<'_>) -> Clients {
    use codedeploy_relink::domain::config::{Config, ElbShare};
    // The configuration was checked at start-up; RELINK_ELB_SHARE overrides the CLI's share.
    let share = Config::from_env().ok().and_then(|c| c.elb_share);
    Clients::from_env_with(region, profile)
        .await
        .with_elb_share(share.unwrap_or(ElbShare::CLI))
}

/// Logs go to standard error. By default only warnings that are news: the reports themselves are
/// printed, and the AWS SDK's own warnings (instance metadata not reachable, …) are left out;
/// `--verbose` shows everything, the SDK's error chains included. RUST_LOG overrides both.
fn init_logging(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose {
        "debug,hyper_util=info,h2=info,rustls=info"
    } else {
        // The invalid event's log line: the error line says the same.
        "warn,codedeploy_relink::domain::report=off,codedeploy_relink::usecases::invocation::answer=off,aws_config=off,aws_smithy_runtime=off"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal: console's rules (not TERM=dumb, NO_COLOR,
    // CLICOLOR=0; CLICOLOR_FORCE wins), as the spinner and progress bars follow them.
    let colour = console::colors_enabled_stderr();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
