//! codedeploy-relink re-attaches a CodeDeploy blue/green deployment group's load balancers to the
//! Auto Scaling group that CodeDeploy copied for the deployment.
//!
//! The crate is a pure core with thin edges:
//!
//! - [`event`] turns an invocation payload (SNS, SQS, EventBridge or a direct call) into
//!   notifications, without I/O;
//! - [`decision`] decides from the deployment as the CodeDeploy API reports it whether the
//!   deployment is ours to fix, and [`plan`] computes what is missing; both are plain data in,
//!   plain data out;
//! - [`aws`] holds one adapter module per AWS service;
//! - [`relink`] runs the three rounds of AWS calls for one deployment and [`handler`] processes a
//!   whole invocation; the Lambda binary and the `relink` CLI are thin shells over [`handler`].

#[cfg(feature = "aws")]
pub mod audit;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod crosscheck;
pub mod decision;
pub mod error;
pub mod event;
#[cfg(feature = "aws")]
pub mod invocation;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod live;
pub mod plan;
#[cfg(feature = "aws")]
pub mod relink;
#[cfg(feature = "aws")]
pub mod render;
pub mod report;
#[cfg(feature = "aws")]
pub mod sweep;
