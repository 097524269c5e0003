//! AWS adapters: one module per service, plain functions over the SDK clients, and the one place
//! clients are made. They translate between SDK types and the plain data of [`crate::domain`];
//! they import the core only, never a use case or an edge.

#[cfg(feature = "cli")]
pub mod account;
pub mod autoscaling;
pub mod codedeploy;
pub mod elb;
pub mod elbv2;
#[cfg(feature = "cli")]
pub mod organizations;
pub mod pace;
pub mod sqs;
pub mod sts;

use crate::domain::config::ElbShare;
use crate::domain::error::AwsError;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_codedeploy::config::http::HttpResponse;
use aws_sdk_codedeploy::config::SharedHttpClient;
use aws_sdk_codedeploy::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_http_client::tls;
use std::time::Duration;

/// Longest wait for one attempt of an AWS call; the SDK retries after it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for an AWS call, retries included: what bounds a throttled call's back-offs.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts per AWS call when neither `AWS_RETRY_MODE` nor `AWS_MAX_ATTEMPTS` says otherwise: a
/// throttled call backs off up to 1, 2, 4, 8, 16 and then 20 s (jittered), so that it keeps trying
/// until [`OPERATION_TIMEOUT`] rather than give up after half a minute of a budget that refills.
/// Six attempts failed one call in a full test run with every budget at 2 tokens refilled at 0.5 a
/// second (tests/integration/load.rs).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

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
    /// SQS: the dead-letter queue, for `relink dlq`.
    pub sqs: aws_sdk_sqs::Client,
    /// Awaited beside the evidence of every group that misses something (so before any attach,
    /// and never between the evidence and the attach): the CLI names the account and region a
    /// change would go to, once. None in the function.
    pub before_change: Option<BeforeChange>,
    /// The credentials' account once asked ([`Clients::caller_account`]), shared by the clones;
    /// empty at first (`Default::default()`).
    pub account: std::sync::Arc<tokio::sync::OnceCell<String>>,
    /// Target group ARNs this process resolved ([`elbv2::resolve_known`]), shared by the clones.
    pub target_groups: std::sync::Arc<elbv2::KnownArns>,
    /// The pace of every Elastic Load Balancing v2 read, shared by the clones.
    pub elbv2_pace: std::sync::Arc<pace::Pace>,
    /// The pace of every classic Elastic Load Balancing read, shared by the clones.
    pub elb_pace: std::sync::Arc<pace::Pace>,
}

/// What to do where a change may follow (its argument: whether it is a dry run), shared by every
/// job.
#[derive(Clone)]
pub struct BeforeChange(
    std::sync::Arc<dyn Fn(bool) -> futures::future::BoxFuture<'static, ()> + Send + Sync>,
);

impl BeforeChange {
    /// Wraps `hook`.
    pub fn new(
        hook: impl Fn(bool) -> futures::future::BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        BeforeChange(std::sync::Arc::new(hook))
    }

    /// Runs the hook.
    pub async fn call(&self, dry_run: bool) {
        (self.0)(dry_run).await
    }
}

impl std::fmt::Debug for BeforeChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BeforeChange")
    }
}

impl Clients {
    /// Loads the standard AWS configuration (region, credentials, `AWS_ENDPOINT_URL`,
    /// `AWS_MAX_ATTEMPTS`, …) with this crate's HTTPS client and timeouts, and builds the clients.
    pub async fn from_env() -> Self {
        Self::from_env_with(None, None).await
    }

    /// [`Clients::from_env`], with the region and the profile given when they are (the CLI's
    /// `--region` and `--profile`).
    pub async fn from_env_with(region: Option<&str>, profile: Option<&str>) -> Self {
        Self::new(&load_config(region, profile).await)
    }

    /// Builds the clients from an already loaded configuration, reading Elastic Load Balancing
    /// within the function's share ([`ElbShare::FUNCTION`]).
    pub fn new(config: &SdkConfig) -> Self {
        Clients {
            region: config.region().map(ToString::to_string),
            codedeploy: aws_sdk_codedeploy::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            before_change: None,
            account: Default::default(),
            target_groups: Default::default(),
            elbv2_pace: std::sync::Arc::new(pace::Pace::new(ElbShare::FUNCTION)),
            elb_pace: std::sync::Arc::new(pace::Pace::new(ElbShare::FUNCTION)),
        }
    }

    /// These clients reading Elastic Load Balancing within `share` (each API its own).
    pub fn with_elb_share(mut self, share: ElbShare) -> Self {
        self.elbv2_pace = std::sync::Arc::new(pace::Pace::new(share));
        self.elb_pace = std::sync::Arc::new(pace::Pace::new(share));
        self
    }
}

impl Clients {
    /// The account of the credentials in use (STS `GetCallerIdentity`), asked once for these
    /// clients and their clones.
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        self.account
            .get_or_try_init(|| sts::caller_account(&self.sts))
            .await
            .cloned()
    }

    /// The clients of `config` acting in `region` (an account × region pair of the organization
    /// audit).
    pub fn in_region(config: &SdkConfig, region: &str) -> Self {
        Self::new(
            &config
                .to_builder()
                .region(aws_config::Region::new(region.to_owned()))
                .build(),
        )
    }
}

/// The STS client of a configuration (the organization audit's `AssumeRole` and caller account).
pub fn sts_client(config: &SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(config)
}

/// The Organizations client of a configuration (`ListAccounts`).
#[cfg(feature = "cli")]
pub fn organizations_client(config: &SdkConfig) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(config)
}

/// The Account client of a configuration (`ListRegions` of the account it acts in).
#[cfg(feature = "cli")]
pub fn account_client(config: &SdkConfig) -> aws_sdk_account::Client {
    aws_sdk_account::Client::new(config)
}

/// The standard AWS configuration (region, credentials, `AWS_ENDPOINT_URL`, `AWS_MAX_ATTEMPTS`,
/// …) with this crate's HTTPS client and timeouts; the region and the profile given when they are.
pub async fn load_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(profile) = profile {
        // As with the AWS CLI, a profile named on the command line wins over keys in the
        // environment, which the default chain would read first.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .configure(
                &aws_config::provider_config::ProviderConfig::without_region()
                    .with_http_client(https_client()),
            )
            .profile_name(profile)
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
    }
    if std::env::var_os("AWS_RETRY_MODE").is_none()
        && std::env::var_os("AWS_MAX_ATTEMPTS").is_none()
    {
        loader = loader.retry_config(default_retry());
    }
    loader
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// The SDK's standard retry mode with [`DEFAULT_MAX_ATTEMPTS`]: jittered exponential back-off
/// (up to 20 s) after throttling and transient errors. Not the adaptive mode: its client-side rate,
/// measured on the few requests one invocation sends, fell so low after a single throttled answer
/// that it held the next call past the operation timeout (tests/integration/load.rs).
pub fn default_retry() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS)
}

/// `base` acting with other credentials (a role assumed in another account); the region, the
/// HTTPS client and the timeouts stay.
pub fn with_credentials(
    base: &SdkConfig,
    credentials: aws_credential_types::Credentials,
) -> SdkConfig {
    base.to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .build()
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

/// Turns an SDK error into an [`AwsError`] naming the operation and the resource. The message is
/// AWS's own, or the root cause of a failure to send (the whole chain is logged at debug level);
/// failures that no retry can mend get codes of their own: `NoCredentials`, `NoRegion`.
pub(crate) fn aws_error<E>(
    operation: &'static str,
    resource: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let resource = resource.into();
    tracing::debug!(operation, resource = %resource, error = %DisplayErrorContext(&err), "AWS call failed");
    // No region: the SDK says "Missing Region" when it resolves the endpoint, and "missing
    // signing region" when an endpoint is given (AWS_ENDPOINT_URL) but no region.
    let root = root_cause(&err).to_ascii_lowercase();
    let no_region = root.contains("missing region") || root.contains("missing signing region");
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
                .unwrap_or_else(|| root_cause(&err));
            (code, message, retryable)
        }
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), root_cause(&err), true),
        _ if caused_by::<CredentialsError>(&err) => (
            "NoCredentials".to_owned(),
            "no AWS credentials were found (environment, profile, web identity, container and instance metadata were tried)".to_owned(),
            false,
        ),
        _ if no_region => (
            "NoRegion".to_owned(),
            "no AWS region is configured".to_owned(),
            false,
        ),
        SdkError::DispatchFailure(failure) if failure.is_io() => (
            "EndpointUnreachable".to_owned(),
            format!("could not reach the AWS endpoint: {}", root_cause(&err)),
            true,
        ),
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), root_cause(&err), true),
        SdkError::ResponseError(_) => ("ResponseError".to_owned(), root_cause(&err), true),
        _ => ("ClientError".to_owned(), root_cause(&err), false),
    };
    AwsError {
        operation,
        resource,
        code,
        message,
        retryable,
    }
}

/// Whether some error in the chain of `err` is a `T`.
fn caused_by<T: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(error) = next {
        if error.is::<T>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// The last error of the chain: what actually went wrong, without the SDK's wrappers.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(source) = last.source() {
        last = source;
    }
    last.to_string()
}
