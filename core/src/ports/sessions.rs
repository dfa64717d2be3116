//! Storage of device sessions and their (hashed) refresh tokens.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::account::{Session, TokenHash};
use crate::domain::error::PortError;
use crate::domain::ids::{SessionId, UserId};

/// A session to store, with the digest of its first refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// The session itself.
    pub session: Session,
    /// The digest of its current refresh token.
    pub refresh_hash: TokenHash,
}

/// The outcome of presenting a refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current: it is now replaced by the new one.
    Rotated(Session),
    /// The token was already rotated away: someone replayed it, so the store revoked the
    /// whole session (refresh-token reuse detection).
    Reused(SessionId),
    /// Unknown, expired or revoked.
    Invalid,
}

/// Storage of login sessions and their rotating refresh tokens.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait SessionRepo: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, new: NewSession) -> Result<(), PortError>;
    /// One session by id, revoked or not.
    async fn session(&self, id: SessionId) -> Result<Option<Session>, PortError>;
    /// Atomically swaps `presented` for `replacement` if it is the session's current token and
    /// the session is active at `now`; extends the session to `expires_at`.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        replacement: TokenHash,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<RotateOutcome, PortError>;
    /// Revokes one session at `now` (a no-op if it is already revoked or unknown).
    async fn revoke_session(&self, id: SessionId, now: Timestamp) -> Result<(), PortError>;
    /// Revokes every active session of a user and returns their ids.
    async fn revoke_all_sessions(&self, user: UserId, now: Timestamp) -> Result<Vec<SessionId>, PortError>;
}
