//! What a transition asks the use case to do: signals to send, timers to arm or cancel, and
//! once per call, the record its SYSTEM message is written from.

use serde::{Deserialize, Serialize};

use super::payload::{CallDevice, CallMedia, IceCandidate, Party, Sdp};
use crate::domain::Timestamp;
use crate::domain::ids::{CallId, ConversationId, SessionId, UserId};

/// The effects of one applied event, in the order they are to be carried out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transition {
    /// What to do.
    pub effects: Vec<Effect>,
}

impl Transition {
    /// The record of the call's end, when this transition ended it.
    pub fn ended(&self) -> Option<&CallRecord> {
        self.effects.iter().find_map(|effect| match effect {
            Effect::Record(record) => Some(record),
            _ => None,
        })
    }
}

/// One thing the use case must do after storing the new state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a signal (a `call.*` frame) to a recipient.
    Notify {
        /// Who gets it.
        to: Recipient,
        /// What it says; the frame adds the call's id.
        signal: Signal,
    },
    /// Fire `timer` into this call as [`CallEvent::TimerFired`](super::CallEvent::TimerFired)
    /// at `at` (or as soon as possible after), from whichever node is alive then.
    ArmTimer {
        /// Which timer.
        timer: CallTimer,
        /// When it is due.
        at: Timestamp,
    },
    /// `timer` is no longer wanted; firing it anyway is harmless (refused as stale).
    CancelTimer(CallTimer),
    /// The call is over: write its one SYSTEM message from this record, and both users are
    /// free for another call.
    Record(CallRecord),
}

/// Who a signal goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// One device.
    Device(CallDevice),
    /// Every device of a user that is connected, anywhere.
    AllDevices(UserId),
    /// Every device of a user but one (the callee's devices that lost the race to answer).
    AllDevicesExcept {
        /// The user.
        user_id: UserId,
        /// The device left out.
        session_id: SessionId,
    },
}

/// What a recipient is told, in domain terms (the gateway turns it into a frame).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// `call.incoming`: ring, with the caller's offer.
    Incoming {
        /// The caller's SDP offer.
        offer: Sdp,
    },
    /// `call.ringing`: the callee's devices are being rung.
    Ringing,
    /// `call.accepted`: the callee answered.
    Accepted {
        /// The callee's SDP answer.
        answer: Sdp,
    },
    /// Another device of the callee answered; stop ringing here (`call.ended` with reason
    /// `answered_elsewhere`).
    AnsweredElsewhere,
    /// `call.ice`: a candidate from the other device of the call.
    Ice {
        /// The candidate.
        candidate: IceCandidate,
    },
    /// `call.ended`: the call is over.
    Ended {
        /// Why.
        reason: EndReason,
        /// How long it was answered, in milliseconds; `None` when it never was.
        duration_ms: Option<u64>,
    },
}

/// A timer of one call. A reconnect grace names the disconnection it was armed for, so a timer
/// left over from an earlier drop cannot end the call after the device came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case")]
pub enum CallTimer {
    /// No answer in time: the call is missed.
    Ring,
    /// A party's device did not come back in time: the call ends as `connection_lost`.
    ReconnectGrace {
        /// Whose device dropped.
        party: Party,
        /// When it dropped.
        lost_at: Timestamp,
    },
}

/// Why a call ended (the `reason` of `call.ended`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Nobody answered within the ring timeout.
    Missed,
    /// The callee declined.
    Declined,
    /// The caller hung up before it was answered.
    Cancelled,
    /// The callee was already in another call.
    Busy,
    /// One party hung up after it was answered.
    HungUp,
    /// A party's device dropped and did not come back in time (or, while it rang, the
    /// caller's device dropped).
    ConnectionLost,
}

impl EndReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Missed => "missed",
            EndReason::Declined => "declined",
            EndReason::Cancelled => "cancelled",
            EndReason::Busy => "busy",
            EndReason::HungUp => "hung_up",
            EndReason::ConnectionLost => "connection_lost",
        }
    }
}

/// What the call's SYSTEM message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CallOutcome {
    /// Never answered, and not declined.
    Missed,
    /// The callee declined.
    Declined,
    /// Answered, then ended.
    Ended {
        /// From the answer to the end, in milliseconds.
        duration_ms: u64,
    },
}

/// Everything the SYSTEM message of a finished call is written from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call.
    pub call_id: CallId,
    /// The direct conversation of the two users, where the message goes.
    pub conversation_id: ConversationId,
    /// Who called.
    pub caller: UserId,
    /// Who was called.
    pub callee: UserId,
    /// Voice or video.
    pub media: CallMedia,
    /// What the message says.
    pub outcome: CallOutcome,
    /// Why it ended, more precisely than the outcome.
    pub reason: EndReason,
    /// When the caller placed it.
    pub started_at: Timestamp,
    /// When it ended.
    pub ended_at: Timestamp,
}
