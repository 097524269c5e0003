//! The pure core: plain data in, plain data out — no AWS types, no I/O, no clock but what is
//! passed in. It imports nothing of the crate outside this folder, and builds without the `aws`
//! feature (as the fuzz targets do).

pub mod config;
pub mod crosscheck;
pub mod decision;
pub mod error;
pub mod event;
pub mod job;
pub mod live;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod retire;
pub mod skip;
