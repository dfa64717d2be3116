//! Use cases: everything a user can do, as functions over [`Deps`].
//!
//! Handlers in adapters only turn a request into a call here and the result into a response.

mod access;
pub mod auth;
pub mod calls;
pub mod conversations;
mod deps;
pub mod devices;
pub mod discovery;
pub mod errors;
pub mod media;
pub mod messages;
#[cfg(test)]
mod mock_deps;
pub mod nodes;
#[cfg(test)]
mod nodes_tests;
pub mod presence;
pub mod profile;
pub mod push;
pub mod receipts;
pub mod search;
pub mod signaling;
pub mod social;
pub mod sync;
#[cfg(test)]
mod tests;

pub use deps::{Actor, Deps, Limits};
