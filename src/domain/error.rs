//! Typed errors of the library. Every message names the deployment, group or resource it is about.

use thiserror::Error;

/// A configuration variable with a value the function cannot use.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("invalid {variable}={value:?}: expected {expected}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// The value it had.
    pub value: String,
    /// What it should have been.
    pub expected: String,
}

/// An input the function cannot read: where in the event, why, and a short excerpt of it.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{location}: {reason}; received: {excerpt}")]
pub struct InputError {
    /// Where in the event the problem is, e.g. `Records[1].Sns.Message`.
    pub location: String,
    /// What is wrong with it.
    pub reason: String,
    /// The beginning of what was received, with control characters escaped.
    pub excerpt: String,
}

impl InputError {
    /// Builds an error about `received` at `location`.
    pub fn new(location: impl Into<String>, reason: impl Into<String>, received: &str) -> Self {
        InputError {
            location: location.into(),
            reason: reason.into(),
            excerpt: excerpt(received),
        }
    }
}

/// The beginning of `text`, control characters escaped, at most [`EXCERPT_CHARS`]
/// characters (and `…` when cut), so that an error can quote input of any size safely.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in text.chars() {
        // Control characters escaped (a log line stays one line); quotes kept as they are, for
        // people to read.
        let escaped = match c.is_control() {
            true => c.escape_debug().to_string(),
            false => c.to_string(),
        };
        let width = escaped.chars().count();
        if count + width > EXCERPT_CHARS {
            out.push('…');
            break;
        }
        out.push_str(&escaped);
        count += width;
    }
    out
}

/// The most characters an error quotes of its input (before the closing `…`).
pub const EXCERPT_CHARS: usize = 160;

/// A failed AWS call, as an adapter reports it (after the SDK's own retries).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{operation} for {resource} failed: {code}: {message}")]
pub struct AwsError {
    /// The API operation, e.g. `AttachLoadBalancerTargetGroups`.
    pub operation: &'static str,
    /// What the call was about, e.g. the Auto Scaling group's name.
    pub resource: String,
    /// The AWS error code (`AccessDenied`, `Throttling`, …), or the kind of transport failure.
    pub code: String,
    /// AWS's message, or the transport error's description.
    pub message: String,
    /// Whether a later retry may succeed (throttling, server errors, timeouts, transport failures).
    pub retryable: bool,
}

/// Why one deployment (or, in an audit, one deployment group's Auto Scaling group) could not be
/// relinked. `subject` names it: `deployment d-…` or `deployment group app/group`.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum RelinkError {
    /// An AWS call failed.
    #[error("{subject}: {error}")]
    Aws {
        /// What was being relinked.
        subject: String,
        /// The failed call.
        error: AwsError,
    },
    /// Target group names in the deployment group's `loadBalancerInfo` that do not resolve.
    #[error(
        "{subject}: target group(s) {} listed in the load balancer info of deployment group {application}/{deployment_group} were not found by DescribeTargetGroups",
        names.join(", ")
    )]
    TargetGroupsNotFound {
        /// What was being relinked.
        subject: String,
        /// Its application.
        application: String,
        /// Its deployment group.
        deployment_group: String,
        /// The names that did not resolve.
        names: Vec<String>,
    },
    /// A record of the event that is not a notification the function can read.
    #[error("{0}")]
    InvalidMessage(InputError),
    /// The notification is about another region or account than the function's.
    #[error("{subject}: {error}")]
    Foreign {
        /// The deployment the notification names.
        subject: String,
        /// Which region or account, and the function's own.
        error: OriginError,
    },
    /// Some attach calls failed; the others may have succeeded (the report says which).
    #[error(
        "{subject}: attaching to {group} failed: {}",
        failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Attach {
        /// What was being relinked.
        subject: String,
        /// The replacement Auto Scaling group.
        group: String,
        /// Each failed call.
        failures: Vec<AwsError>,
    },
    /// Some detach calls of a copy's retirement failed; the others may have succeeded (the
    /// report's retirements say which).
    #[error(
        "{subject}: retiring {group} (detaching the load balancers of deployment group {deployment_group}) failed: {}",
        failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Detach {
        /// What was being reconciled.
        subject: String,
        /// The deployment group, `application/group`.
        deployment_group: String,
        /// The copy.
        group: String,
        /// Each failed call.
        failures: Vec<AwsError>,
    },
    /// A job that no round ended: a bug in the rounds, never expected; reported (and retried)
    /// rather than a panic.
    #[error("{subject}: no round ended this job (it was still {step}); a bug, retried")]
    Unfinished {
        /// What was being relinked.
        subject: String,
        /// Where it stood.
        step: &'static str,
    },
}

impl RelinkError {
    /// Whether retrying the whole deployment later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            RelinkError::Aws { error, .. } => error.retryable,
            RelinkError::TargetGroupsNotFound { .. }
            | RelinkError::Foreign { .. }
            | RelinkError::InvalidMessage(_) => false,
            RelinkError::Attach { failures, .. } | RelinkError::Detach { failures, .. } => {
                failures.iter().any(|f| f.retryable)
            }
            RelinkError::Unfinished { .. } => true,
        }
    }

    /// The AWS operation that failed, when an AWS call is behind the failure.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            RelinkError::Aws { error, .. } => Some(error.operation),
            RelinkError::Attach { failures, .. } | RelinkError::Detach { failures, .. } => {
                failures.first().map(|f| f.operation)
            }
            RelinkError::TargetGroupsNotFound { .. }
            | RelinkError::Foreign { .. }
            | RelinkError::InvalidMessage(_)
            | RelinkError::Unfinished { .. } => None,
        }
    }

    /// The AWS error code behind the failure, when there is one.
    pub fn code(&self) -> &str {
        match self {
            RelinkError::Aws { error, .. } => &error.code,
            RelinkError::TargetGroupsNotFound { .. } => "TargetGroupNotFound",
            RelinkError::Foreign { error, .. } => error.code(),
            RelinkError::InvalidMessage(_) => "InvalidMessage",
            RelinkError::Attach { failures, .. } => failures
                .first()
                .map(|f| f.code.as_str())
                .unwrap_or("AttachFailed"),
            RelinkError::Detach { failures, .. } => failures
                .first()
                .map(|f| f.code.as_str())
                .unwrap_or("DetachFailed"),
            RelinkError::Unfinished { .. } => "Unfinished",
        }
    }
}

/// A notification whose origin is not the function's own.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum OriginError {
    /// It is about another region or account.
    #[error(
        "the notification is about {what} {named} but this function acts on {what} {home}: \
         subscribe a codedeploy-relink in {what} {named} to it instead"
    )]
    Foreign {
        /// `region` or `account`.
        what: &'static str,
        /// What the notification names.
        named: String,
        /// What the function acts on.
        home: String,
    },
    /// It names an account and the function cannot tell its own.
    #[error("the notification is about account {named} and this function cannot tell its own account: {why}")]
    Unverifiable {
        /// The account the notification names.
        named: String,
        /// Why the function's account is unknown.
        why: String,
    },
}

impl OriginError {
    /// The error code in reports: `ForeignRegion`, `ForeignAccount` or `AccountUnverified`.
    pub fn code(&self) -> &'static str {
        match self {
            OriginError::Foreign { what: "region", .. } => "ForeignRegion",
            OriginError::Foreign { .. } => "ForeignAccount",
            OriginError::Unverifiable { .. } => "AccountUnverified",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_bounded_and_escaped() {
        assert_eq!(excerpt("a\u{0}b\n"), "a\\0b\\n");
        for long in [
            "x".repeat(10_000),
            "\"".repeat(10_000),
            "\u{1}".repeat(10_000),
        ] {
            let e = excerpt(&long);
            assert!(e.chars().count() <= EXCERPT_CHARS + 1, "{e}");
            assert!(e.ends_with('…'));
        }
        assert_eq!(
            excerpt(&"x".repeat(EXCERPT_CHARS)),
            "x".repeat(EXCERPT_CHARS)
        );
    }

    #[test]
    fn relink_errors_name_the_deployment_and_the_call() {
        let e = RelinkError::Aws {
            subject: "deployment d-1".into(),
            error: AwsError {
                operation: "GetDeployment",
                resource: "deployment d-1".into(),
                code: "AccessDeniedException".into(),
                message: "not authorized".into(),
                retryable: false,
            },
        };
        let text = e.to_string();
        assert!(
            text.contains("d-1") && text.contains("GetDeployment"),
            "{text}"
        );
        assert!(text.contains("AccessDeniedException"), "{text}");
        assert!(!e.is_retryable());
    }
}
