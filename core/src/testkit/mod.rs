//! Helpers for adapter and end-to-end tests (feature `testkit`): a hand-moved clock and the
//! port contract suite that every store adapter must pass.

mod clock;
pub mod contract;
pub mod presence;
pub mod rate_limit;
pub mod social;

pub use clock::ManualClock;
