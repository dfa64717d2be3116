//! Readiness of the Redis adapters: a PING through the pool, and for the bus also a live
//! subscription.

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::ports::HealthCheck;

use crate::{RedisConnection, RedisEventBus, RedisPresence, RedisRateLimiter};

pub(crate) async fn ping(redis: &RedisConnection) -> Result<(), PortError> {
    let mut conn = redis.conn().await?;
    let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(|e| redis.failed(e))?;
    Ok(())
}

#[async_trait]
impl HealthCheck for RedisEventBus {
    fn component(&self) -> &'static str {
        "event_bus"
    }
    fn adapter(&self) -> &'static str {
        "redis"
    }
    async fn check(&self) -> Result<(), PortError> {
        ping(self.redis()).await?;
        if !self.is_subscribed() {
            return Err(PortError::Unavailable("not subscribed to the event channel (reconnecting)".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl HealthCheck for RedisRateLimiter {
    fn component(&self) -> &'static str {
        "rate_limiter"
    }
    fn adapter(&self) -> &'static str {
        "redis"
    }
    async fn check(&self) -> Result<(), PortError> {
        ping(self.redis()).await
    }
}

#[async_trait]
impl HealthCheck for RedisPresence {
    fn component(&self) -> &'static str {
        "presence"
    }
    fn adapter(&self) -> &'static str {
        "redis"
    }
    async fn check(&self) -> Result<(), PortError> {
        ping(self.redis()).await
    }
}
