//! The record of what the function did with one notification.

use crate::decision::{Skip, SkipReason};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// How a notification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Missing attachments were attached.
    Relinked,
    /// Nothing was missing; no mutating call was made.
    AlreadyLinked,
    /// Dry run: the report lists what would be attached; nothing was changed.
    Planned,
    /// Left alone for the reason given.
    Skipped,
    /// Could not be completed; the invocation fails so that Lambda retries it.
    Failed,
}

impl Outcome {
    /// The outcome's name, as it appears in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Relinked => "relinked",
            Outcome::AlreadyLinked => "already_linked",
            Outcome::Planned => "planned",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// How one kind of attachment (target groups or classic load balancers) ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachments {
    /// Attached by this invocation.
    pub attached: Vec<String>,
    /// Missing and not attached: in a dry run, or because the attach call failed.
    pub missing: Vec<String>,
    /// Desired and already attached before this invocation.
    pub already_present: Vec<String>,
    /// Attached to the group but not listed by the deployment group; left alone.
    pub extra: Vec<String>,
}

impl Attachments {
    fn is_empty(&self) -> bool {
        self.attached.is_empty()
            && self.missing.is_empty()
            && self.already_present.is_empty()
            && self.extra.is_empty()
    }
}

/// One structured outcome per notification: returned as the invocation's response and logged as
/// one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Where the notification was in the event, e.g. `Records[1]`.
    pub source: String,
    /// The deployment id, when the notification named one.
    pub deployment_id: Option<String>,
    /// The application (from the API once read, else from the notification).
    pub application: Option<String>,
    /// The deployment group (from the API once read, else from the notification).
    pub deployment_group: Option<String>,
    /// The replacement Auto Scaling group.
    pub replacement_group: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it was skipped.
    pub reason: Option<SkipReason>,
    /// A sentence for people: the skip's explanation or the error.
    pub detail: Option<String>,
    /// The AWS error code of a failure.
    pub error_code: Option<String>,
    /// Target group ARNs.
    pub target_groups: Attachments,
    /// Classic load balancer names.
    pub load_balancers: Attachments,
    /// Whether the function ran in dry-run mode.
    pub dry_run: bool,
    /// Sequential rounds of AWS calls made for this notification.
    pub aws_rounds: u8,
}

impl Report {
    /// A report with nothing decided yet.
    pub fn new(source: impl Into<String>, deployment_id: Option<String>, dry_run: bool) -> Self {
        Report {
            source: source.into(),
            deployment_id,
            application: None,
            deployment_group: None,
            replacement_group: None,
            outcome: Outcome::Skipped,
            reason: None,
            detail: None,
            error_code: None,
            target_groups: Attachments::default(),
            load_balancers: Attachments::default(),
            dry_run,
            aws_rounds: 0,
        }
    }

    /// Marks the report skipped.
    pub fn skipped(mut self, skip: Skip) -> Self {
        self.outcome = Outcome::Skipped;
        self.reason = Some(skip.reason);
        self.detail = Some(skip.detail);
        self
    }

    /// Marks the report failed.
    pub fn failed(mut self, code: impl Into<String>, detail: impl Into<String>) -> Self {
        self.outcome = Outcome::Failed;
        self.error_code = Some(code.into());
        self.detail = Some(detail.into());
        self
    }

    /// Writes the report as one structured log line. `quiet` (the sweep) logs what changed
    /// nothing at debug level, so that a sweep every few minutes does not repeat itself.
    pub fn log(&self, quiet: bool) {
        let fields = serde_json::to_string(self).unwrap_or_default();
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(
                    source = %self.source,
                    deployment_id = self.deployment_id.as_deref().unwrap_or(""),
                    application = self.application.as_deref().unwrap_or(""),
                    deployment_group = self.deployment_group.as_deref().unwrap_or(""),
                    replacement_group = self.replacement_group.as_deref().unwrap_or(""),
                    outcome = self.outcome.as_str(),
                    reason = self.reason.map(SkipReason::code).unwrap_or(""),
                    dry_run = self.dry_run,
                    report = %fields,
                    "{}",
                    self.summary()
                )
            };
        }
        match self.outcome {
            Outcome::Failed => emit!(error),
            Outcome::Skipped | Outcome::AlreadyLinked if quiet => emit!(debug),
            _ => emit!(info),
        }
    }

    /// One sentence: what happened.
    pub fn summary(&self) -> String {
        let count = |a: &Attachments| (a.attached.len(), a.missing.len());
        let (tg_done, tg_missing) = count(&self.target_groups);
        let (lb_done, lb_missing) = count(&self.load_balancers);
        match self.outcome {
            Outcome::Relinked => format!(
                "attached {tg_done} target group(s) and {lb_done} classic load balancer(s)"
            ),
            Outcome::AlreadyLinked => "nothing missing; no change made".into(),
            Outcome::Planned => format!(
                "dry run: would attach {tg_missing} target group(s) and {lb_missing} classic load balancer(s)"
            ),
            Outcome::Skipped | Outcome::Failed => self.detail.clone().unwrap_or_default(),
        }
    }

    /// A human-readable rendering for terminals: a header line and indented details.
    pub fn render(&self) -> String {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<14} {:<30} {:<40} {}",
            self.outcome.as_str().to_uppercase(),
            format!(
                "{}/{}",
                dash(&self.application),
                dash(&self.deployment_group)
            ),
            dash(&self.replacement_group),
            dash(&self.deployment_id),
        );
        let _ = writeln!(out, "  source          {}", self.source);
        if let Some(reason) = self.reason {
            let _ = writeln!(out, "  reason          {}", reason.code());
        }
        if let Some(code) = &self.error_code {
            let _ = writeln!(out, "  error code      {code}");
        }
        let _ = writeln!(out, "  summary         {}", self.summary());
        for (label, a) in [
            ("target groups", &self.target_groups),
            ("load balancers", &self.load_balancers),
        ] {
            if a.is_empty() {
                continue;
            }
            for (what, items) in [
                ("attached", &a.attached),
                ("missing", &a.missing),
                ("already present", &a.already_present),
                ("extra (kept)", &a.extra),
            ] {
                if !items.is_empty() {
                    let _ = writeln!(out, "  {label:<15} {what}: {}", items.join(", "));
                }
            }
        }
        if self.dry_run {
            let _ = writeln!(out, "  dry run         yes: no change was made");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_snake_case_codes() {
        let report = Report::new("Records[0]", Some("d-1".into()), false).skipped(Skip {
            reason: SkipReason::DeploymentFailed,
            detail: "the deployment failed".into(),
        });
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["outcome"], "skipped");
        assert_eq!(json["reason"], "deployment_failed");
        assert_eq!(json["deployment_id"], "d-1");
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn render_lists_attachments() {
        let mut report = Report::new("event", Some("d-1".into()), false);
        report.outcome = Outcome::Relinked;
        report.target_groups.attached = vec!["arn:tg".into()];
        report.load_balancers.extra = vec!["old-clb".into()];
        let text = report.render();
        assert!(text.starts_with("RELINKED"), "{text}");
        assert!(text.contains("target groups   attached: arn:tg"), "{text}");
        assert!(
            text.contains("load balancers  extra (kept): old-clb"),
            "{text}"
        );
        assert!(
            text.contains("attached 1 target group(s) and 0 classic"),
            "{text}"
        );
    }
}
