//! Real time and time-ordered ids.

use chat_core::domain::Timestamp;
use chat_core::ports::{Clock, IdGen};

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // Postgres keeps microseconds: a finer time would make the value returned by a write
        // differ from the same value read back later.
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)
    }
}

/// UUIDv7: time-ordered, so ids sort by creation and index well.
pub struct UuidV7Ids;

impl IdGen for UuidV7Ids {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}
