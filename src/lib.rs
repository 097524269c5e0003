//! codedeploy-relink gives the Auto Scaling group that a CodeDeploy blue/green deployment copied
//! (`CodeDeploy_<deploymentGroup>_<deploymentId>`) the deployment group's target groups and classic
//! load balancers, which the copy lacks — and only when that group is the fleet the load balancers
//! serve.
//!
//! # One deployment, from the Lambda entry to the attach call
//!
//! 1. [`lambda::handle`] decodes the payload ([`event::decode`]) and calls [`invocation::Relinker::handle`];
//! 2. [`relink::relink`] checks the notification's region and account ([`crosscheck`]), reads the deployment and decides whether it is ours to fix ([`decision`]);
//! 3. [`relink::link`] describes the replacement group and plans what is missing ([`plan`]);
//! 4. just before the attach it reads the load balancers' traffic and the deployment group's newer
//!    deployments, applies the safety rule ([`live`]: the newest copy, displacing nobody, or the
//!    outage repair) and attaches through [`aws::autoscaling`];
//! 5. [`report::Attempt::new`] records the outcome once, and [`lambda::answer`] makes the response.
//!
//! # Modules
//!
//! The pure core — plain data in, plain data out, no AWS types, no I/O (and all that is built
//! without the default `aws` feature, as the fuzz targets do):
//! - [`event`]: invocation payloads (SNS, SQS, EventBridge, direct, scheduled) into notifications;
//! - [`crosscheck`]: whether a notification's region, account and names agree with the world;
//! - [`decision`]: whether a deployment or deployment group is ours to fix, and what it should have;
//! - [`plan`]: desired against current attachments, in attach calls of at most 10;
//! - [`live`]: the safety rule (the newest copy; attaching displaces nobody; the outage repair),
//!   and why;
//! - [`report`]: the record of one notification or group, built once;
//! - [`metrics`]: the CloudWatch metrics of an invocation, in the embedded metric format;
//! - [`config`]: the `RELINK_*` configuration; [`error`]: the typed errors.
//!
//! The edges:
//! - [`aws`]: one adapter module per AWS service, plain functions over the SDK clients;
//! - [`relink`]: the rounds of AWS calls around the core, for any number of jobs;
//! - [`sweep`]: the scheduled safety net; [`audit`]: `relink audit`; [`organization`]: the audit
//!   across accounts and regions; [`dlq`]: `relink dlq`;
//! - [`invocation`]: one invocation's use case; [`lambda`]: the Lambda edge (response, errors);
//! - [`render`]: everything the `relink` CLI prints for people.

#[cfg(feature = "aws")]
pub mod audit;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod crosscheck;
pub mod decision;
#[cfg(feature = "aws")]
pub mod dlq;
pub mod error;
pub mod event;
#[cfg(feature = "aws")]
pub mod invocation;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod live;
pub mod metrics;
#[cfg(feature = "aws")]
pub mod organization;
pub mod plan;
#[cfg(feature = "aws")]
pub mod relink;
#[cfg(feature = "aws")]
pub mod render;
pub mod report;
#[cfg(feature = "aws")]
pub mod sweep;
