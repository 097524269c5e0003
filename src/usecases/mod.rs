//! The use cases: the rounds of AWS calls around the core, one module per job a user asks for.
//! They import the core ([`crate::domain`]) and the adapters ([`crate::aws`]), and each other
//! only through a use case's public function; never an edge or a wire format.

pub mod audit;
pub mod dlq;
pub mod invocation;
#[cfg(feature = "cli")]
pub mod organization;
pub mod relink;
pub mod sweep;
