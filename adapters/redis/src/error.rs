//! Redis failures as port errors: a connection problem is `Unavailable` (retryable, and
//! what the outage policies act on); anything else is `Internal`.

use bb8_redis::RedisConnectionManager;
use chat_core::domain::error::PortError;
use redis::RedisError;

pub fn from_redis(error: RedisError) -> PortError {
    if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() || error.is_timeout() {
        PortError::Unavailable(format!("redis: {error}"))
    } else {
        PortError::Internal(format!("redis: {error}"))
    }
}

pub fn from_pool(error: bb8::RunError<<RedisConnectionManager as bb8::ManageConnection>::Error>) -> PortError {
    match error {
        bb8::RunError::TimedOut => PortError::Unavailable("redis: no connection in time".into()),
        bb8::RunError::User(error) => PortError::Unavailable(format!("redis: {error}")),
    }
}
