//! Live calls, shared by every node: each call's state (`domain::call::Call`), whose call a
//! user is in (one at a time), and the calls' timers.

use async_trait::async_trait;

use crate::domain::call::{Call, CallTimer};
use crate::domain::error::PortError;
use crate::domain::ids::{CallId, NodeId, UserId};
use crate::domain::{Duration, Timestamp};

/// A call as stored, with the version an update must name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCall {
    /// The call.
    pub call: Call,
    /// Changes with every update: an update naming an older one is refused, so two nodes
    /// applying events to one call at once cannot both win.
    pub version: u64,
}

/// What starting a call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOutcome {
    /// Stored, version 1, and now the current call of both its users.
    Started,
    /// This user (the caller or the callee) is in another call: nothing stored.
    Busy(UserId),
}

/// Storage of live calls (Redis with a time to live in production, memory embedded). Every
/// key lives `ttl` from its last write, so a call whose every node died does not hold its
/// users forever.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CallStore: Send + Sync {
    /// Stores a new call and makes it the current call of its caller and callee, atomically,
    /// unless either is in a call already.
    async fn start(&self, call: &Call, ttl: Duration) -> Result<StartOutcome, PortError>;
    /// A call, while it is kept (ended calls are kept until their `ttl` runs out, so a late
    /// event is told the call ended).
    async fn call(&self, id: CallId) -> Result<Option<StoredCall>, PortError>;
    /// Replaces the call if its stored version is still `version`: the new version, or `None`
    /// when it changed meanwhile (read it again and reapply) or is gone. An ended call stops
    /// being its users' current call in the same step.
    async fn update(&self, call: &Call, version: u64, ttl: Duration) -> Result<Option<u64>, PortError>;
    /// The call a user is in (ringing or answered), if any.
    async fn current_call(&self, user: UserId) -> Result<Option<CallId>, PortError>;
    /// Arms a timer of a call to fire at `at` (again at the new time if it was armed).
    async fn arm(&self, id: CallId, timer: CallTimer, at: Timestamp) -> Result<(), PortError>;
    /// Disarms a timer; nothing when it was not armed.
    async fn disarm(&self, id: CallId, timer: CallTimer) -> Result<(), PortError>;
    /// Up to `limit` timers due at `now`, each handed to exactly one caller across all nodes
    /// and disarmed.
    async fn take_due(&self, now: Timestamp, limit: usize) -> Result<Vec<(CallId, CallTimer)>, PortError>;
    /// The live calls that named `node` as serving a party's connection (`Call::nodes`) when
    /// stored: every call with a party there now, and maybe some whose party moved on since
    /// (an ended call is no longer listed; a node's list lapses with its calls' `ttl`).
    async fn calls_on(&self, node: NodeId) -> Result<Vec<CallId>, PortError>;
}
