//! `ClaimStore` in memory: when each claim lapses, judged by the `now` the caller gives.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::ports::{ClaimKey, ClaimStore};
use parking_lot::Mutex;

/// How many claims pass between sweeps of lapsed ones (a lapsed claim behaves exactly like
/// an absent one, so dropping it changes nothing).
const SWEEP_EVERY: u64 = 10_000;

/// Claims for one process (embedded mode: one node, so one process is everyone).
#[derive(Default)]
pub struct MemoryClaims {
    state: Mutex<Claims>,
}

#[derive(Default)]
struct Claims {
    until_by_key: HashMap<String, Timestamp>,
    claims: u64,
}

impl MemoryClaims {
    pub fn new() -> Self {
        MemoryClaims::default()
    }
}

#[async_trait]
impl ClaimStore for MemoryClaims {
    async fn claim(&self, key: &ClaimKey, until: Timestamp, now: Timestamp) -> Result<bool, PortError> {
        let mut state = self.state.lock();
        state.claims += 1;
        if state.claims.is_multiple_of(SWEEP_EVERY) {
            state.until_by_key.retain(|_, held_until| *held_until > now);
        }
        if state.until_by_key.get(key.as_str()).is_some_and(|held_until| *held_until > now) {
            return Ok(false);
        }
        state.until_by_key.insert(key.as_str().to_owned(), until);
        Ok(true)
    }
}
