//! The nodes of a deployment and their heartbeats: a node that stops beating died (or lost
//! its network), and what it served (the connections of calls) must be taken for lost
//! without waiting for a close that will never come.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::ids::NodeId;

/// Every running node with its last heartbeat, shared by the nodes (Redis), or this one
/// process (memory, embedded). Heartbeats are judged by the times the nodes give.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait NodeRegistry: Send + Sync {
    /// `node` beat at `now`: listed with that time. Returns whether it was listed already;
    /// `false` on its first beat, or when the others forgot it as dead meanwhile.
    async fn beat(&self, node: NodeId, now: Timestamp) -> Result<bool, PortError>;
    /// The listed nodes whose last beat is older than `since`, each with that beat. They stay
    /// listed until [`forget`](Self::forget), so a node that fails to clean up after one is
    /// found again by the next look.
    async fn silent(&self, since: Timestamp) -> Result<Vec<(NodeId, Timestamp)>, PortError>;
    /// Unlists `node` if its last beat is still `last_seen` (a node that beat again since is
    /// alive and stays). Returns whether it was unlisted.
    async fn forget(&self, node: NodeId, last_seen: Timestamp) -> Result<bool, PortError>;
    /// Unlists `node` at once: it stops cleanly, after closing its connections itself.
    async fn leave(&self, node: NodeId) -> Result<(), PortError>;
}
