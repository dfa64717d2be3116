//! Shared rate-limit state (the GCRA theoretical arrival time per key).

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::rate_limit::{Quota, RateDecision, RateLimitKey};

/// Where rate-limit state lives, shared by every node that enforces the same limits.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Runs one GCRA step for `key` atomically (see `domain::rate_limit::gcra`). Stores that
    /// have their own clock (Redis) may use it instead of `now`.
    async fn check(&self, key: &RateLimitKey, quota: Quota, now: Timestamp) -> Result<RateDecision, PortError>;
}
