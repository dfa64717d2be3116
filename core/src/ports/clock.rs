//! Time and identifiers, as ports so that tests control them.

use crate::domain::Timestamp;

/// The current time, at microsecond precision: that is what stores keep, and a finer time
/// would make the value a write returns differ from the same value read back.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// Makes new UUIDs (v7 in production, so ids sort by creation time).
#[cfg_attr(test, mockall::automock)]
pub trait IdGen: Send + Sync {
    /// A new, unique UUID.
    fn new_id(&self) -> uuid::Uuid;
}
