//! Time and identifiers, as ports so that tests control them.

use crate::domain::Timestamp;

#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Makes new UUIDs (v7 in production, so ids sort by creation time).
#[cfg_attr(test, mockall::automock)]
pub trait IdGen: Send + Sync {
    fn new_id(&self) -> uuid::Uuid;
}
