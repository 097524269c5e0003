//! How one run prints: for people or as one JSON envelope, how much (`--quiet`), how wide, its
//! progress on a terminal, and the consent it asks before bulk changes (`--yes`).

use crate::args::VERSION;
use anyhow::{bail, Result};
use codedeploy_relink::aws::{BeforeChange, Clients};
use codedeploy_relink::edges::envelope::Envelope;

/// The run's choices of output and consent, made once from the flags and the terminal.
#[derive(Debug, Clone)]
pub(crate) struct Ui {
    /// `--json`: one [`Envelope`] on standard output.
    pub(crate) json: bool,
    /// `--quiet`: only what failed or needs attention.
    pub(crate) quiet: bool,
    /// `--yes`: no prompt before a change.
    pub(crate) yes: bool,
    /// The columns tables and long lines fit in; none for a pipe or a file.
    pub(crate) width: Option<usize>,
    /// The command, as the envelope names it (`audit`, `dlq replay`, …).
    pub(crate) command: String,
    /// Whether a dry run was asked for.
    pub(crate) dry_run: bool,
}

impl Ui {
    /// An empty envelope of this run's command.
    pub(crate) fn envelope(&self) -> Envelope {
        Envelope::new(VERSION, &self.command, self.dry_run)
    }

    /// Prints `envelope` on standard output.
    pub(crate) fn print_json(&self, envelope: &Envelope) -> Result<()> {
        println!("{}", serde_json::to_string_pretty(envelope)?);
        Ok(())
    }
}

/// The columns the output fits in: COLUMNS when set (as clap's help reads it), else the width of
/// the terminal standard output is; none for a pipe or a file, whose lines are left whole.
pub(crate) fn width() -> Option<usize> {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok());
    columns.filter(|c| *c > 0).or_else(|| {
        console::Term::stdout()
            .size_checked()
            .map(|(_, cols)| usize::from(cols))
    })
}

/// Before a command that changes resources in bulk: one line on standard error naming the
/// account, the region and whether it is a dry run, then consent — a prompt on a terminal,
/// `--yes` otherwise. Without it nothing is changed.
pub(crate) async fn confirm(clients: &Clients, what: &str, dry_run: bool, yes: bool) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let region = clients.region.as_deref().unwrap_or("(no region)");
    let account = match clients.caller_account().await {
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

/// The (done, total) callback of the library's long runs, moving `bar`.
pub(crate) fn advance(bar: &indicatif::ProgressBar) -> impl Fn(usize, usize) + Sync + '_ {
    move |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }
}

/// A progress bar on standard error, hidden for --json and when standard error is not a terminal.
pub(crate) fn progress_bar(json: bool, what: &str) -> indicatif::ProgressBar {
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

/// A spinner on standard error while relink waits for AWS, with the time spent: only for a person
/// at a terminal (not with --json or --quiet). Cleared when done.
pub(crate) fn spinner(ui: &Ui, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if ui.json || ui.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    let bar = indicatif::ProgressBar::new_spinner()
        .with_style(style)
        .with_message(format!("{}: {what}", ui.command))
        // An error ends the wait too: its line replaces the spinner's.
        .with_finish(indicatif::ProgressFinish::AndClear);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// `clients` that say, once and before the first attach, which account and region the command's
/// changes go to, and whether it is a dry run: the commands that write without a prompt (`replay`,
/// `deployment`, `sweep`, `dlq replay`). Said when a group misses something, while its evidence
/// is read (the rule may still leave it alone); nothing is said, and no account is asked for, when
/// every group has what it needs. The line is written around `spinner`.
pub(crate) fn announcing(
    mut clients: Clients,
    ui: &Ui,
    spinner: &indicatif::ProgressBar,
) -> Clients {
    let said = std::sync::Arc::new(tokio::sync::OnceCell::<()>::new());
    // A clone shares the account the function's origin check may already have asked for.
    let (asker, command, bar) = (clients.clone(), ui.command.clone(), spinner.clone());
    let region = clients
        .region
        .clone()
        .unwrap_or_else(|| "(no region)".into());
    clients.before_change = Some(BeforeChange::new(move |dry_run| {
        let (said, asker, bar) = (said.clone(), asker.clone(), bar.clone());
        let (command, region) = (command.clone(), region.clone());
        Box::pin(async move {
            said.get_or_init(|| async {
                let account = match asker.caller_account().await {
                    Ok(account) => format!("account {account}"),
                    Err(_) => "an account relink could not identify".to_owned(),
                };
                let line = match dry_run {
                    true => format!(
                        "dry run: {command} in {account}, region {region}: nothing will be changed"
                    ),
                    false => format!("{command}: changes go to {account}, region {region}"),
                };
                bar.suspend(|| eprintln!("{line}"));
            })
            .await;
        })
    }));
    clients
}
