//! `chat-redis`: what several `chat-server` nodes share through Redis so that they act as
//! one server: the event bus (pub/sub), presence (sessions with TTLs), rate limits (GCRA in
//! one Lua script on Redis time) and a read-through profile cache.
//!
//! Commands go through a small bb8 pool of multiplexed connections; the pub/sub subscriber
//! has a dedicated connection that reconnects and resubscribes by itself.

mod bus;
mod cache;
mod error;
mod health;
mod presence;
mod rate_limit;

#[cfg(feature = "testing")]
pub mod testing;

use bb8_redis::RedisConnectionManager;
use chat_core::domain::error::RepoError;

pub use bus::RedisEventBus;
pub use cache::CachedUsers;
pub use presence::RedisPresence;
pub use rate_limit::RedisRateLimiter;

pub(crate) type Pool = bb8::Pool<RedisConnectionManager>;

/// A connection to Redis shared by the adapters: the command pool, the client (for the
/// subscriber's own connection) and the prefix of every key and channel.
#[derive(Clone)]
pub struct RedisConnection {
    pub(crate) pool: Pool,
    pub(crate) client: redis::Client,
    pub(crate) prefix: String,
}

impl RedisConnection {
    /// Builds the pool (connections open lazily). `prefix` namespaces every key and
    /// channel, e.g. `chat:`; tests use a fresh one per run.
    pub async fn connect(url: &str, prefix: &str, pool_size: u32) -> Result<RedisConnection, RepoError> {
        let client = redis::Client::open(url).map_err(|e| RepoError::Unavailable(format!("REDIS_URL: {e}")))?;
        let manager =
            RedisConnectionManager::new(url).map_err(|e| RepoError::Unavailable(format!("REDIS_URL: {e}")))?;
        let pool = bb8::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(std::time::Duration::from_secs(2))
            .build(manager)
            .await
            .map_err(|e| RepoError::Unavailable(format!("redis pool: {e}")))?;
        Ok(RedisConnection { pool, client, prefix: prefix.to_owned() })
    }

    /// A handle on one of the pool's connections. The connections are multiplexed: the
    /// handle is a clone and the pool slot is given back at once, so any number of commands
    /// pipeline over a few sockets instead of queueing for exclusive checkouts (which, at
    /// thousands of socket connects a second, timed out). The pool still checks a connection
    /// with PING when handing it out and replaces broken ones.
    pub(crate) async fn conn(&self) -> Result<redis::aio::MultiplexedConnection, RepoError> {
        let pooled = self.pool.get().await.map_err(error::from_pool)?;
        Ok(pooled.clone())
    }

    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}
