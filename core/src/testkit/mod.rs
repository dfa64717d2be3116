//! Helpers for adapter and end-to-end tests (feature `testkit`): a hand-moved clock, and the
//! port contract suites that every adapter of a port must pass.
//!
//! Each suite is a set of check functions, one behaviour each, taking the adapter as a trait
//! object. An adapter's test file runs them with the suite's macro, which declares one test
//! per check (see `macros.rs`): [`store_contract_tests!`], [`user_repo_contract_tests!`],
//! [`social_contract_tests!`], [`device_repo_contract_tests!`], [`presence_contract_tests!`],
//! [`rate_limit_contract_tests!`], [`call_store_contract_tests!`], [`node_registry_contract_tests!`] and
//! [`event_bus_contract_tests!`].

pub mod blobs;
pub mod calls;
pub mod claims;
mod clock;
pub mod contract;
pub mod conversations;
pub mod devices;
pub mod events;
pub mod jobs;
mod macros;
pub mod media;
pub mod nodes;
pub mod presence;
pub mod rate_limit;
pub mod search;
pub mod sessions;
pub mod social;
pub mod users;
mod wait;

pub use clock::ManualClock;

pub use crate::{
    blob_store_contract_tests, call_store_contract_tests, claim_store_contract_tests, device_repo_contract_tests,
    event_bus_contract_tests, job_queue_contract_tests, media_repo_contract_tests, message_search_contract_tests,
    node_registry_contract_tests, presence_contract_tests, rate_limit_contract_tests, social_contract_tests,
    store_contract_tests, strict_multipart_contract_tests, user_repo_contract_tests,
};
