//! The Lambda function: the configuration is read and checked at start-up, the AWS clients are
//! built once at the first event (from one shared SDK configuration: a cold start that polls for
//! its first event sooner, by about the time the HTTPS client's trusted certificates take to
//! load), then every invocation is answered by
//! [`edges::lambda::handle`](codedeploy_relink::edges::lambda::handle).

use codedeploy_relink::aws::Clients;
use codedeploy_relink::domain::config::Config;
use codedeploy_relink::edges::lambda;
use codedeploy_relink::usecases::invocation::Relinker;
use lambda_runtime::service_fn;

/// mimalloc in the shipped static build: musl's allocator costs CPU on every event (Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON when the function's log format is JSON; level from AWS_LAMBDA_LOG_LEVEL or RUST_LOG.
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        build = env!("RELINK_BUILD"),
        dry_run = config.dry_run,
        "codedeploy-relink starting"
    );
    let relinker = tokio::sync::OnceCell::new();
    let relinker = &relinker;
    let config = &config;
    lambda_runtime::run(service_fn(|event| async move {
        let relinker = relinker
            .get_or_init(|| async {
                let mut clients = Clients::from_env().await;
                if let Some(share) = config.elb_share {
                    clients = clients.with_elb_share(share);
                }
                Relinker::new(clients, config.clone())
            })
            .await;
        lambda::handle(relinker, event).await
    }))
    .await
}
