//! codedeploy-relink gives the Auto Scaling group that a CodeDeploy blue/green deployment copied
//! (`CodeDeploy_<deploymentGroup>_<deploymentId>`) the deployment group's target groups and classic
//! load balancers, which the copy lacks — and only when that group is the fleet the load balancers
//! serve.
//!
//! # One deployment, from the Lambda entry to the attach call
//!
//! 1. [`edges::lambda::handle`] hands the payload to [`usecases::invocation::Relinker::invoke`], which decodes it ([`domain::event::decode`]) and calls
//!    [`usecases::invocation::Relinker::handle`];
//! 2. [`usecases::relink::relink`] checks the notification's region and account
//!    ([`domain::crosscheck`]), reads the deployment and decides whether it is ours to fix
//!    ([`domain::decision`]), and observes its deployment group (the fleet CodeDeploy names, its
//!    deployments of the look-back: [`usecases::relink::observe`]);
//! 3. [`usecases::relink::reconcile`] describes the groups to link and the deployment group's
//!    copies, and plans what is missing ([`domain::plan`]);
//! 4. just before the attach it reads the load balancers' traffic and the deployment group's newer
//!    deployments, applies the safety rule ([`domain::live`]: the newest fleet, never ahead of
//!    CodeDeploy, displacing nobody, or the outage repair) and attaches through
//!    [`aws::autoscaling`]; beside it, for a deployment group at rest, it reads the evidence of
//!    its copies that hold its load balancers, applies the retire rule ([`domain::retire`]: a copy
//!    of its own, not its fleet, serving nobody) and detaches;
//! 5. the job's one record ([`domain::job::Job`]), which gained what each round found and counted
//!    the rounds, becomes its report once ([`domain::job::Job::finish`]), and
//!    [`usecases::invocation::answer`] makes the response.
//!
//! # Layers, one folder each, each importing only those before it
//!
//! - [`domain`], the pure core — plain data in, plain data out, no AWS types, no I/O (built
//!   without the default `aws` feature too, as the fuzz targets do): [`domain::event`]
//!   (invocation payloads into notifications), [`domain::crosscheck`] (a notification's region,
//!   account and names against the world), [`domain::decision`] (is a deployment ours to fix, and
//!   what should it have; [`domain::skip`]: why it is left alone), [`domain::plan`] (desired against current, in attach calls of at most
//!   10), [`domain::live`] (the safety rule, and why), [`domain::job`] (one job's record, round by
//!   round), [`domain::report`] (what one notification or group came to), [`domain::retire`] (the
//!   rule that takes load balancers back from copies), [`domain::metrics`] (the embedded metric format),
//!   [`domain::config`] and [`domain::error`];
//! - [`aws`]: one adapter module per AWS service, plain functions over the SDK clients;
//! - [`usecases`]: [`usecases::relink`] (a deployment group's reconcile: the rounds of AWS calls
//!   around the core),
//!   [`usecases::sweep`] (the scheduled safety net), [`usecases::audit`] (`relink audit`),
//!   [`usecases::organization`] (the audit across accounts and regions), [`usecases::dlq`]
//!   (`relink dlq`), [`usecases::invocation`] (one invocation);
//! - [`edges`]: [`edges::lambda`] (the Lambda edge: response, errors) and [`edges::render`]
//!   (everything the `relink` CLI prints for people). The binaries, `src/main.rs` (the function)
//!   and `src/bin/relink/` (the CLI: `args`, `commands`, `hints`), are thin shells over them.

#[cfg(feature = "aws")]
pub mod aws;
pub mod domain;
#[cfg(feature = "aws")]
pub mod edges;
#[cfg(feature = "aws")]
pub mod usecases;
