//! What the CLI makes of an invocation's answer: the error line people read, and whether relink
//! could not do the work at all (exit 2) or the work ran and failed (exit 1).

use crate::hints::of_the_process;
use codedeploy_relink::domain::report::{Outcome, Report};
use codedeploy_relink::domain::skip::SkipReason;
use codedeploy_relink::usecases::invocation::{InvocationError, Response};

/// What the command line named: an event (its outcome is the function's), one deployment
/// (`relink deployment`: one that does not exist is an error), or the sweep (its output shows
/// what changed or failed, not the many deployments that need nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Named {
    Event,
    Deployment,
    Sweep,
}

/// What the CLI makes of an invocation's answer: its error line, if any, and whether relink could
/// not do the work at all (exit 2).
pub(crate) struct Verdict {
    /// The error line, without `error: `; none when the invocation succeeded.
    pub(crate) line: Option<String>,
    /// The event, or every record of it, could not be read.
    pub(crate) unreadable: bool,
    /// Every record failed for want of credentials or a region: said once, on standard error.
    pub(crate) of_the_process: bool,
}

impl Verdict {
    pub(crate) fn of(response: &Response, error: Option<&InvocationError>, named: Named) -> Self {
        let failed = failed_reports(response);
        let of_the_process = !failed.is_empty()
            && failed
                .iter()
                .all(|r| r.error_code.as_deref().is_some_and(of_the_process));
        // An event none of whose records could be read is an event relink cannot read.
        let unreadable_records = !failed.is_empty()
            && failed.len() == response.reports.len()
            && failed
                .iter()
                .all(|r| r.error_code.as_deref() == Some("InvalidMessage"));
        // `relink deployment` names one deployment: one that does not exist is the user's error.
        let unknown = response.reports.iter().find(|r| {
            named == Named::Deployment && r.reason == Some(SkipReason::DeploymentNotFound)
        });
        let what = match response.summary {
            Some(_) => "swept deployment(s)",
            None => "record(s)",
        };
        let total = response.reports.len();
        let redelivered = !response.redelivered().is_empty();
        let line = match (error, redelivered, failed.len()) {
            (Some(InvocationError::InvalidEvent(input)), _, _) => {
                Some(format!("the event cannot be read: {input}"))
            }
            (Some(_), _, _) if unreadable_records => Some(format!(
                "the event cannot be read: {}",
                failed[0].detail.as_deref().unwrap_or("no detail")
            )),
            (Some(InvocationError::RecordsFailed { retryable, .. }), _, _) => {
                let again = if *retryable {
                    " (a retry may help)"
                } else {
                    ""
                };
                Some(format!("{}{again}", failures(&failed, total, what)))
            }
            (None, _, 0) => unknown.map(|r| {
                format!(
                    "no deployment {} in this region and account (CodeDeploy does not know it)",
                    r.deployment_id.as_deref().unwrap_or_default()
                )
            }),
            (None, true, _) => Some(format!(
                "{}; Lambda would redeliver those messages (batchItemFailures)",
                failures(&failed, total, what)
            )),
            (None, false, _) => Some(failures(&failed, total, what)),
        };
        Verdict {
            line,
            unreadable: matches!(error, Some(InvocationError::InvalidEvent(_)))
                || unreadable_records,
            of_the_process,
        }
    }
}

/// The reports of the records or deployments that failed.
pub(crate) fn failed_reports(response: &Response) -> Vec<&Report> {
    response
        .reports
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect()
}

/// The failed reports in a line: the one failure itself, or how many failed and the first.
fn failures(failed: &[&Report], total: usize, what: &str) -> String {
    let detail = |r: &Report| r.detail.clone().unwrap_or_else(|| "no detail".to_owned());
    match failed {
        [] => "nothing failed".to_owned(),
        [one] if total == 1 => detail(one),
        [first, ..] => {
            let detail = detail(first);
            // The record's place, unless the detail starts with it (the sweep's does).
            let place = match detail.starts_with(&first.source) {
                true => String::new(),
                false => format!(" ({})", first.source),
            };
            format!(
                "{} of {total} {what} failed; the first{place}: {detail}",
                failed.len()
            )
        }
    }
}
