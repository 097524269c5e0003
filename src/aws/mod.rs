//! AWS adapters: one module per service, plain functions over the SDK clients. They translate
//! between SDK types and the plain data of [`crate::decision`] and [`crate::plan`].

pub mod autoscaling;
pub mod codedeploy;
pub mod elb;
pub mod elbv2;
pub mod sts;

use crate::error::AwsError;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_codedeploy::config::http::HttpResponse;
use aws_sdk_codedeploy::config::SharedHttpClient;
use aws_sdk_codedeploy::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_http_client::tls;
use std::time::Duration;

/// Longest wait for one attempt of an AWS call; the SDK retries after it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for an AWS call, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The most calls of one kind in flight at once, so that large audits and sweeps do not trip
/// throttling.
pub const MAX_CONCURRENT_CALLS: usize = 8;

/// The AWS clients, built once per process and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The region every client calls (`None` when no region is configured).
    pub region: Option<String>,
    /// CodeDeploy: reads deployments.
    pub codedeploy: aws_sdk_codedeploy::Client,
    /// Auto Scaling: reads and attaches to groups.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Elastic Load Balancing v2: resolves target group names, reads target health.
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// Classic Elastic Load Balancing: reads instance health.
    pub elb: aws_sdk_elasticloadbalancing::Client,
    /// STS: the caller's account, when the CLI must check a notification's account.
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    /// Loads the standard AWS configuration (region, credentials, `AWS_ENDPOINT_URL`,
    /// `AWS_MAX_ATTEMPTS`, …) with this crate's HTTPS client and timeouts, and builds the clients.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .load()
            .await;
        Self::new(&config)
    }

    /// Builds the clients from an already loaded configuration.
    pub fn new(config: &SdkConfig) -> Self {
        Clients {
            region: config.region().map(ToString::to_string),
            codedeploy: aws_sdk_codedeploy::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
        }
    }
}

/// The HTTPS client every AWS client uses: rustls with the ring crypto provider and the
/// platform's trusted certificates.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Error codes after which a later retry may succeed.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "InternalServiceError",
    "ResourceContention",
];

/// Every item of a paginated call (`….into_paginator().items().send()`), or the first error as an
/// [`AwsError`] naming the operation and what it was about.
pub(crate) async fn all_items<T, E>(
    items: PaginationStream<Result<T, SdkError<E, HttpResponse>>>,
    operation: &'static str,
    resource: impl FnOnce() -> String,
) -> Result<Vec<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    items
        .try_collect()
        .await
        .map_err(|err| aws_error(operation, resource(), err))
}

/// Turns an SDK error into an [`AwsError`] naming the operation and the resource.
pub(crate) fn aws_error<E>(
    operation: &'static str,
    resource: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let resource = resource.into();
    let (code, message, retryable) = match &err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let service = context.err();
            let code = service
                .code()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}"));
            let retryable = status >= 500 || RETRYABLE_CODES.contains(&code.as_str());
            let message = service
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
            (code, message, retryable)
        }
        SdkError::TimeoutError(_) => (
            "Timeout".to_owned(),
            format!(
                "no answer within the configured timeout: {}",
                DisplayErrorContext(&err)
            ),
            true,
        ),
        SdkError::DispatchFailure(_) => (
            "DispatchFailure".to_owned(),
            DisplayErrorContext(&err).to_string(),
            true,
        ),
        SdkError::ResponseError(_) => (
            "ResponseError".to_owned(),
            DisplayErrorContext(&err).to_string(),
            true,
        ),
        _ => (
            "ClientError".to_owned(),
            DisplayErrorContext(&err).to_string(),
            false,
        ),
    };
    AwsError {
        operation,
        resource,
        code,
        message,
        retryable,
    }
}
