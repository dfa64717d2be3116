//! Who is online: live connections with a time-to-live, and who may see it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::error::PortError;
use crate::domain::ids::{ConnectionId, UserId};
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

/// Live connections (WebSocket sockets) per user, each alive until its time-to-live runs out
/// unless renewed by a heartbeat: a crashed node's users go offline by themselves. Presence
/// counts connections, not sessions: one session (device) may hold several sockets, and its
/// user stays online until the last closes.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Marks a connection alive until `now + ttl`. Returns whether the user just came online
    /// (had no other live connection).
    async fn connection_alive(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, PortError>;
    /// [`connection_alive`](Self::connection_alive) for many connections at once (a node's
    /// heartbeats of the last moment, in one round trip where the store allows). Returns the
    /// users this brought online, each once.
    async fn connections_alive(
        &self,
        connections: &[(UserId, ConnectionId)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<UserId>, PortError> {
        let mut came_online = Vec::new();
        for &(user, connection) in connections {
            if self.connection_alive(user, connection, now, ttl).await? && !came_online.contains(&user) {
                came_online.push(user);
            }
        }
        Ok(came_online)
    }
    /// Ends a connection. Returns whether the user has no live connection left (and so just
    /// went offline, last seen `now`).
    async fn connection_ended(&self, user: UserId, connection: ConnectionId, now: Timestamp)
    -> Result<bool, PortError>;
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
