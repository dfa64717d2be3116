//! `RateLimitStore` in memory: one GCRA arrival time per key.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::rate_limit::{Quota, RateDecision, RateLimitKey, gcra};
use chat_core::ports::RateLimitStore;
use parking_lot::Mutex;

/// How many checks pass between sweeps of keys whose arrival time is in the past (such a
/// key behaves exactly like an absent one, so dropping it changes nothing).
const SWEEP_EVERY: u64 = 10_000;

#[derive(Default)]
pub struct MemoryRateLimiter {
    state: Mutex<Limits>,
}

#[derive(Default)]
struct Limits {
    tat_by_key: HashMap<String, i64>,
    checks: u64,
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        MemoryRateLimiter::default()
    }
}

#[async_trait]
impl RateLimitStore for MemoryRateLimiter {
    async fn check(&self, key: &RateLimitKey, quota: Quota, now: Timestamp) -> Result<RateDecision, PortError> {
        let now_ms = now.timestamp_millis();
        let mut state = self.state.lock();
        state.checks += 1;
        if state.checks.is_multiple_of(SWEEP_EVERY) {
            state.tat_by_key.retain(|_, tat| *tat > now_ms);
        }
        let (decision, tat) = gcra(state.tat_by_key.get(key.as_str()).copied(), now_ms, quota);
        if let Some(tat) = tat {
            state.tat_by_key.insert(key.as_str().to_owned(), tat);
        }
        Ok(decision)
    }
}
