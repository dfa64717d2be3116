//! Redis failures as port errors: a connection problem is `Unavailable` (retryable, and
//! what the outage policies act on); anything else is `Internal`.

use chat_core::domain::error::PortError;
use redis::RedisError;

pub fn from_redis(error: RedisError) -> PortError {
    if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() || error.is_timeout() {
        PortError::Unavailable(format!("redis: {error}"))
    } else {
        PortError::Internal(format!("redis: {error}"))
    }
}
