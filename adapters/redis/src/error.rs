//! Redis failures as port errors: a connection problem is `Unavailable` (retryable, and
//! what the outage policies act on); anything else is `Internal`.

use bb8_redis::RedisConnectionManager;
use chat_core::domain::error::RepoError;
use redis::RedisError;

pub fn from_redis(error: RedisError) -> RepoError {
    if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() || error.is_timeout() {
        RepoError::Unavailable(format!("redis: {error}"))
    } else {
        RepoError::Internal(format!("redis: {error}"))
    }
}

pub fn from_pool(error: bb8::RunError<<RedisConnectionManager as bb8::ManageConnection>::Error>) -> RepoError {
    match error {
        bb8::RunError::TimedOut => RepoError::Unavailable("redis: no connection in time".into()),
        bb8::RunError::User(error) => RepoError::Unavailable(format!("redis: {error}")),
    }
}
