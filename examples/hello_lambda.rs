//! A `lambda_runtime` hello-world, as `cargo lambda new` makes one: the baseline `scripts/bench
//! lambda` compares the function's cold start with (same crate versions, same release profile).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
