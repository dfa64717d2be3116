//! A clock that tests move by hand.

use std::sync::{Mutex, PoisonError};

use crate::domain::{Duration, Timestamp};
use crate::ports::Clock;

/// A clock that stands still until a test advances it.
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// Starts at `start`, cut to microseconds like every clock (see `Clock`).
    pub fn new(start: Timestamp) -> Self {
        use chrono::SubsecRound as _;
        ManualClock { now: Mutex::new(start.trunc_subsecs(6)) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
