//! `relink`: the function's logic from a terminal, one function per command. `replay`,
//! `deployment` and `sweep` run an event through exactly the Lambda function's use case and edge
//! ([`lambda::answer`]); `audit` checks a whole region; `dlq` works the dead-letter queue.
//! Everything printed for people comes from [`render`]; errors are one line, with a hint.

use anyhow::{bail, Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use codedeploy_relink::audit::audit;
use codedeploy_relink::aws::Clients;
use codedeploy_relink::config::{AllowList, Config};
use codedeploy_relink::dlq;
use codedeploy_relink::invocation::{Caller, Relinker};
use codedeploy_relink::lambda;
use codedeploy_relink::organization::{audit_organization, Accounts, Regions, Scope};
use codedeploy_relink::render;
use codedeploy_relink::report::{Outcome, Report};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// mimalloc in the shipped static build, as the function (src/main.rs).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  relink replay events/sns-deployment-success.json     run a notification through the function
  relink --dry-run deployment d-75I7MBT7C              plan one deployment, change nothing
  relink sweep --lookback-hours 72                     what the scheduled sweep does, once
  relink audit --application 'web*' --fix              check (and fix) a region's groups
  relink audit --accounts organization --regions all --role-name RelinkAudit
                                                       the same in every account and region
  relink dlq replay --stack codedeploy-relink          replay what waits in the dead-letter queue

AWS: credentials and region as for the AWS CLI (AWS_PROFILE, AWS_REGION, …, or --profile,
--region). The function's settings: RELINK_* variables, as in Lambda (see the README).";

/// The version and the commit the binary was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("RELINK_BUILD"), ")");

/// Re-attach a CodeDeploy blue/green deployment group's load balancers to the Auto Scaling group
/// CodeDeploy copied — only where the load balancers serve it.
#[derive(Debug, Parser)]
#[command(name = "relink", version = VERSION, about, after_help = EXAMPLES)]
struct Cli {
    /// Plan and report, but attach or delete nothing (overrides RELINK_DRY_RUN).
    #[arg(long, global = true)]
    dry_run: bool,
    /// Print JSON for machines instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    /// The AWS region (default: AWS_REGION or the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile (default: AWS_PROFILE or "default").
    #[arg(long, global = true)]
    profile: Option<String>,
    /// Log what happens, with the AWS SDK's full error chains, to standard error.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an event file (SNS, SQS, EventBridge, a dead-letter record or {"deploymentId": …})
    /// through the function.
    #[command(
        after_help = "Example:\n  relink replay events/sns-deployment-success.json\n  relink --json replay - < event.json"
    )]
    Replay {
        /// The event file, or - for standard input.
        event: PathBuf,
    },
    /// Relink one deployment by id.
    #[command(after_help = "Example:\n  relink deployment d-75I7MBT7C")]
    Deployment {
        /// The deployment id, e.g. d-75I7MBT7C.
        id: String,
    },
    /// Audit every copied blue/green deployment group of the region.
    ///
    /// Compares the Auto Scaling groups each deployment group points at, and running deployments'
    /// replacement groups its load balancers serve, with its load balancer info. Exits 1 while
    /// drift remains.
    ///
    /// With --accounts or --regions, audits every account × region pair (the role --role-name
    /// assumed in each account) and exits 1 for drift, 4 for an account or region that could
    /// not be audited, 5 for both.
    #[command(
        after_help = "Examples:\n  relink audit --application 'web*'\n  relink audit --fix\n  relink audit --accounts 111111111111,222222222222 --regions us-east-1,eu-west-1 --role-name RelinkAudit\n  relink audit --accounts organization --regions all --role-name RelinkAudit --fix"
    )]
    Audit {
        /// Only applications matching this pattern (* and ? wildcards).
        #[arg(long)]
        application: Option<String>,
        /// Only deployment groups matching this pattern (* and ? wildcards).
        #[arg(long)]
        deployment_group: Option<String>,
        /// Attach what is missing to live groups (the function's rules; --dry-run still wins).
        #[arg(long)]
        fix: bool,
        /// Accounts: ids separated by commas, or "organization" (its active accounts; from the
        /// management account or a delegated administrator).
        #[arg(long, requires = "role_name", value_parser = Accounts::parse)]
        accounts: Option<Accounts>,
        /// Regions: names separated by commas, or "all" (those each account has enabled).
        #[arg(long, value_parser = Regions::parse)]
        regions: Option<Regions>,
        /// The role to assume in each account (templates/audit-role.yaml creates it).
        #[arg(long, requires = "accounts")]
        role_name: Option<String>,
        /// The external id the role's trust policy requires.
        #[arg(long, requires = "role_name")]
        external_id: Option<String>,
        /// Accounts, and account × region pairs, audited at once.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
    },
    /// Run the scheduled sweep once.
    ///
    /// Relinks every running deployment whose load balancers serve its replacement group and every
    /// deployment that succeeded within the look-back, as the function does on its schedule.
    #[command(after_help = "Example:\n  relink --dry-run sweep --lookback-hours 72")]
    Sweep {
        /// Hours back to re-check succeeded deployments (overrides RELINK_SWEEP_LOOKBACK_HOURS).
        #[arg(long)]
        lookback_hours: Option<u64>,
    },
    /// The dead-letter queue: list, replay or purge what failed every retry.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
        #[command(flatten)]
        queue: Queue,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  relink completions bash > ~/.local/share/bash-completion/completions/relink"
    )]
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Print the manual page (roff), as the releases ship it.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Subcommand)]
enum DlqAction {
    /// What waits: one line per message (age, deployments, error).
    #[command(after_help = "Example:\n  relink dlq list --stack codedeploy-relink")]
    List,
    /// Replay each message through the function; delete it once its replay succeeded or was a
    /// skip, keep and report the rest.
    #[command(after_help = "Example:\n  relink dlq replay --stack codedeploy-relink --max 10")]
    Replay {
        /// Replay at most this many messages.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
    /// Delete the messages older than a duration (e.g. 7d, 12h, 30m).
    #[command(
        after_help = "Example:\n  relink dlq purge --stack codedeploy-relink --older-than 7d"
    )]
    Purge {
        /// The age beyond which a message is deleted.
        #[arg(long, value_parser = parse_duration)]
        older_than: Duration,
    },
}

/// Which queue: by URL, or the dead-letter queue of a stack made from template.yaml.
#[derive(Debug, Args)]
struct Queue {
    /// The queue's URL (the stack output DeadLetterQueueUrl).
    #[arg(long, global = true, conflicts_with = "stack")]
    queue_url: Option<String>,
    /// The stack whose dead-letter queue to use.
    #[arg(long, global = true)]
    stack: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            if let Some(hint) = hint_for(&format!("{error:#}")) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "relink", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let mut config = Config::from_env().context("reading the RELINK_* configuration")?;
    config.dry_run |= cli.dry_run;
    let aws = (cli.region.as_deref(), cli.profile.as_deref());
    match cli.command {
        Command::Replay { event } => invoke(config, aws, read_event(&event)?, cli.json).await,
        Command::Deployment { id } => {
            invoke(config, aws, json!({ "deploymentId": id }), cli.json).await
        }
        Command::Sweep { lookback_hours } => {
            if let Some(hours) = lookback_hours {
                config.sweep_lookback = Duration::from_secs(hours * 3600);
            }
            invoke(config, aws, scheduled_event(), cli.json).await
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
                return run_audit(config, aws, &filter, fix, cli.json).await;
            }
            let scope = Scope {
                accounts: accounts.unwrap_or(Accounts::Current),
                regions: regions.unwrap_or(Regions::Current),
                role_name,
                external_id,
                concurrency: usize::from(concurrency),
            };
            run_organization_audit(config, aws, &filter, fix, &scope, cli.json).await
        }
        Command::Dlq { action, queue } => run_dlq(config, aws, action, queue, cli.json).await,
        Command::Completions { .. } | Command::Man => Ok(ExitCode::SUCCESS),
    }
}

type AwsChoice<'a> = (Option<&'a str>, Option<&'a str>);

async fn clients((region, profile): AwsChoice<'_>) -> Clients {
    Clients::from_env_with(region, profile).await
}

/// Runs a payload through the function's use case and edge, prints the response, and exits as the
/// invocation would end. An unreadable payload fails before any AWS client exists.
async fn invoke(
    config: Config,
    aws: AwsChoice<'_>,
    payload: Value,
    json: bool,
) -> Result<ExitCode> {
    let outcome = match lambda::decode(&payload) {
        Ok(event) => {
            let relinker = Relinker::new(clients(aws).await, config);
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
    let failed: Vec<&Report> = response
        .reports
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    let summary = match (&error, redelivered, failed.len()) {
        (Some(error), _, _) => format!("the invocation would fail ({}): {error}", error.error_type()),
        (None, true, _) => "some SQS records failed and would be redelivered (see batchItemFailures)".to_owned(),
        (None, false, 0) => return Ok(ExitCode::SUCCESS),
        (None, false, n) => format!("{n} swept deployment(s) failed (the function reports them and does not fail a scheduled invocation)"),
    };
    eprintln!("error: {summary}");
    if let Some(hint) = failed.iter().find_map(|r| hint_for_report(r)) {
        eprintln!("hint: {hint}");
    }
    Ok(ExitCode::FAILURE)
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
    let (event, unwrapped) = lambda::unwrap_destination_record(event);
    if unwrapped {
        eprintln!("note: replaying the requestPayload of a Lambda destination record");
    }
    Ok(event)
}

async fn run_audit(
    config: Config,
    aws: AwsChoice<'_>,
    filter: &AllowList,
    fix: bool,
    json: bool,
) -> Result<ExitCode> {
    let clients = clients(aws).await;
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
    Ok(if report.drift_remains() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn run_organization_audit(
    config: Config,
    (region, profile): AwsChoice<'_>,
    filter: &AllowList,
    fix: bool,
    scope: &Scope,
    json: bool,
) -> Result<ExitCode> {
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

async fn run_dlq(
    config: Config,
    aws: AwsChoice<'_>,
    action: DlqAction,
    queue: Queue,
    json: bool,
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

/// `7d`, `12h`, `30m` or `45s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => {
            return Err(format!(
                "{text:?} is not a duration such as 7d, 12h, 30m or 45s"
            ))
        }
    };
    number
        .parse::<u64>()
        .map(|n| Duration::from_secs(n * seconds))
        .map_err(|_| format!("{text:?} is not a duration such as 7d, 12h, 30m or 45s"))
}

/// A hint for the failure a report records, when it is a common one.
fn hint_for_report(report: &Report) -> Option<String> {
    let code = report.error_code.as_deref()?;
    let detail = report.detail.as_deref().unwrap_or_default();
    hint_for(&format!("{detail} {code}"))
}

/// A hint for a failure, from its text: missing credentials or region, access denied (with the
/// IAM action to grant), an endpoint that does not answer.
fn hint_for(text: &str) -> Option<String> {
    if text.contains("NoCredentials") {
        return Some("set AWS_PROFILE (or --profile), or run `aws sso login`".into());
    }
    if text.contains("NoRegion") {
        return Some("set AWS_REGION or pass --region".into());
    }
    if text.contains("EndpointUnreachable") {
        return Some("check the network, proxy settings and AWS_ENDPOINT_URL".into());
    }
    if text.contains("AccessDenied") || text.contains("UnauthorizedOperation") {
        let action = IAM_ACTIONS
            .iter()
            .find(|(op, _)| text.contains(&format!("{op} for")));
        return Some(match action {
            Some((op, service)) => format!("grant {service}:{op} to the credentials in use"),
            None => "grant the IAM action named in the error to the credentials in use".into(),
        });
    }
    None
}

/// The IAM service prefix of every AWS operation relink calls.
const IAM_ACTIONS: [(&str, &str); 18] = [
    ("GetDeployment", "codedeploy"),
    ("GetDeploymentGroup", "codedeploy"),
    ("BatchGetDeployments", "codedeploy"),
    ("ListDeployments", "codedeploy"),
    ("ListApplications", "codedeploy"),
    ("ListDeploymentGroups", "codedeploy"),
    ("BatchGetDeploymentGroups", "codedeploy"),
    ("DescribeAutoScalingGroups", "autoscaling"),
    ("AttachLoadBalancerTargetGroups", "autoscaling"),
    ("AttachLoadBalancers", "autoscaling"),
    ("DescribeTargetGroups", "elasticloadbalancing"),
    ("DescribeTargetHealth", "elasticloadbalancing"),
    ("DescribeInstanceHealth", "elasticloadbalancing"),
    ("ListQueues", "sqs"),
    ("ReceiveMessage", "sqs"),
    ("DeleteMessage", "sqs"),
    ("ChangeMessageVisibility", "sqs"),
    ("GetCallerIdentity", "sts"),
];

/// Logs go to standard error. By default only warnings that are news: the reports themselves are
/// printed, and the AWS SDK's own warnings (instance metadata not reachable, …) are left out;
/// `--verbose` shows everything, the SDK's error chains included. RUST_LOG overrides both.
fn init_logging(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose {
        "debug,hyper_util=info,h2=info,rustls=info"
    } else {
        "warn,codedeploy_relink::report=off,aws_config=off,aws_smithy_runtime=off"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        for bad in ["7", "d", "7w", "-1h", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hints_name_the_fix() {
        assert!(
            hint_for("GetDeployment for deployment d-1 failed: NoCredentials: …")
                .unwrap()
                .contains("AWS_PROFILE")
        );
        assert!(hint_for("… NoRegion …").unwrap().contains("--region"));
        assert_eq!(
            hint_for("AttachLoadBalancers for group G (…) failed: AccessDenied: no").unwrap(),
            "grant autoscaling:AttachLoadBalancers to the credentials in use"
        );
        assert_eq!(hint_for("TargetGroupNotFound"), None);
    }
}
