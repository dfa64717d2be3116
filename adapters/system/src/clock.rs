//! Real time and time-ordered ids.

use chat_core::domain::Timestamp;
use chat_core::ports::{Clock, IdGen};

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// UUIDv7: time-ordered, so ids sort by creation and index well.
pub struct UuidV7Ids;

impl IdGen for UuidV7Ids {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}
