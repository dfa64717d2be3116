//! `chat-redis`: what several `chat-server` nodes share through Redis so that they act as
//! one server: the event bus (pub/sub), presence (sessions with TTLs), rate limits (GCRA in
//! one Lua script on Redis time), live calls (state, busy users, timers, the calls on each
//! node), the nodes and their heartbeats, claims (one-time upload tokens, the periodic tasks' lock),
//! the media-processing job queue (Streams, see jobs.rs) and a read-through profile cache.
//!
//! Commands go through redis's own `aio::ConnectionManager`: a multiplexed connection that
//! reconnects by itself when it breaks (a few of them, taken in turn). The pub/sub subscriber
//! has a dedicated connection that reconnects and resubscribes by itself. Why not a bb8 pool:
//! `benches/connections.rs` measured both, and docs/performance.md has the numbers.

mod bus;
mod cache;
mod calls;
mod claims;
mod error;
mod health;
mod jobs;
mod nodes;
mod presence;
mod rate_limit;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chat_core::domain::error::PortError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use bus::RedisEventBus;
pub use cache::CachedUsers;
pub use calls::RedisCallStore;
pub use claims::RedisClaims;
pub use jobs::RedisJobQueue;
pub use nodes::RedisNodes;
pub use presence::RedisPresence;
pub use rate_limit::RedisRateLimiter;

/// A connection to Redis shared by the adapters: the command connections, the client (for
/// the subscriber's own connection) and the prefix of every key and channel.
#[derive(Clone)]
pub struct RedisConnection {
    connections: Arc<[ConnectionManager]>,
    /// Which of `connections` the next command takes.
    next: Arc<AtomicUsize>,
    pub(crate) client: redis::Client,
    pub(crate) prefix: String,
}

/// How long a command waits for its reply. The redis crate's default, 500 ms, is shorter
/// than a busy node's scheduling delays: under overload commands timed out that Redis had
/// carried out, and a timed-out publish was delivered twice (by the fallback and by the
/// subscriber).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// How a command connection reconnects. A command that finds its connection broken fails
/// and starts a reconnection; commands meanwhile wait for it: one attempt and one retry,
/// each given [`CONNECT_TIMEOUT`], 50 to 500 ms apart. So while Redis is down a command
/// fails within 1.5 s at worst (within about 100 ms when the connection is refused), rather
/// than holding its caller (a message send's publish, a login's rate limit) for longer; the
/// outage policies act on the failure.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_RETRIES: usize = 1;

/// The reply timeout and reconnection policy of every command connection (see the constants
/// above); public so the connections benchmark measures exactly what the adapter runs.
pub fn command_connection_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(CONNECT_RETRIES)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
}

impl RedisConnection {
    /// Prepares `connections` multiplexed command connections (opened lazily, on the first
    /// command). `prefix` namespaces every key and channel, e.g. `chat:`; tests use a fresh
    /// one per run. Fails only on a malformed URL.
    pub async fn connect(url: &str, prefix: &str, connections: u32) -> Result<RedisConnection, PortError> {
        let client = redis::Client::open(url).map_err(|e| PortError::Unavailable(format!("REDIS_URL: {e}")))?;
        let config = command_connection_config();
        let connections = (0..connections.max(1))
            .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config.clone()))
            .collect::<Result<Arc<[_]>, _>>()
            .map_err(|e| PortError::Unavailable(format!("redis: {e}")))?;
        Ok(RedisConnection { connections, next: Arc::new(AtomicUsize::new(0)), client, prefix: prefix.to_owned() })
    }

    /// A handle on the next command connection (a cheap clone: commands on it pipeline over
    /// the shared socket). A broken connection is replaced by the manager itself: the command
    /// that finds it broken fails, and the next ones wait for the new one.
    pub(crate) async fn conn(&self) -> Result<ConnectionManager, PortError> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        Ok(self.connections[turn].clone())
    }

    /// Converts a command's failure.
    pub(crate) fn failed(&self, error: redis::RedisError) -> PortError {
        error::from_redis(error)
    }

    /// Makes every command connection check itself now. The event subscriber calls this when
    /// it reconnects after a gap: Redis may have restarted, and a connection that saw nothing
    /// of it (no command during the gap) would fail the first command after it. A PING on it
    /// finds the dead socket (or the last failed reconnection) and starts a reconnection, so
    /// the next command waits for a working connection instead of failing.
    pub(crate) fn check_connections(&self) {
        for connection in self.connections.iter() {
            let mut connection = connection.clone();
            tokio::spawn(async move {
                let _: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut connection).await;
            });
        }
    }

    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}
