//! Call signaling over the WebSocket (SPEC section 9): each `call.*` frame, each connection
//! that opens or closes, and each due timer becomes an event of the call's state machine
//! (`domain::call`), applied to the call as stored (`CallStore`, shared by every node) and
//! carried out: signals to devices through the event bus, timers armed in the store, and once
//! per call its SYSTEM message in the direct conversation.
//!
//! Two nodes may apply events to one call at once (the callee answers on node 2 while the
//! caller cancels on node 1): each applies its event to the version it read and stores the
//! result only if nobody stored another meanwhile; the loser reads the call again and
//! applies its event to that, so exactly one of "answered" and "cancelled" happens first.

use crate::domain::account::PublicProfile;
use crate::domain::call::{
    Call, CallDevice, CallError, CallEvent, CallMedia, CallOutcome, CallRecord, CallState, Effect, IceCandidate,
    Invite, Recipient, Sdp, Signal, Transition,
};
use crate::domain::conversation::{ConversationKind, Member, Role};
use crate::domain::event::{ConversationChange, Delivery, Event};
use crate::domain::ids::{CallId, ConversationId, MessageId, NodeId, UserId};
use crate::domain::message::{MessageKind, NewMessage, SystemEvent};
use crate::domain::push::PushEvent;
use crate::domain::rate_limit::RateLimitKey;
use crate::domain::social::audience_allows;
use crate::domain::{Duration, Timestamp};
use crate::ports::{DirectOutcome, InsertOutcome, StartOutcome};

use super::access::{WhenUnavailable, publish, rate_check};
use super::errors::CallingError;
use super::{Actor, Deps};

/// How long a call's keys live after their last write: past the longest call anyone makes,
/// so only a call whose every node died is forgotten this way (its users then are free).
pub fn call_ttl() -> Duration {
    Duration::hours(12)
}

/// How many times an event is reapplied when other nodes keep changing the call under it.
const MAX_APPLY_ATTEMPTS: usize = 8;

/// How many due timers one sweep fires at most.
const TIMERS_PER_SWEEP: usize = 100;

/// `call.invite`: `actor` (this device) calls `callee`. Every device of the callee rings; a
/// callee without a live connection gets a high-priority push. The call's id, for the ack.
pub async fn invite(
    deps: &Deps,
    actor: Actor,
    callee: UserId,
    media: CallMedia,
    sdp: String,
) -> Result<CallId, CallingError> {
    if callee == actor.user_id {
        return Err(CallingError::CannotCallSelf);
    }
    let offer = Sdp::parse(sdp)?;
    let callee_user = deps.users.user(callee).await?.ok_or(CallingError::UserNotFound)?;
    // A block hides each from the other: the caller learns no more than "not allowed".
    if deps.social.blocked_between(actor.user_id, callee).await? {
        return Err(CallingError::CallNotAllowed);
    }
    let friends = deps.social.are_friends(actor.user_id, callee).await?;
    if !audience_allows(callee_user.settings.who_can_call, friends) {
        return Err(CallingError::CallNotAllowed);
    }
    rate_check(deps, &RateLimitKey::call_invites(actor.user_id), deps.limits.call_invites, WhenUnavailable::Refuse)
        .await?
        .map_err(|retry_after_ms| CallingError::RateLimited { retry_after_ms })?;
    // Checked again, atomically, when the call is stored; this early look only spares a
    // caller who is in a call the making of a conversation.
    if deps.calls.current_call(actor.user_id).await?.is_some() {
        return Err(CallingError::AlreadyInCall);
    }
    let now = deps.clock.now();
    let conversation_id = direct_conversation(deps, actor.user_id, callee, now).await?;
    let invite = Invite {
        id: CallId(deps.ids.new_id()),
        conversation_id,
        caller: device(actor),
        caller_node: deps.node,
        callee,
        media,
        offer,
    };
    let policy = deps.limits.call_policy;
    let (call, transition) = Call::ring(invite.clone(), policy, now).map_err(domain_error)?;
    match deps.calls.start(&call, call_ttl()).await? {
        StartOutcome::Started => {
            carry_out(deps, &call, transition).await?;
            super::push::enqueue(deps, PushEvent::IncomingCall(call.id())).await;
            Ok(call.id())
        }
        StartOutcome::Busy(user) if user == actor.user_id => Err(CallingError::AlreadyInCall),
        StartOutcome::Busy(_) => {
            // The callee is in another call: this one ends at once, as a missed call.
            let (busy, transition) = Call::busy(invite, policy, now).map_err(domain_error)?;
            carry_out(deps, &busy, transition).await?;
            Ok(busy.id())
        }
    }
}

/// `call.accept`: a device of the callee answers with its SDP answer.
pub async fn accept(deps: &Deps, actor: Actor, id: CallId, sdp: String) -> Result<(), CallingError> {
    let answer = Sdp::parse(sdp)?;
    apply(deps, id, CallEvent::Accept { by: device(actor), answer, node: deps.node }).await
}

/// `call.reject`, `call.cancel`, `call.hangup`: the device wants out (what that means follows
/// from who it is and when; see `domain::call`).
pub async fn hang_up(deps: &Deps, actor: Actor, id: CallId) -> Result<(), CallingError> {
    apply(deps, id, CallEvent::Hangup { by: device(actor) }).await
}

/// `call.ice`: a candidate for the other device of the call.
pub async fn ice(deps: &Deps, actor: Actor, id: CallId, candidate: String) -> Result<(), CallingError> {
    let candidate = IceCandidate::parse(candidate)?;
    apply(deps, id, CallEvent::Ice { from: device(actor), candidate }).await
}

/// A connection of `actor`'s device opened: a dropped device of a call comes back, or a
/// callee's device starts ringing.
pub async fn device_connected(deps: &Deps, actor: Actor) -> Result<(), CallingError> {
    device_event(deps, actor, CallEvent::Connected { device: device(actor), node: deps.node }).await
}

/// The last connection of `actor`'s device closed: its call, if any, waits for it to come
/// back (or, ringing on the caller's side, ends).
pub async fn device_disconnected(deps: &Deps, actor: Actor) -> Result<(), CallingError> {
    device_event(deps, actor, CallEvent::Disconnected { device: device(actor), node: deps.node }).await
}

/// `node` went silent at `last_seen` (it died, or lost its network): every call it served a
/// party of takes that party for dropped since then, so the other party hears
/// `connection_lost` once the reconnect grace has run from the node's last heartbeat (unless
/// the device reconnects elsewhere first). Returns how many calls were told.
pub async fn node_gone(deps: &Deps, node: NodeId, last_seen: Timestamp) -> Result<usize, CallingError> {
    let mut told = 0;
    for id in deps.calls.calls_on(node).await? {
        match apply(deps, id, CallEvent::NodeGone { node, last_seen }).await {
            Ok(()) => told += 1,
            // Ended meanwhile, or lapsed.
            Err(CallingError::CallEnded | CallingError::CallNotFound) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(told)
}

/// This node was taken for dead while it lived (its heartbeats stalled): the devices of its
/// calls that `is_here` (still connected to this node) are connected again, so their calls
/// do not end for a drop that never happened. Returns how many devices were resumed.
pub async fn resume_here(deps: &Deps, is_here: &(dyn Fn(CallDevice) -> bool + Sync)) -> Result<usize, CallingError> {
    let mut resumed = 0;
    for id in deps.calls.calls_on(deps.node).await? {
        let Some(stored) = deps.calls.call(id).await? else { continue };
        let call = stored.call;
        let mut devices = vec![call.caller()];
        if let CallState::Answered { callee_device, .. } = call.state() {
            devices.push(*callee_device);
        }
        for device in devices.into_iter().filter(|device| is_here(*device)) {
            match apply(deps, id, CallEvent::Connected { device, node: deps.node }).await {
                Ok(()) => resumed += 1,
                Err(CallingError::CallEnded | CallingError::CallNotFound) => {}
                Err(other) => return Err(other),
            }
        }
    }
    Ok(resumed)
}

/// Fires the call timers that are due (ring timeouts, reconnect graces), each on one node;
/// returns how many fired. Run every second or so by every node.
pub async fn fire_due_timers(deps: &Deps) -> Result<usize, CallingError> {
    let due = deps.calls.take_due(deps.clock.now(), TIMERS_PER_SWEEP).await?;
    let fired = due.len();
    for (id, timer) in due {
        match apply(deps, id, CallEvent::TimerFired(timer)).await {
            // A timer the call no longer wants (answered, ended, the device came back).
            Ok(()) | Err(CallingError::CallEnded | CallingError::CallNotFound) => {}
            Err(error) => tracing::warn!(%error, call = %id, "call timer not applied"),
        }
    }
    Ok(fired)
}

fn device(actor: Actor) -> CallDevice {
    CallDevice { user_id: actor.user_id, session_id: actor.session_id }
}

/// A device event for the device's current call, if it has one.
async fn device_event(deps: &Deps, actor: Actor, event: CallEvent) -> Result<(), CallingError> {
    let Some(id) = deps.calls.current_call(actor.user_id).await? else { return Ok(()) };
    match apply(deps, id, event).await {
        // Not this device's call (another device of the user is in it), or it just ended.
        Ok(()) | Err(CallingError::CallNotFound | CallingError::CallEnded) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Applies `event` to the stored call and carries out its effects, reapplying it to a newer
/// version when another node changed the call first.
async fn apply(deps: &Deps, id: CallId, event: CallEvent) -> Result<(), CallingError> {
    for _ in 0..MAX_APPLY_ATTEMPTS {
        let stored = deps.calls.call(id).await?.ok_or(CallingError::CallNotFound)?;
        let mut call = stored.call;
        let transition = call.apply(event.clone(), deps.clock.now()).map_err(domain_error)?;
        if deps.calls.update(&call, stored.version, call_ttl()).await?.is_some() {
            return carry_out(deps, &call, transition).await;
        }
    }
    Err(CallingError::Unavailable(super::errors::Detail::new(format!(
        "call {id}: changed by others {MAX_APPLY_ATTEMPTS} times while an event was applied"
    ))))
}

fn domain_error(error: CallError) -> CallingError {
    match error {
        CallError::CannotCallSelf => CallingError::CannotCallSelf,
        CallError::NotAParty => CallingError::CallNotFound,
        CallError::NotTheCallee => CallingError::NotCallee,
        CallError::AlreadyAnswered => CallingError::AnsweredElsewhere,
        CallError::NotAnswered => CallingError::NotAnswered,
        CallError::AlreadyEnded | CallError::StaleTimer => CallingError::CallEnded,
        CallError::TooManyCandidates => CallingError::TooManyCandidates,
    }
}

/// Does what the transition asks, in order. The new state is stored already, so a failure
/// here loses a signal (the clients' own timeouts cover it) but never the call's truth.
async fn carry_out(deps: &Deps, call: &Call, transition: Transition) -> Result<(), CallingError> {
    for effect in transition.effects {
        match effect {
            Effect::Notify { to, signal } => notify(deps, call, to, signal).await?,
            Effect::ArmTimer { timer, at } => deps.calls.arm(call.id(), timer, at).await?,
            Effect::CancelTimer(timer) => deps.calls.disarm(call.id(), timer).await?,
            Effect::Record(record) => write_record(deps, &record).await?,
        }
    }
    Ok(())
}

async fn notify(deps: &Deps, call: &Call, to: Recipient, signal: Signal) -> Result<(), CallingError> {
    let call_id = call.id();
    let event = match signal {
        Signal::Incoming { offer } => Event::CallIncoming {
            call_id,
            caller: caller_profile(deps, call.caller().user_id).await?,
            conversation_id: call.conversation_id(),
            media: call.media(),
            sdp: offer.as_str().to_owned(),
        },
        Signal::Ringing => Event::CallRinging { call_id },
        Signal::Accepted { answer } => Event::CallAccepted { call_id, sdp: answer.as_str().to_owned() },
        Signal::AnsweredElsewhere => {
            Event::CallEnded { call_id, reason: "answered_elsewhere".to_owned(), duration_ms: None }
        }
        Signal::Ice { candidate } => Event::CallIce { call_id, candidate: candidate_object(&candidate) },
        Signal::Ended { reason, duration_ms } => {
            Event::CallEnded { call_id, reason: reason.as_str().to_owned(), duration_ms }
        }
    };
    let delivery = match to {
        Recipient::Device(device) => Delivery {
            recipients: vec![device.user_id],
            except_session: None,
            only_session: Some(device.session_id),
            event,
        },
        Recipient::AllDevices(user) => {
            Delivery { recipients: vec![user], except_session: None, only_session: None, event }
        }
        Recipient::AllDevicesExcept { user_id, session_id } => {
            Delivery { recipients: vec![user_id], except_session: Some(session_id), only_session: None, event }
        }
    };
    publish(deps, delivery).await;
    Ok(())
}

/// The candidate as the browser sent it: the gateway keeps it as JSON text.
fn candidate_object(candidate: &IceCandidate) -> serde_json::Value {
    serde_json::from_str(candidate.as_str())
        .unwrap_or_else(|_| serde_json::Value::String(candidate.as_str().to_owned()))
}

async fn caller_profile(deps: &Deps, caller: UserId) -> Result<PublicProfile, CallingError> {
    Ok(deps.users.user(caller).await?.ok_or(CallingError::UserNotFound)?.public_profile())
}

/// The call's SYSTEM message in the direct conversation, announced to both users like any
/// message. Its id is derived from the call's, so a record written twice (two nodes racing
/// to the end cannot, but a retried write can) stores one message.
async fn write_record(deps: &Deps, record: &CallRecord) -> Result<(), CallingError> {
    let message = NewMessage {
        id: MessageId(record.call_id.0),
        conversation_id: record.conversation_id,
        sender_id: record.caller,
        kind: MessageKind::System,
        body: None,
        reply_to: None,
        client_msg_id: None,
        system: Some(SystemEvent::Call {
            call_id: record.call_id,
            caller: record.caller,
            media: record.media,
            outcome: record.outcome,
            reason: record.reason,
        }),
        media_ids: Vec::new(),
        created_at: record.ended_at,
    };
    if let InsertOutcome::Inserted { message, members } = deps.messages.insert_message(message).await? {
        let event = Event::MessageNew { message };
        publish(deps, Delivery { recipients: members, except_session: None, only_session: None, event }).await;
    }
    // A missed call notifies the callee like a message does (`domain::notification`).
    if matches!(record.outcome, CallOutcome::Missed) {
        super::push::enqueue(deps, PushEvent::Message(MessageId(record.call_id.0))).await;
    }
    Ok(())
}

/// The direct conversation of the two users, made on the first call if they never wrote.
async fn direct_conversation(
    deps: &Deps,
    caller: UserId,
    callee: UserId,
    now: Timestamp,
) -> Result<ConversationId, CallingError> {
    let conversation = crate::domain::conversation::Conversation {
        id: ConversationId(deps.ids.new_id()),
        kind: ConversationKind::Direct,
        title: None,
        avatar_media_id: None,
        created_by: caller,
        created_at: now,
        last_seq: 0,
        last_activity_at: now,
        member_count: 2,
        last_change_seq: 0,
    };
    let members = [
        Member::new(conversation.id, caller, Role::Member, now),
        Member::new(conversation.id, callee, Role::Member, now),
    ];
    match deps.conversations.find_or_create_direct(conversation, members).await? {
        DirectOutcome::Existing(conversation) => Ok(conversation.id),
        DirectOutcome::Created(conversation) => {
            let id = conversation.id;
            let event = Event::ConversationUpdated { change: ConversationChange::Created, conversation };
            publish(
                deps,
                Delivery { recipients: vec![caller, callee], except_session: None, only_session: None, event },
            )
            .await;
            Ok(id)
        }
    }
}

/// Whether the call is still ringing (for the incoming-call push: an answered or ended call
/// rings nowhere).
pub fn is_ringing(call: &Call) -> bool {
    matches!(call.state(), CallState::Ringing { .. })
}
