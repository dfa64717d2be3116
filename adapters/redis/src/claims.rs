//! `ClaimStore` on Redis: one `SET NX PX` per claim, so one caller across all nodes wins it
//! and Redis drops it when it lapses.

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::ports::{ClaimKey, ClaimStore};

use crate::RedisConnection;

pub struct RedisClaims {
    redis: RedisConnection,
}

impl RedisClaims {
    pub fn new(redis: RedisConnection) -> Self {
        RedisClaims { redis }
    }
}

#[async_trait]
impl ClaimStore for RedisClaims {
    /// The claim lasts `until - now` on Redis's clock: the caller's clock only measures how
    /// long, so nodes whose clocks disagree with Redis's still hold a claim for as long as
    /// they asked. A claim whose `until` has passed lasts the shortest time Redis keeps a
    /// key (1 ms) rather than being refused.
    async fn claim(&self, key: &ClaimKey, until: Timestamp, now: Timestamp) -> Result<bool, PortError> {
        let lasting_ms = (until - now).num_milliseconds().max(1);
        let mut conn = self.redis.conn().await?;
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.redis.key(&format!("claim:{}", key.as_str())))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(lasting_ms)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(reply.is_some())
    }
}
