//! The one shape of `relink --json`: every command prints a single [`Envelope`] on standard
//! output, whether it succeeded, found drift or failed. Scripts read `error` first, then
//! `reports` (the function's reports: `replay`, `deployment`, `sweep`) or `rows` (the audits and
//! the dead-letter commands), and `summary`.

use serde::Serialize;
use serde_json::Value;

/// The envelope's schema version. A change that breaks a reader of an earlier envelope raises it;
/// new keys do not.
pub const ENVELOPE_VERSION: u32 = 1;

/// What `relink --json` prints, for every command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// [`ENVELOPE_VERSION`].
    pub version: u32,
    /// relink's version, as `--version` prints it.
    pub relink: String,
    /// The command, e.g. `audit` or `dlq replay`.
    pub command: String,
    /// Whether a dry run was asked for (`--dry-run` or `RELINK_DRY_RUN`).
    pub dry_run: bool,
    /// The function's reports, one per record or swept deployment (`replay`, `deployment`,
    /// `sweep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reports: Option<Value>,
    /// The audits' rows, or the dead-letter commands' messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Value>,
    /// Counts over the reports or rows; null when the command could not do its work.
    pub summary: Value,
    /// Why the command failed, or null.
    pub error: Option<Failure>,
}

/// A failed command, as its error line and hint say it on standard error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The error, without the `error: ` prefix.
    pub message: String,
    /// What to do about it, when relink knows.
    pub hint: Option<String>,
}

impl Envelope {
    /// An envelope of `command` with nothing in it yet.
    pub fn new(relink: &str, command: &str, dry_run: bool) -> Self {
        Envelope {
            version: ENVELOPE_VERSION,
            relink: relink.to_owned(),
            command: command.to_owned(),
            dry_run,
            reports: None,
            rows: None,
            summary: Value::Null,
            error: None,
        }
    }

    /// With the function's reports.
    pub fn reports(mut self, reports: &impl Serialize) -> Self {
        self.reports = Some(to_value(reports));
        self
    }

    /// With rows.
    pub fn rows(mut self, rows: &impl Serialize) -> Self {
        self.rows = Some(to_value(rows));
        self
    }

    /// With a summary.
    pub fn summary(mut self, summary: &impl Serialize) -> Self {
        self.summary = to_value(summary);
        self
    }

    /// With the error the command ended with.
    pub fn error(mut self, message: String, hint: Option<String>) -> Self {
        self.error = Some(Failure { message, hint });
        self
    }
}

/// A value that serializes (every type relink prints does: plain structs, maps with string keys).
fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_else(|error| Value::String(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_envelope_has_the_same_keys_and_one_of_reports_or_rows() {
        let ok = Envelope::new("0.1.0 (abc)", "audit", false)
            .rows(&vec![json!({"state": "linked"})])
            .summary(&json!({"linked": 1}));
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"version": 1, "relink": "0.1.0 (abc)", "command": "audit", "dry_run": false,
                "rows": [{"state": "linked"}], "summary": {"linked": 1}, "error": null})
        );
        let failed = Envelope::new("0.1.0 (abc)", "sweep", true)
            .error("no region".into(), Some("set AWS_REGION".into()));
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            json!({"version": 1, "relink": "0.1.0 (abc)", "command": "sweep", "dry_run": true,
                "summary": null, "error": {"message": "no region", "hint": "set AWS_REGION"}})
        );
    }
}
