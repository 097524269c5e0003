//! Integration tests, in one binary so that the test build links once:
//! - `events`: every sample in `events/` and `events/invalid/`;
//! - `mocks`: forced AWS answers with aws-smithy-mocks;
//! - `e2e`: the real `relink` binary against the moto emulator.

mod audit;
mod cli;
mod e2e;
mod emulator;
mod events;
mod faults;
mod fixtures;
mod lifecycle;
mod live;
mod metrics;
mod mocks;
mod organization;
mod origin;
mod robustness;
mod sweep;
