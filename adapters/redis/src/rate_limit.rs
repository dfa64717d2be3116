//! `RateLimitStore` on Redis: the GCRA step of `chat_core::domain::rate_limit::gcra` as one
//! Lua script, atomic and on Redis's own clock, so a user's limit holds across all nodes.

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::rate_limit::{Quota, RateDecision, RateLimitKey};
use chat_core::ports::RateLimitStore;
use redis::Script;

use crate::RedisConnection;

/// Returns 0 when allowed (and stores the new arrival time), else the wait in ms.
const GCRA: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local tolerance = interval * (burst - 1)
if tat - now > tolerance then
  return math.max(1, tat - now - tolerance)
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
";

pub struct RedisRateLimiter {
    redis: RedisConnection,
    script: Script,
}

impl RedisRateLimiter {
    pub fn new(redis: RedisConnection) -> Self {
        RedisRateLimiter { redis, script: Script::new(GCRA) }
    }

    pub(crate) fn redis(&self) -> &RedisConnection {
        &self.redis
    }
}

#[async_trait]
impl RateLimitStore for RedisRateLimiter {
    /// `now` is ignored: every node must agree on time, so Redis's clock decides.
    async fn check(&self, key: &RateLimitKey, quota: Quota, _now: Timestamp) -> Result<RateDecision, PortError> {
        let mut conn = self.redis.conn().await?;
        let wait: u64 = self
            .script
            .key(self.redis.key(&format!("rl:{key}")))
            .arg(quota.interval_ms)
            .arg(quota.burst)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(if wait == 0 { RateDecision::Allowed } else { RateDecision::Limited { retry_after_ms: wait } })
    }
}
