//! The edges: what the outside world sees. [`lambda`] is the Lambda runtime's side (the handler,
//! the error types Lambda reports); [`render`] is everything the `relink` CLI prints for people,
//! [`envelope`] the one shape of what it prints for machines (`--json`).
//! They may import any layer below; nothing below imports them.

#[cfg(feature = "cli")]
pub mod envelope;
pub mod lambda;
#[cfg(feature = "cli")]
pub mod render;
