//! The call itself and the one function that applies events to it. Nothing here reads a
//! clock or does IO; `now` comes with every event.

use serde::{Deserialize, Serialize};

use super::effect::{CallOutcome, CallRecord, CallTimer, Effect, EndReason, Recipient, Signal, Transition};
use super::payload::{CallDevice, CallMedia, IceCandidate, MAX_BUFFERED_ICE, Party, Sdp};
use super::state::{CallError, CallEvent, CallPolicy, CallState, Invite};
use crate::domain::ids::{CallId, ConversationId, NodeId, UserId};
use crate::domain::{DateTime, Duration, Timestamp, Utc};

/// One call between a caller's device and a callee (see the module docs for the rules).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    id: CallId,
    conversation_id: ConversationId,
    caller: CallDevice,
    /// The node serving the caller's connection (since the invite or its last reconnect).
    #[serde(default = "NodeId::unknown")]
    caller_node: NodeId,
    callee: UserId,
    media: CallMedia,
    policy: CallPolicy,
    started_at: Timestamp,
    state: CallState,
}

impl Call {
    /// Places a call: every device of the callee rings, the caller hears it ring, and the ring
    /// timeout is armed.
    pub fn ring(invite: Invite, policy: CallPolicy, now: Timestamp) -> Result<(Call, Transition), CallError> {
        let offer = invite.offer.clone();
        let call = Call::new(invite, policy, now, CallState::Ringing { offer: offer.clone(), caller_ice: Vec::new() })?;
        let effects = vec![
            Effect::Notify { to: Recipient::AllDevices(call.callee), signal: Signal::Incoming { offer } },
            Effect::Notify { to: Recipient::Device(call.caller), signal: Signal::Ringing },
            Effect::ArmTimer { timer: CallTimer::Ring, at: later(now, policy.ring_timeout_ms) },
        ];
        Ok((call, Transition { effects }))
    }

    /// A call to someone already in another call: it ends at once as `busy`, and the callee
    /// finds it as a missed call. Their other call is not disturbed.
    pub fn busy(invite: Invite, policy: CallPolicy, now: Timestamp) -> Result<(Call, Transition), CallError> {
        let ended = CallState::Ended { reason: EndReason::Busy, duration_ms: None, ended_at: now };
        let call = Call::new(invite, policy, now, ended)?;
        let effects = vec![
            Effect::Notify {
                to: Recipient::Device(call.caller),
                signal: Signal::Ended { reason: EndReason::Busy, duration_ms: None },
            },
            Effect::Record(call.record(EndReason::Busy, CallOutcome::Missed, now)),
        ];
        Ok((call, Transition { effects }))
    }

    /// Applies one event at `now`. On error nothing changed.
    pub fn apply(&mut self, event: CallEvent, now: Timestamp) -> Result<Transition, CallError> {
        match event {
            CallEvent::Accept { by, answer, node } => self.accept(by, answer, node, now),
            CallEvent::Hangup { by } => self.hang_up(by, now),
            CallEvent::Ice { from, candidate } => self.relay_ice(from, candidate),
            CallEvent::Disconnected { device, node } => self.disconnect(device, node, now),
            CallEvent::Connected { device, node } => self.connect(device, node),
            CallEvent::NodeGone { node, last_seen } => self.node_gone(node, last_seen.min(now), now),
            CallEvent::TimerFired(timer) => self.fire(timer, now),
        }
    }

    /// The call's id.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The direct conversation of the two users.
    pub fn conversation_id(&self) -> ConversationId {
        self.conversation_id
    }

    /// The device that placed the call.
    pub fn caller(&self) -> CallDevice {
        self.caller
    }

    /// Who was called.
    pub fn callee(&self) -> UserId {
        self.callee
    }

    /// Voice or video.
    pub fn media(&self) -> CallMedia {
        self.media
    }

    /// When it was placed.
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// Where it stands.
    pub fn state(&self) -> &CallState {
        &self.state
    }

    /// Whether it is over.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, CallState::Ended { .. })
    }

    /// The node serving the caller's connection, as far as the call knows.
    pub fn caller_node(&self) -> NodeId {
        self.caller_node
    }

    /// The nodes serving the parties' connections, as far as the call knows: the caller's, and
    /// the answering device's once answered (a ringing callee's devices are not followed).
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut nodes = vec![self.caller_node];
        if let CallState::Answered { callee_node, .. } = self.state
            && callee_node != self.caller_node
        {
            nodes.push(callee_node);
        }
        nodes
    }

    fn new(invite: Invite, policy: CallPolicy, now: Timestamp, state: CallState) -> Result<Call, CallError> {
        if invite.caller.user_id == invite.callee {
            return Err(CallError::CannotCallSelf);
        }
        Ok(Call {
            id: invite.id,
            conversation_id: invite.conversation_id,
            caller: invite.caller,
            caller_node: invite.caller_node,
            callee: invite.callee,
            media: invite.media,
            policy,
            started_at: now,
            state,
        })
    }

    fn accept(&mut self, by: CallDevice, answer: Sdp, node: NodeId, now: Timestamp) -> Result<Transition, CallError> {
        if self.party_of(by)? == Party::Caller {
            return Err(CallError::NotTheCallee);
        }
        let buffered = match &mut self.state {
            CallState::Ringing { caller_ice, .. } => std::mem::take(caller_ice),
            CallState::Answered { .. } => return Err(CallError::AlreadyAnswered),
            CallState::Ended { .. } => return Err(CallError::AlreadyEnded),
        };
        self.state = CallState::Answered {
            callee_device: by,
            callee_node: node,
            answered_at: now,
            caller_lost_at: None,
            callee_lost_at: None,
        };
        let mut effects = vec![
            Effect::CancelTimer(CallTimer::Ring),
            Effect::Notify { to: Recipient::Device(self.caller), signal: Signal::Accepted { answer } },
            Effect::Notify {
                to: Recipient::AllDevicesExcept { user_id: self.callee, session_id: by.session_id },
                signal: Signal::AnsweredElsewhere,
            },
        ];
        // After `call.accepted` went out, so the caller's candidates meet a peer connection
        // that is already set up on the callee's side.
        effects.extend(
            buffered
                .into_iter()
                .map(|candidate| Effect::Notify { to: Recipient::Device(by), signal: Signal::Ice { candidate } }),
        );
        Ok(Transition { effects })
    }

    fn hang_up(&mut self, by: CallDevice, now: Timestamp) -> Result<Transition, CallError> {
        let party = self.party_of(by)?;
        let reason = match &self.state {
            CallState::Ringing { .. } if party == Party::Caller => EndReason::Cancelled,
            CallState::Ringing { .. } => EndReason::Declined,
            CallState::Answered { .. } => {
                self.answering_party(by)?;
                EndReason::HungUp
            }
            CallState::Ended { .. } => return Err(CallError::AlreadyEnded),
        };
        Ok(self.end(reason, now))
    }

    fn relay_ice(&mut self, from: CallDevice, candidate: IceCandidate) -> Result<Transition, CallError> {
        let party = self.party_of(from)?;
        let to = match &mut self.state {
            CallState::Ringing { .. } if party == Party::Callee => return Err(CallError::NotAnswered),
            CallState::Ringing { caller_ice, .. } => {
                if caller_ice.len() >= MAX_BUFFERED_ICE {
                    return Err(CallError::TooManyCandidates);
                }
                caller_ice.push(candidate);
                return Ok(Transition::default());
            }
            CallState::Answered { callee_device, .. } => match party {
                Party::Caller => *callee_device,
                Party::Callee if from == *callee_device => self.caller,
                Party::Callee => return Err(CallError::AlreadyAnswered),
            },
            CallState::Ended { .. } => return Err(CallError::AlreadyEnded),
        };
        Ok(Transition {
            effects: vec![Effect::Notify { to: Recipient::Device(to), signal: Signal::Ice { candidate } }],
        })
    }

    fn disconnect(&mut self, device: CallDevice, node: NodeId, now: Timestamp) -> Result<Transition, CallError> {
        let party = self.party_of(device)?;
        match &self.state {
            // A callee device that only rings: its other devices keep ringing, and the ring
            // timeout covers the rest.
            CallState::Ringing { .. } if party == Party::Callee => return Ok(Transition::default()),
            CallState::Ringing { .. } | CallState::Answered { .. } => {}
            CallState::Ended { .. } => return Err(CallError::AlreadyEnded),
        }
        let party = self.answering_party(device)?;
        if self.node_of(party) != Some(node) {
            // A connection the device already replaced on another node.
            return Ok(Transition::default());
        }
        Ok(self.lose(party, now, now))
    }

    fn connect(&mut self, device: CallDevice, node: NodeId) -> Result<Transition, CallError> {
        let party = self.party_of(device)?;
        match &self.state {
            CallState::Ringing { offer, .. } if party == Party::Callee => {
                let signal = Signal::Incoming { offer: offer.clone() };
                return Ok(Transition { effects: vec![Effect::Notify { to: Recipient::Device(device), signal }] });
            }
            CallState::Ringing { .. } | CallState::Answered { .. } => {}
            CallState::Ended { .. } => return Err(CallError::AlreadyEnded),
        }
        let party = self.answering_party(device)?;
        self.set_node(party, node);
        let Some(lost_at) = self.lost_at_mut(party).and_then(Option::take) else { return Ok(Transition::default()) };
        Ok(Transition { effects: vec![Effect::CancelTimer(CallTimer::ReconnectGrace { party, lost_at })] })
    }

    /// Every party whose connection `node` served dropped at `since`.
    fn node_gone(&mut self, node: NodeId, since: Timestamp, now: Timestamp) -> Result<Transition, CallError> {
        if self.is_ended() {
            return Err(CallError::AlreadyEnded);
        }
        let mut transition = Transition::default();
        for party in [Party::Caller, Party::Callee] {
            if self.node_of(party) == Some(node) && !self.is_ended() {
                transition.effects.extend(self.lose(party, since, now).effects);
            }
        }
        Ok(transition)
    }

    /// `party`'s device dropped at `since`. While the call rings the caller's drop ends it:
    /// its offer died with its connection. Once answered, the grace to come back starts at
    /// `since`; a drop already known keeps its timer (two nodes, or a node's close and its
    /// death, told of one drop).
    fn lose(&mut self, party: Party, since: Timestamp, now: Timestamp) -> Transition {
        if matches!(self.state, CallState::Ringing { .. }) {
            return self.end(EndReason::ConnectionLost, now);
        }
        let grace = self.policy.reconnect_grace_ms;
        let Some(lost_at) = self.lost_at_mut(party) else { return Transition::default() };
        if lost_at.is_some() {
            return Transition::default();
        }
        *lost_at = Some(since);
        let timer = CallTimer::ReconnectGrace { party, lost_at: since };
        Transition { effects: vec![Effect::ArmTimer { timer, at: later(since, grace) }] }
    }

    fn fire(&mut self, timer: CallTimer, now: Timestamp) -> Result<Transition, CallError> {
        let due = match (&self.state, timer) {
            (CallState::Ended { .. }, _) => return Err(CallError::AlreadyEnded),
            (CallState::Ringing { .. }, CallTimer::Ring) => EndReason::Missed,
            (
                CallState::Answered { caller_lost_at, callee_lost_at, .. },
                CallTimer::ReconnectGrace { party, lost_at },
            ) => {
                let current = match party {
                    Party::Caller => caller_lost_at,
                    Party::Callee => callee_lost_at,
                };
                if *current != Some(lost_at) {
                    return Err(CallError::StaleTimer);
                }
                EndReason::ConnectionLost
            }
            _ => return Err(CallError::StaleTimer),
        };
        let mut transition = self.end(due, now);
        // The timer that fired is spent; cancelling it would only be noise.
        transition.effects.retain(|effect| *effect != Effect::CancelTimer(timer));
        Ok(transition)
    }

    /// Ends a live call: cancels its pending timers, tells everyone who knows of it, and
    /// yields the record of its SYSTEM message. Only called on a call that is not over.
    fn end(&mut self, reason: EndReason, now: Timestamp) -> Transition {
        let mut effects = Vec::new();
        let (answered_at, others) = match &self.state {
            CallState::Ringing { .. } => {
                effects.push(Effect::CancelTimer(CallTimer::Ring));
                (None, Recipient::AllDevices(self.callee))
            }
            CallState::Answered { callee_device, answered_at, caller_lost_at, callee_lost_at, .. } => {
                for (party, lost_at) in [(Party::Caller, caller_lost_at), (Party::Callee, callee_lost_at)] {
                    if let Some(lost_at) = *lost_at {
                        effects.push(Effect::CancelTimer(CallTimer::ReconnectGrace { party, lost_at }));
                    }
                }
                (Some(*answered_at), Recipient::Device(*callee_device))
            }
            // Unreachable: every caller checked first; ending twice must change nothing.
            CallState::Ended { .. } => return Transition::default(),
        };
        let duration_ms =
            answered_at.map(|answered_at| u64::try_from((now - answered_at).num_milliseconds()).unwrap_or(0));
        let outcome = match (duration_ms, reason) {
            (Some(duration_ms), _) => CallOutcome::Ended { duration_ms },
            (None, EndReason::Declined) => CallOutcome::Declined,
            (None, _) => CallOutcome::Missed,
        };
        for to in [Recipient::Device(self.caller), others] {
            effects.push(Effect::Notify { to, signal: Signal::Ended { reason, duration_ms } });
        }
        effects.push(Effect::Record(self.record(reason, outcome, now)));
        self.state = CallState::Ended { reason, duration_ms, ended_at: now };
        Transition { effects }
    }

    fn record(&self, reason: EndReason, outcome: CallOutcome, now: Timestamp) -> CallRecord {
        CallRecord {
            call_id: self.id,
            conversation_id: self.conversation_id,
            caller: self.caller.user_id,
            callee: self.callee,
            media: self.media,
            outcome,
            reason,
            started_at: self.started_at,
            ended_at: now,
        }
    }

    /// Which side `device` is on: the caller's one device, or any device of the callee.
    fn party_of(&self, device: CallDevice) -> Result<Party, CallError> {
        if device == self.caller {
            Ok(Party::Caller)
        } else if device.user_id == self.callee {
            Ok(Party::Callee)
        } else {
            Err(CallError::NotAParty)
        }
    }

    /// Once answered, only the answering device speaks for the callee.
    fn answering_party(&self, device: CallDevice) -> Result<Party, CallError> {
        match &self.state {
            CallState::Answered { callee_device, .. } if device == *callee_device => Ok(Party::Callee),
            _ if device == self.caller => Ok(Party::Caller),
            _ if device.user_id == self.callee => Err(CallError::AlreadyAnswered),
            _ => Err(CallError::NotAParty),
        }
    }

    /// The node serving `party`'s connection; `None` for a callee whose devices only ring.
    fn node_of(&self, party: Party) -> Option<NodeId> {
        match (party, &self.state) {
            (Party::Caller, _) => Some(self.caller_node),
            (Party::Callee, CallState::Answered { callee_node, .. }) => Some(*callee_node),
            (Party::Callee, _) => None,
        }
    }

    fn set_node(&mut self, party: Party, node: NodeId) {
        match (party, &mut self.state) {
            (Party::Caller, _) => self.caller_node = node,
            (Party::Callee, CallState::Answered { callee_node, .. }) => *callee_node = node,
            (Party::Callee, _) => {}
        }
    }

    fn lost_at_mut(&mut self, party: Party) -> Option<&mut Option<Timestamp>> {
        match &mut self.state {
            CallState::Answered { caller_lost_at, callee_lost_at, .. } => Some(match party {
                Party::Caller => caller_lost_at,
                Party::Callee => callee_lost_at,
            }),
            CallState::Ringing { .. } | CallState::Ended { .. } => None,
        }
    }
}

/// `now` plus `ms` milliseconds, saturating at the end of time.
fn later(now: Timestamp, ms: u64) -> Timestamp {
    let delta = Duration::try_milliseconds(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or(Duration::MAX);
    now.checked_add_signed(delta).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
