//! The nodes of a deployment watch each other: each beats every [`BEAT_EVERY`], and a node
//! silent for [`SILENCE`] is taken for dead by whichever live node notices first, which tells
//! the calls it served (`signaling::node_gone`). Without this a call would learn of its node's
//! death only from presence, 40 s later, and then still wait out the reconnect grace.
//!
//! The silence is judged on the nodes' own clocks, like presence: nodes of one deployment
//! are expected to keep their clocks within a second of each other (NTP).

use crate::domain::Duration;
use crate::domain::call::CallDevice;
use crate::domain::error::PortError;
use crate::ports::ClaimKey;

use super::Deps;
use super::errors::CallingError;
use super::signaling;

/// How often a node beats.
pub const BEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a node may go without a beat before the others take it for dead: five missed
/// beats, so a node busy for a moment (a stall under CPU starvation, a slow Redis reply) is
/// not mistaken, and well inside the 20 s reconnect grace it is measured into.
pub fn silence() -> Duration {
    Duration::seconds(5)
}

/// How long one node holds the cleanup of a dead node before another may redo it. The
/// cleanup is idempotent and takes milliseconds; the claim only keeps two nodes from doing it
/// at once, and is short so that a cleanup cut off halfway (Redis failing mid-way) is redone
/// well within the reconnect grace it is measured into.
fn cleanup_claim() -> Duration {
    Duration::seconds(5)
}

/// This node's heartbeat, and what it does when it finds the others took it for dead.
#[derive(Debug, Default)]
pub struct Heartbeat {
    listed: bool,
}

impl Heartbeat {
    /// A node that has not beaten yet.
    pub fn new() -> Heartbeat {
        Heartbeat::default()
    }

    /// Beats once. When this node had been listed and is no longer (it stalled past the
    /// silence and another node told its calls it was dead), its calls' devices still
    /// connected here (`is_here`) are connected again: their calls go on.
    pub async fn beat(
        &mut self,
        deps: &Deps,
        is_here: &(dyn Fn(CallDevice) -> bool + Sync),
    ) -> Result<(), CallingError> {
        let was_listed = deps.nodes.beat(deps.node, deps.clock.now()).await?;
        if self.listed && !was_listed {
            let resumed = signaling::resume_here(deps, is_here).await?;
            tracing::warn!(node = %deps.node, resumed, "this node was taken for dead (its heartbeats stalled); its call devices were resumed");
        }
        self.listed = true;
        Ok(())
    }
}

/// Takes every node silent for [`silence`] for dead, each on one node: its calls are told,
/// then it is unlisted. Returns how many nodes this call handled.
pub async fn sweep(deps: &Deps) -> Result<usize, CallingError> {
    let now = deps.clock.now();
    let mut handled = 0;
    for (node, last_seen) in deps.nodes.silent(now - silence()).await? {
        // Never oneself: a node that finds itself silent only stalled.
        if node == deps.node {
            continue;
        }
        // One claim per silence (node and last beat): a node taken for dead while it only
        // stalled, that then dies for real, is a new silence nobody holds yet.
        let claim = ClaimKey::task(&format!("node-gone:{node}:{}", last_seen.timestamp_millis()));
        if !deps.claims.claim(&claim, now + cleanup_claim(), now).await? {
            continue;
        }
        let told = signaling::node_gone(deps, node, last_seen).await?;
        if deps.nodes.forget(node, last_seen).await? {
            tracing::warn!(%node, %last_seen, calls = told, "node went silent; taken for dead");
        }
        handled += 1;
    }
    Ok(handled)
}

/// This node stops cleanly: it leaves the list, so nobody takes it for dead.
pub async fn leave(deps: &Deps) -> Result<(), PortError> {
    deps.nodes.leave(deps.node).await
}
