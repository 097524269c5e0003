//! The Lambda edge: the function's handler ([`handle`]) over [`Relinker::invoke`], the metrics it
//! writes to the log, and the error Lambda reports (`errorType`, `errorMessage`).

use crate::domain::metrics;
use crate::usecases::invocation::{Caller, InvocationError, Relinker, Response};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

impl From<InvocationError> for Diagnostic {
    fn from(error: InvocationError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The function's handler: one invocation, answered, and its metrics written to the log
/// ([`metrics`]).
pub async fn handle(
    relinker: &Relinker,
    event: LambdaEvent<Value>,
) -> Result<Response, InvocationError> {
    let caller = Caller::Function(&event.context.invoked_function_arn);
    let (response, error) = relinker.invoke(&event.payload, caller).await;
    let invocation = metrics::Invocation {
        sweep: response.summary.is_some(),
        invalid: matches!(error, Some(InvocationError::InvalidEvent(_))),
        timestamp_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let function = &event.context.env_config.function_name;
    for record in metrics::records(function, &response.reports, invocation) {
        println!("{record}");
    }
    match error {
        Some(error) => Err(error),
        None => Ok(response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_reports_the_error_type_and_the_whole_message() {
        let error = InvocationError::RecordsFailed {
            total: 2,
            failures: vec!["Records[1]: boom".into()],
            retryable: true,
        };
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "Relink.Retryable");
        assert_eq!(
            diagnostic.error_message,
            "1 of 2 record(s) failed: Records[1]: boom"
        );
    }
}
