//! Claims that only one caller can win until they lapse: one-time upload tokens, and the lock
//! that makes a periodic task run on one node at a time.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;

/// The name of a claim. Each kind of claim has its own prefix, so they never collide.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimKey(String);

impl ClaimKey {
    /// The single use of an embedded-mode upload URL, by the URL's nonce.
    pub fn upload_token(nonce: &str) -> ClaimKey {
        ClaimKey(format!("upload-token:{nonce}"))
    }

    /// The lock of a periodic task shared by all nodes (e.g. `media-cleanup`).
    pub fn task(name: &str) -> ClaimKey {
        ClaimKey(format!("task:{name}"))
    }

    /// The key as stores use it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where claims live, shared by every node (Redis) or by the one process (memory).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ClaimStore: Send + Sync {
    /// Claims `key` until `until`, atomically: `true` for the one caller that claimed it,
    /// `false` for everyone while a claim holds. A lapsed claim may be made again. Stores
    /// with their own clock (Redis) may judge expiry by it rather than by `now`.
    async fn claim(&self, key: &ClaimKey, until: Timestamp, now: Timestamp) -> Result<bool, PortError>;
}
