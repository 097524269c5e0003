//! The Lambda function: configuration and AWS clients are built once, then every invocation
//! goes through [`Relinker::handle`].

use codedeploy_relink::aws::Clients;
use codedeploy_relink::config::Config;
use codedeploy_relink::handler::{Caller, Relinker};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON when the function's log format is JSON; level from AWS_LAMBDA_LOG_LEVEL or RUST_LOG.
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let relinker = Relinker::new(Clients::from_env().await, config);
    let relinker = &relinker;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let caller = Caller::Function(&event.context.invoked_function_arn);
        let invocation = relinker.handle(&event.payload, caller).await;
        match invocation.error {
            None => Ok(invocation.response),
            Some(error) => Err(Diagnostic {
                error_type: error.error_type().to_owned(),
                error_message: error.to_string(),
            }),
        }
    }))
    .await
}
