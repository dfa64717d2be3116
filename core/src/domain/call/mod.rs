//! One 1-on-1 voice or video call as a pure state machine (SPEC section 9): the server only
//! signals, so a call is who rings whom, which device answered, where SDP and ICE may go, and
//! how it ends. The use case loads a [`Call`], applies one [`CallEvent`] at `now`, stores the
//! result (Redis with a TTL, or memory) and carries out the [`Effect`]s of the [`Transition`].
//!
//! Decisions, and why:
//! - A device is a session (a login), not a connection: a reconnecting phone gets a new
//!   connection but keeps its session, and only the same device may resume a call.
//! - The caller is one device; the callee is a user, rung on all their devices (including one
//!   that connects while it rings, e.g. woken by the incoming-call push). The first accept from
//!   any of them wins; the others are told `answered_elsewhere` and refused afterwards.
//! - `call.reject`, `call.cancel` and `call.hangup` are one event, [`CallEvent::Hangup`]: what
//!   it means follows from who sends it and when. Before the answer the caller's hangup is a
//!   cancel and a callee device's is a decline (it stops the ringing everywhere); after it,
//!   either party's is a hangup. So a cancel that loses the race against an accept still ends
//!   the call (as a very short completed one) instead of leaving the callee talking to nobody.
//! - The caller's ICE candidates sent before the answer are buffered in the state and handed to
//!   the answering device right after `call.accepted`, not relayed to every ringing device: a
//!   callee who never answers never learns the caller's addresses (a known way to locate
//!   someone is to call them and watch the candidates), only one device needs them, and a
//!   device that starts ringing late still gets them all. The callee cannot send ICE before
//!   it answers (it has no answer yet), so nothing of the callee's needs buffering.
//! - A lost connection is not a lost call: media flows peer to peer, so while the call is
//!   answered a party's device gets [`CallPolicy::reconnect_grace_ms`] to come back before the
//!   call ends as `connection_lost`. While it rings there is nothing to resume: the caller's
//!   device dropping ends the call, a callee device dropping changes nothing.
//! - The call knows which node serves each party's connection (the caller's, and the answering
//!   device's): a close reported by a node the device has since left is ignored (a reconnect
//!   elsewhere won the race), and when a node stops beating ([`CallEvent::NodeGone`]) its
//!   parties are taken for dropped since its last heartbeat, so a call whose node died ends
//!   within the reconnect grace of the death, not of its discovery.
//! - Timers are named ([`CallTimer`]) and armed at an instant, so any node can fire them, and a
//!   timer that no longer matches the state (the device came back, the call was answered) is
//!   refused as stale instead of ending a call it was not armed for.
//! - Every call leaves exactly one SYSTEM message, written from the [`CallRecord`] of the one
//!   terminal transition: `declined` when the callee declined, `ended` with its duration when
//!   it was answered, and `missed` for everything else (no answer, cancelled, busy, the caller
//!   dropping while it rang), as the callee sees those in Zalo and Messenger; the record keeps
//!   the precise [`EndReason`] so clients may show "cancelled" to the caller.
//! - An event from someone who is not a party of the call is refused as `NotAParty` before
//!   anything else, so a stranger cannot even learn whether the call has ended.

mod effect;
mod machine;
mod payload;
mod state;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod node_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use effect::{CallOutcome, CallRecord, CallTimer, Effect, EndReason, Recipient, Signal, Transition};
pub use machine::Call;
pub use payload::{
    CallDevice, CallMedia, IceCandidate, MAX_BUFFERED_ICE, MAX_ICE_CANDIDATE_BYTES, MAX_SDP_BYTES, Party, Sdp,
};
pub use state::{CallError, CallEvent, CallPolicy, CallState, Invite, RECONNECT_GRACE_MS, RING_TIMEOUT_MS};
