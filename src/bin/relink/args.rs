//! The command line: flags, commands and their help, parsed by clap.

use crate::scope::{parse_accounts, parse_regions};
use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;
use codedeploy_relink::domain::config::MAX_SWEEP_LOOKBACK_HOURS;
use codedeploy_relink::usecases::organization::{Accounts, Regions};
use std::path::PathBuf;
use std::time::Duration;

/// The help's closing paragraphs (and the manual's EXAMPLES, ENVIRONMENT and EXIT STATUS). The
/// lists are laid out to fit 80 columns; the prose is one line a paragraph, for clap to wrap to
/// the terminal.
const EXAMPLES: &str = "\
Examples:
  relink replay events/sns-deployment-success.json
      run a notification through the function
  relink --dry-run deployment d-75I7MBT7C
      plan one deployment, change nothing
  relink sweep --lookback-hours 72
      what the scheduled sweep does, once
  relink audit --application 'web*' --fix
      check (and fix) a region's groups
  relink audit --accounts organization --regions all --role-name RelinkAudit
      the same in every account and region
  relink dlq replay --stack codedeploy-relink
      replay what waits in the dead-letter queue

AWS: credentials and region as for the AWS CLI (AWS_PROFILE, AWS_REGION, …, or --profile, --region; an explicit --profile wins over keys in the environment). The function's settings: RELINK_* variables, as in Lambda (see the README).

Exit status:
  0  done: nothing failed and, for audit, no drift remains
  1  the work ran and something failed, or audit found drift that remains
  2  relink could not do the work: a usage error, an event it cannot read,
     no credentials or region, a change refused for want of --yes
  4  audit --accounts/--regions: an account or region could not be audited
     (5: that and drift)
  Killed by SIGPIPE when the reader of its output goes away, as other tools.";

/// The version and the commit the binary was built from (build.rs).
pub(crate) const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (", env!("RELINK_BUILD"), ")");

/// Re-attach a CodeDeploy blue/green deployment group's load balancers to the Auto Scaling group
/// CodeDeploy copied — only where the load balancers serve it — and take them back from copies
/// that no longer serve.
#[derive(Debug, Parser)]
#[command(name = "relink", version = VERSION, about, after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// Plan and report, but attach, detach or delete nothing (overrides RELINK_DRY_RUN).
    #[arg(long, global = true)]
    pub(crate) dry_run: bool,
    /// Print JSON for machines instead of text for people.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// The AWS region (default: AWS_REGION or the profile's).
    #[arg(long, global = true)]
    pub(crate) region: Option<String>,
    /// The AWS profile (default: AWS_PROFILE or "default").
    #[arg(long, global = true)]
    pub(crate) profile: Option<String>,
    /// Go ahead without asking: `audit --fix` and `dlq purge` ask on a terminal and, without
    /// one, refuse to change anything unless given --yes.
    #[arg(short, long, global = true)]
    pub(crate) yes: bool,
    /// Log what happens, with the AWS SDK's full error chains, to standard error.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub(crate) verbose: bool,
    /// Print only what failed or needs attention: no summaries, nothing for what is fine.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run an event file (SNS, SQS, EventBridge, a dead-letter record or {"deploymentId": …})
    /// through the function.
    #[command(
        after_help = "Examples:\n  relink replay events/sns-deployment-success.json\n  relink --json replay - < event.json"
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
    /// replacement groups its load balancers serve, with its load balancer info, and finds its
    /// copies that hold its load balancers and serve nobody (retirable). Exits 1 while drift
    /// remains.
    ///
    /// With --accounts or --regions, audits every account × region pair (the role --role-name
    /// assumed in each account) and exits 1 for drift, 4 for an account or region that could
    /// not be audited, 5 for both.
    #[command(
        after_help = "Examples:\n  relink audit --application 'web*'\n  relink audit --fix\n  relink audit --accounts 111111111111,222222222222 \\\n      --regions us-east-1,eu-west-1 --role-name RelinkAudit\n  relink audit --accounts organization --regions all \\\n      --role-name RelinkAudit --fix"
    )]
    Audit {
        /// Only applications matching this pattern (* and ? wildcards).
        #[arg(long)]
        application: Option<String>,
        /// Only deployment groups matching this pattern (* and ? wildcards).
        #[arg(long)]
        deployment_group: Option<String>,
        /// Attach what is missing to live groups and retire copies that no longer serve (the
        /// function's rules; --dry-run still wins).
        #[arg(long)]
        fix: bool,
        /// Accounts: ids separated by commas, or "organization" (its active accounts; from the
        /// management account or a delegated administrator).
        #[arg(long, requires = "role_name", value_parser = parse_accounts)]
        accounts: Option<Accounts>,
        /// Regions: names separated by commas, or "all" (those each account has enabled).
        #[arg(long, value_parser = parse_regions)]
        regions: Option<Regions>,
        /// The role to assume in each account (templates/audit-role.yaml creates it).
        #[arg(long, requires = "accounts")]
        role_name: Option<String>,
        /// The external id the role's trust policy requires.
        #[arg(long, requires = "role_name")]
        external_id: Option<String>,
        /// Accounts, and account × region pairs, audited at once, 1 to 64 [default: 8].
        #[arg(long, default_value_t = 8, hide_default_value = true,
            value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
    },
    /// Run the scheduled sweep once.
    ///
    /// Relinks every running deployment whose load balancers serve its replacement group and every
    /// deployment that succeeded within the look-back, as the function does on its schedule.
    #[command(after_help = "Example:\n  relink --dry-run sweep --lookback-hours 72")]
    Sweep {
        /// Hours back to re-check succeeded deployments, 0 to 720 (overrides
        /// RELINK_SWEEP_LOOKBACK_HOURS, which has the same bound).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=MAX_SWEEP_LOOKBACK_HOURS))]
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

impl Command {
    /// The command as people type it (`audit`, `dlq replay`), for the JSON envelope.
    pub(crate) fn name(&self) -> String {
        let name = match self {
            Command::Replay { .. } => "replay",
            Command::Deployment { .. } => "deployment",
            Command::Sweep { .. } => "sweep",
            Command::Audit { .. } => "audit",
            Command::Dlq { action, .. } => match action {
                DlqAction::List => "dlq list",
                DlqAction::Replay { .. } => "dlq replay",
                DlqAction::Purge { .. } => "dlq purge",
            },
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        };
        name.to_owned()
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqAction {
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
pub(crate) struct Queue {
    /// The queue's URL (the stack output DeadLetterQueueUrl).
    #[arg(long, global = true, conflicts_with = "stack")]
    pub(crate) queue_url: Option<String>,
    /// The stack whose dead-letter queue to use.
    #[arg(long, global = true)]
    pub(crate) stack: Option<String>,
}

/// `7d`, `12h`, `30m` or `45s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
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
}
