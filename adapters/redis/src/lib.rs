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

use std::sync::Arc;
use std::time::{Duration, Instant};

use bb8_redis::RedisConnectionManager;
use chat_core::domain::error::PortError;
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;

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
    /// The connection most recently checked out of the pool (and checked by it), reused
    /// until it is [`CHECKED_FOR`] old.
    recent: Arc<Mutex<Option<(Instant, MultiplexedConnection)>>>,
}

/// How long a connection the pool checked (with a PING) serves without another check. The
/// pool checks every checkout; once a second is enough to find a broken connection, and
/// saves a round trip on nearly every command (a message send makes two).
const CHECKED_FOR: Duration = Duration::from_secs(1);

/// How long a command waits for its reply. The redis crate's default, 500 ms, is shorter
/// than a busy node's scheduling delays: under overload commands timed out that Redis had
/// carried out, and a timed-out publish was delivered twice (by the fallback and by the
/// subscriber). Two seconds, as long as a command may wait for a pooled connection.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

impl RedisConnection {
    /// Builds the pool (connections open lazily). `prefix` namespaces every key and
    /// channel, e.g. `chat:`; tests use a fresh one per run.
    pub async fn connect(url: &str, prefix: &str, pool_size: u32) -> Result<RedisConnection, PortError> {
        let client = redis::Client::open(url).map_err(|e| PortError::Unavailable(format!("REDIS_URL: {e}")))?;
        let manager =
            RedisConnectionManager::new(url).map_err(|e| PortError::Unavailable(format!("REDIS_URL: {e}")))?;
        let pool = bb8::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(std::time::Duration::from_secs(2))
            .build(manager)
            .await
            .map_err(|e| PortError::Unavailable(format!("redis pool: {e}")))?;
        Ok(RedisConnection { pool, client, prefix: prefix.to_owned(), recent: Arc::new(Mutex::new(None)) })
    }

    /// A handle on one of the pool's connections. The connections are multiplexed: the
    /// handle is a clone and the pool slot is given back at once, so any number of commands
    /// pipeline over a few sockets instead of queueing for exclusive checkouts (which, at
    /// thousands of socket connects a second, timed out). The pool checks a connection with
    /// PING when handing it out and replaces broken ones; a checked connection then serves
    /// for [`CHECKED_FOR`] before the next checkout.
    pub(crate) async fn conn(&self) -> Result<MultiplexedConnection, PortError> {
        if let Some((checked_at, connection)) = self.recent.lock().as_ref()
            && checked_at.elapsed() < CHECKED_FOR
        {
            return Ok(connection.clone());
        }
        let mut connection = self.pool.get().await.map_err(error::from_pool)?.clone();
        connection.set_response_timeout(COMMAND_TIMEOUT);
        *self.recent.lock() = Some((Instant::now(), connection.clone()));
        Ok(connection)
    }

    /// Converts a command's failure, and forgets the reused connection when the failure
    /// was the connection's: the next command goes back to the pool, which checks (and if
    /// need be replaces) what it hands out. Without this, a connection broken by a Redis
    /// restart would keep failing commands for up to [`CHECKED_FOR`]. A timeout is not
    /// the connection's fault (a busy node is slow to read replies), and sending every
    /// command to the pool then only adds PINGs to the load.
    pub(crate) fn failed(&self, error: redis::RedisError) -> PortError {
        if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
            self.forget_checked();
        }
        error::from_redis(error)
    }

    /// Makes the next command take a connection from the pool (and its check). The event
    /// subscriber calls this when it reconnects after a gap: Redis may have restarted, and
    /// the reused connection would fail the first command after it.
    pub(crate) fn forget_checked(&self) {
        *self.recent.lock() = None;
    }

    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}
