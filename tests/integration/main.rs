//! Integration tests, in one binary so that the test build links once.
//!
//! Through the real SDK against the emulator (`emulator`: moto, corrected; `fixtures`: helpers):
//! - `e2e`: the real binaries, the sample events of `events/`, blue/green worlds end to end;
//! - `rule`: the rule against CodeDeploy as it really runs (tests/emulator/lifecycle.py): paced
//!   rerouting, the deployments it starts by itself, rollbacks, failed newer deployments;
//! - `live`, `lifecycle`: the safety rule (the newest copy, displacing nobody, the outage repair,
//!   instance-level notifications, one group's failure confined to it) on every path;
//! - `sweep`, `audit`, `organization`: the scheduled sweep, `relink audit`, across accounts;
//! - `cli`: the `relink` CLI's errors, hints and dead-letter commands; `contract`: its account,
//!   consent, exit codes and pipes;
//! - `metrics`: the function's embedded-metric-format records;
//! - `origin`: notifications of another account or region refused before any call;
//! - `faults`: injected faults, asserted on the outcome and the requests made;
//! - `retire`: the deployment group reconciled: the two harms it repairs, and what it keeps;
//! - `load`: a 500-instance deployment and hard throttling, through the queue the template builds
//!   and warm environments of the Lambda binary (tests/emulator/load.py);
//! - `walk`: seeded stories stepped through CodeDeploy's lifecycle (tests/emulator/lifecycle.py),
//!   the rule's invariants checked after every call.
//!
//! Without AWS: `events` (every sample and invalid sample), `mocks` (forced answers and retries
//! with aws-smithy-mocks), `robustness` (oversized and hostile inputs).

mod audit;
mod cli;
mod contract;
mod e2e;
mod emulator;
mod events;
mod faults;
mod fixtures;
mod lifecycle;
mod live;
mod load;
mod metrics;
mod mocks;
mod organization;
mod origin;
mod output;
mod retire;
mod robustness;
mod rule;
mod sweep;
mod terminal;
mod walk;
