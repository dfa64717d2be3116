//! The stored state of a call and what can happen to it: the events the use case feeds in, the
//! refusals it gets back, and the timings a call keeps for its whole life.

use serde::{Deserialize, Serialize};

use super::effect::{CallTimer, EndReason};
use super::payload::{CallDevice, CallMedia, IceCandidate, Sdp};
use crate::domain::Timestamp;
use crate::domain::ids::{CallId, ConversationId, NodeId, UserId};

/// How long a call rings before it is missed (SPEC section 9).
pub const RING_TIMEOUT_MS: u64 = 45_000;

/// How long an answered call waits for a party's dropped device to come back.
pub const RECONNECT_GRACE_MS: u64 = 20_000;

/// The call's timings, kept in its state so that every node fires the same timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPolicy {
    /// Ringing longer than this is a missed call.
    pub ring_timeout_ms: u64,
    /// A dropped device of an answered call may resume it within this.
    pub reconnect_grace_ms: u64,
}

impl CallPolicy {
    /// [`RING_TIMEOUT_MS`] and [`RECONNECT_GRACE_MS`]; tests shorten them.
    pub fn production() -> CallPolicy {
        CallPolicy { ring_timeout_ms: RING_TIMEOUT_MS, reconnect_grace_ms: RECONNECT_GRACE_MS }
    }
}

/// A new call as the caller's `call.invite` asks for it, once the use case has checked blocks,
/// privacy and rate limits and found (or made) the direct conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    /// The new call's id.
    pub id: CallId,
    /// The direct conversation of the two users.
    pub conversation_id: ConversationId,
    /// The device placing the call.
    pub caller: CallDevice,
    /// The node serving the caller's connection.
    pub caller_node: NodeId,
    /// Who is called.
    pub callee: UserId,
    /// Voice or video.
    pub media: CallMedia,
    /// The caller's SDP offer.
    pub offer: Sdp,
}

/// Where a call stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CallState {
    /// Every device of the callee rings.
    Ringing {
        /// The caller's offer, for a callee device that starts ringing late.
        offer: Sdp,
        /// The caller's candidates, for the device that answers.
        caller_ice: Vec<IceCandidate>,
    },
    /// One device of the callee answered; the two devices talk.
    Answered {
        /// The device that answered; no other device of the callee takes part any more.
        callee_device: CallDevice,
        /// The node serving that device's connection (since its answer or its last reconnect).
        #[serde(default = "NodeId::unknown")]
        callee_node: NodeId,
        /// When it answered; the call's duration counts from here.
        answered_at: Timestamp,
        /// When the caller's device dropped, while it has not come back.
        caller_lost_at: Option<Timestamp>,
        /// When the answering device dropped, while it has not come back.
        callee_lost_at: Option<Timestamp>,
    },
    /// Over; every further event is refused.
    Ended {
        /// Why.
        reason: EndReason,
        /// How long it was answered, when it was.
        duration_ms: Option<u64>,
        /// When it ended.
        ended_at: Timestamp,
    },
}

/// Something that happened to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    /// `call.accept`: a callee device answers.
    Accept {
        /// The answering device.
        by: CallDevice,
        /// Its SDP answer.
        answer: Sdp,
        /// The node serving its connection.
        node: NodeId,
    },
    /// `call.reject`, `call.cancel` or `call.hangup`: a party wants out. Before the answer the
    /// caller's is a cancel and a callee device's a decline; after it, a hangup.
    Hangup {
        /// The device that sent it.
        by: CallDevice,
    },
    /// `call.ice`: a candidate for the other device.
    Ice {
        /// The device that sent it.
        from: CallDevice,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// The device's last connection on `node` closed. Ignored when the call knows the device
    /// on another node since: that close is of a connection the device already replaced.
    Disconnected {
        /// The device.
        device: CallDevice,
        /// The node the connection was on.
        node: NodeId,
    },
    /// A connection of the device opened on `node` (a reconnect, or a callee device coming
    /// online); the call now knows the device there.
    Connected {
        /// The device.
        device: CallDevice,
        /// The node serving the new connection.
        node: NodeId,
    },
    /// `node` stopped beating (it died, or lost the network): every party whose connection it
    /// served is taken for dropped since the node was `last_seen`, so the reconnect grace runs
    /// from when the node went quiet, not from when its silence was noticed.
    NodeGone {
        /// The silent node.
        node: NodeId,
        /// Its last heartbeat.
        last_seen: Timestamp,
    },
    /// A timer armed by an earlier transition is due.
    TimerFired(CallTimer),
}

/// Why an event was refused; the call is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// An invite to oneself.
    CannotCallSelf,
    /// The device is not a party of this call (another user, or another device of the
    /// caller); the use case answers as if the call did not exist.
    NotAParty,
    /// The caller tried to answer its own call.
    NotTheCallee,
    /// The call was answered already, by another device of the callee or by this one.
    AlreadyAnswered,
    /// The callee sent ICE before answering.
    NotAnswered,
    /// The call is over.
    AlreadyEnded,
    /// A timer that no longer matches the call (cancelled, or armed for an earlier drop).
    StaleTimer,
    /// The caller sent more than [`MAX_BUFFERED_ICE`](super::MAX_BUFFERED_ICE) candidates before the answer.
    TooManyCandidates,
}

impl CallError {
    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            CallError::CannotCallSelf => "cannot_call_self",
            CallError::NotAParty => "call_not_found",
            CallError::NotTheCallee => "not_callee",
            CallError::AlreadyAnswered => "call_answered_elsewhere",
            CallError::NotAnswered => "call_not_answered",
            CallError::AlreadyEnded => "call_ended",
            CallError::StaleTimer => "stale_call_timer",
            CallError::TooManyCandidates => "too_many_ice_candidates",
        }
    }
}
