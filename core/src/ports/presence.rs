//! Who is online: live sessions with a time-to-live, and who may see it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::error::PortError;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::{Duration, Timestamp};

/// A user's presence as others may see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceStatus {
    /// Whether the user has a live session now.
    pub online: bool,
    /// When the user was last online (absent while online, or if never seen).
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

/// Live sessions per user, each alive until its time-to-live runs out unless renewed by a
/// heartbeat: a crashed node's users go offline by themselves.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Marks a session alive until `now + ttl`. Returns whether the user just came online
    /// (had no other live session).
    async fn session_alive(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, PortError>;
    /// [`session_alive`](Self::session_alive) for many sessions at once (a node's heartbeats
    /// of the last moment, in one round trip where the store allows). Returns the users this
    /// brought online, each once.
    async fn sessions_alive(
        &self,
        sessions: &[(UserId, SessionId)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<UserId>, PortError> {
        let mut came_online = Vec::new();
        for &(user, session) in sessions {
            if self.session_alive(user, session, now, ttl).await? && !came_online.contains(&user) {
                came_online.push(user);
            }
        }
        Ok(came_online)
    }
    /// Ends a session. Returns whether the user has no live session left (and so just went
    /// offline, last seen `now`).
    async fn session_ended(&self, user: UserId, session: SessionId, now: Timestamp) -> Result<bool, PortError>;
    /// Users whose last session expired without ending (their node died), each handed to
    /// exactly one caller across all nodes, with the time they were last seen.
    async fn take_expired(&self, now: Timestamp) -> Result<Vec<(UserId, Timestamp)>, PortError>;
    /// The presence of each of `users` at `now`, in no particular order.
    async fn status(&self, users: &[UserId], now: Timestamp) -> Result<Vec<(UserId, PresenceStatus)>, PortError>;
}

/// The visibility rule for presence: who may see a user's online status and last seen.
#[async_trait]
pub trait PresenceAudience: Send + Sync {
    /// Everyone who may see `user`'s presence (receives their presence events).
    async fn audience(&self, user: UserId) -> Result<Vec<UserId>, PortError>;
    /// Whether `viewer` may see `user`'s presence.
    async fn may_see(&self, viewer: UserId, user: UserId) -> Result<bool, PortError>;
}
