//! One test per path of the call state machine; `proptests` checks the invariants over random
//! interleavings.

use super::fixtures::{Cast, HOME, at, cast, ice, invite, node, ringing, sdp};
use super::*;

/// Rung at 0, answered on the phone at 1 s.
fn answered(cast: &Cast) -> Call {
    let mut call = ringing(cast);
    apply(&mut call, CallEvent::Accept { by: cast.phone, answer: sdp("v=0 answer"), node: home() }, 1_000);
    call
}

/// The node the cast is connected to.
fn home() -> crate::domain::ids::NodeId {
    node(HOME)
}

fn apply(call: &mut Call, event: CallEvent, ms: i64) -> Transition {
    call.apply(event, at(ms)).unwrap_or_else(|e| unreachable!("{e:?}"))
}

/// Applies an event that must be refused, and checks it changed nothing.
fn refused(call: &mut Call, event: CallEvent, ms: i64) -> CallError {
    let before = call.clone();
    let error = call.apply(event, at(ms)).err().unwrap_or_else(|| unreachable!("the event was accepted"));
    assert_eq!(*call, before, "a refused event changed the call");
    error
}

fn notify(to: Recipient, signal: Signal) -> Effect {
    Effect::Notify { to, signal }
}

fn ended(reason: EndReason, duration_ms: Option<u64>) -> Signal {
    Signal::Ended { reason, duration_ms }
}

#[test]
fn a_call_rings_every_callee_device_and_arms_the_ring_timeout() {
    let cast = cast();
    let (call, transition) =
        Call::ring(invite(&cast), CallPolicy::production(), at(0)).unwrap_or_else(|e| unreachable!("{e:?}"));
    assert_eq!(
        transition.effects,
        vec![
            notify(Recipient::AllDevices(cast.callee), Signal::Incoming { offer: sdp("v=0 offer") }),
            notify(Recipient::Device(cast.caller), Signal::Ringing),
            Effect::ArmTimer { timer: CallTimer::Ring, at: at(45_000) },
        ]
    );
    assert!(matches!(call.state(), CallState::Ringing { caller_ice, .. } if caller_ice.is_empty()));
    assert_eq!(
        (call.caller(), call.callee(), call.media(), call.started_at()),
        (cast.caller, cast.callee, CallMedia::Video, at(0))
    );
}

#[test]
fn nobody_can_call_themselves() {
    let cast = cast();
    let to_self = Invite { callee: cast.caller.user_id, ..invite(&cast) };
    assert_eq!(Call::ring(to_self.clone(), CallPolicy::production(), at(0)).err(), Some(CallError::CannotCallSelf));
    assert_eq!(Call::busy(to_self, CallPolicy::production(), at(0)).err(), Some(CallError::CannotCallSelf));
}

#[test]
fn a_busy_callee_ends_the_call_at_once_and_leaves_a_missed_call() {
    let cast = cast();
    let (mut call, transition) =
        Call::busy(invite(&cast), CallPolicy::production(), at(0)).unwrap_or_else(|e| unreachable!("{e:?}"));
    assert_eq!(transition.effects[0], notify(Recipient::Device(cast.caller), ended(EndReason::Busy, None)));
    let record = transition.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!((record.reason, record.outcome), (EndReason::Busy, CallOutcome::Missed));
    assert_eq!(transition.effects.len(), 2, "the callee's other call is not disturbed");
    assert_eq!(
        refused(&mut call, CallEvent::Accept { by: cast.phone, answer: sdp("a"), node: home() }, 1),
        CallError::AlreadyEnded
    );
}

#[test]
fn the_first_accept_wins_and_the_other_devices_are_told() {
    let cast = cast();
    let mut call = ringing(&cast);
    let transition =
        apply(&mut call, CallEvent::Accept { by: cast.laptop, answer: sdp("v=0 answer"), node: home() }, 2_000);
    assert_eq!(
        transition.effects,
        vec![
            Effect::CancelTimer(CallTimer::Ring),
            notify(Recipient::Device(cast.caller), Signal::Accepted { answer: sdp("v=0 answer") }),
            notify(
                Recipient::AllDevicesExcept { user_id: cast.callee, session_id: cast.laptop.session_id },
                Signal::AnsweredElsewhere
            ),
        ]
    );
    assert_eq!(
        refused(&mut call, CallEvent::Accept { by: cast.phone, answer: sdp("late"), node: home() }, 2_001),
        CallError::AlreadyAnswered
    );
    assert_eq!(
        refused(&mut call, CallEvent::Accept { by: cast.laptop, answer: sdp("again"), node: home() }, 2_002),
        CallError::AlreadyAnswered
    );
}

#[test]
fn only_a_callee_device_may_answer() {
    let cast = cast();
    let mut call = ringing(&cast);
    let answer = || sdp("v=0 answer");
    assert_eq!(
        refused(&mut call, CallEvent::Accept { by: cast.caller, answer: answer(), node: home() }, 1),
        CallError::NotTheCallee
    );
    assert_eq!(
        refused(&mut call, CallEvent::Accept { by: cast.caller_tablet, answer: answer(), node: home() }, 1),
        CallError::NotAParty
    );
    assert_eq!(
        refused(&mut call, CallEvent::Accept { by: cast.stranger, answer: answer(), node: home() }, 1),
        CallError::NotAParty
    );
}

#[test]
fn a_callee_hanging_up_while_it_rings_declines_on_every_device() {
    let cast = cast();
    let mut call = ringing(&cast);
    let transition = apply(&mut call, CallEvent::Hangup { by: cast.laptop }, 5_000);
    assert_eq!(
        transition.effects[..3],
        [
            Effect::CancelTimer(CallTimer::Ring),
            notify(Recipient::Device(cast.caller), ended(EndReason::Declined, None)),
            notify(Recipient::AllDevices(cast.callee), ended(EndReason::Declined, None)),
        ]
    );
    let record = transition.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!(
        (record.reason, record.outcome, record.ended_at),
        (EndReason::Declined, CallOutcome::Declined, at(5_000))
    );
    assert_eq!(*call.state(), CallState::Ended { reason: EndReason::Declined, duration_ms: None, ended_at: at(5_000) });
}

#[test]
fn a_caller_hanging_up_while_it_rings_cancels_and_the_callee_sees_a_missed_call() {
    let cast = cast();
    let mut call = ringing(&cast);
    let transition = apply(&mut call, CallEvent::Hangup { by: cast.caller }, 3_000);
    assert!(
        transition.effects.contains(&notify(Recipient::AllDevices(cast.callee), ended(EndReason::Cancelled, None)))
    );
    let record = transition.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!((record.reason, record.outcome), (EndReason::Cancelled, CallOutcome::Missed));
    assert_eq!(refused(&mut call, CallEvent::Hangup { by: cast.caller_tablet }, 3_001), CallError::NotAParty);
}

#[test]
fn hanging_up_an_answered_call_records_its_duration() {
    let cast = cast();
    let mut call = answered(&cast);
    assert_eq!(refused(&mut call, CallEvent::Hangup { by: cast.laptop }, 2_000), CallError::AlreadyAnswered);
    let transition = apply(&mut call, CallEvent::Hangup { by: cast.phone }, 61_000);
    assert_eq!(
        transition.effects,
        vec![
            notify(Recipient::Device(cast.caller), ended(EndReason::HungUp, Some(60_000))),
            notify(Recipient::Device(cast.phone), ended(EndReason::HungUp, Some(60_000))),
            Effect::Record(CallRecord {
                call_id: call.id(),
                conversation_id: call.conversation_id(),
                caller: cast.caller.user_id,
                callee: cast.callee,
                media: CallMedia::Video,
                outcome: CallOutcome::Ended { duration_ms: 60_000 },
                reason: EndReason::HungUp,
                started_at: at(0),
                ended_at: at(61_000),
            }),
        ]
    );
}

#[test]
fn no_answer_within_the_ring_timeout_is_a_missed_call() {
    let cast = cast();
    let mut call = ringing(&cast);
    let transition = apply(&mut call, CallEvent::TimerFired(CallTimer::Ring), 45_000);
    assert!(!transition.effects.contains(&Effect::CancelTimer(CallTimer::Ring)), "the fired timer is spent");
    let record = transition.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!((record.reason, record.outcome), (EndReason::Missed, CallOutcome::Missed));
    assert_eq!(refused(&mut call, CallEvent::TimerFired(CallTimer::Ring), 45_001), CallError::AlreadyEnded);
}

#[test]
fn the_ring_timeout_firing_after_the_answer_is_stale() {
    let cast = cast();
    let mut call = answered(&cast);
    assert_eq!(refused(&mut call, CallEvent::TimerFired(CallTimer::Ring), 45_000), CallError::StaleTimer);
}

#[test]
fn the_callers_early_candidates_wait_for_the_answering_device_in_order() {
    let cast = cast();
    let mut call = ringing(&cast);
    for text in ["c1", "c2"] {
        assert_eq!(
            apply(&mut call, CallEvent::Ice { from: cast.caller, candidate: ice(text) }, 100),
            Transition::default()
        );
    }
    let transition =
        apply(&mut call, CallEvent::Accept { by: cast.phone, answer: sdp("v=0 answer"), node: home() }, 1_000);
    assert_eq!(
        transition.effects[3..],
        [
            notify(Recipient::Device(cast.phone), Signal::Ice { candidate: ice("c1") }),
            notify(Recipient::Device(cast.phone), Signal::Ice { candidate: ice("c2") }),
        ]
    );
    assert!(matches!(call.state(), CallState::Answered { .. }));
}

#[test]
fn early_candidates_are_bounded_and_the_callee_sends_none_before_answering() {
    let cast = cast();
    let mut call = ringing(&cast);
    assert_eq!(refused(&mut call, CallEvent::Ice { from: cast.phone, candidate: ice("c") }, 1), CallError::NotAnswered);
    assert_eq!(
        refused(&mut call, CallEvent::Ice { from: cast.stranger, candidate: ice("c") }, 1),
        CallError::NotAParty
    );
    for _ in 0..MAX_BUFFERED_ICE {
        apply(&mut call, CallEvent::Ice { from: cast.caller, candidate: ice("c") }, 1);
    }
    assert_eq!(
        refused(&mut call, CallEvent::Ice { from: cast.caller, candidate: ice("c") }, 1),
        CallError::TooManyCandidates
    );
}

#[test]
fn once_answered_candidates_flow_only_between_the_two_devices() {
    let cast = cast();
    let mut call = answered(&cast);
    let to_phone = apply(&mut call, CallEvent::Ice { from: cast.caller, candidate: ice("a") }, 2_000);
    assert_eq!(to_phone.effects, vec![notify(Recipient::Device(cast.phone), Signal::Ice { candidate: ice("a") })]);
    let to_caller = apply(&mut call, CallEvent::Ice { from: cast.phone, candidate: ice("b") }, 2_000);
    assert_eq!(to_caller.effects, vec![notify(Recipient::Device(cast.caller), Signal::Ice { candidate: ice("b") })]);
    assert_eq!(
        refused(&mut call, CallEvent::Ice { from: cast.laptop, candidate: ice("x") }, 2_000),
        CallError::AlreadyAnswered
    );
    assert_eq!(
        refused(&mut call, CallEvent::Ice { from: cast.caller_tablet, candidate: ice("x") }, 2_000),
        CallError::NotAParty
    );
}

#[test]
fn the_caller_dropping_while_it_rings_ends_the_call() {
    let cast = cast();
    let mut call = ringing(&cast);
    assert_eq!(
        apply(&mut call, CallEvent::Disconnected { device: cast.phone, node: home() }, 500),
        Transition::default()
    );
    let transition = apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: home() }, 1_000);
    let record = transition.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!((record.reason, record.outcome), (EndReason::ConnectionLost, CallOutcome::Missed));
}

#[test]
fn a_callee_device_connecting_while_it_rings_gets_the_offer() {
    let cast = cast();
    let mut call = ringing(&cast);
    let transition = apply(&mut call, CallEvent::Connected { device: cast.laptop, node: home() }, 8_000);
    assert_eq!(
        transition.effects,
        vec![notify(Recipient::Device(cast.laptop), Signal::Incoming { offer: sdp("v=0 offer") })]
    );
    assert_eq!(
        apply(&mut call, CallEvent::Connected { device: cast.caller, node: home() }, 8_000),
        Transition::default()
    );
    assert_eq!(
        refused(&mut call, CallEvent::Connected { device: cast.stranger, node: home() }, 8_000),
        CallError::NotAParty
    );
}

#[test]
fn a_device_back_within_the_grace_period_resumes_the_call() {
    let cast = cast();
    let mut call = answered(&cast);
    let dropped = apply(&mut call, CallEvent::Disconnected { device: cast.phone, node: home() }, 10_000);
    let timer = CallTimer::ReconnectGrace { party: Party::Callee, lost_at: at(10_000) };
    assert_eq!(dropped.effects, vec![Effect::ArmTimer { timer, at: at(30_000) }]);
    assert_eq!(
        apply(&mut call, CallEvent::Disconnected { device: cast.phone, node: home() }, 11_000),
        Transition::default(),
        "told twice"
    );
    let back = apply(&mut call, CallEvent::Connected { device: cast.phone, node: home() }, 15_000);
    assert_eq!(back.effects, vec![Effect::CancelTimer(timer)]);
    assert_eq!(refused(&mut call, CallEvent::TimerFired(timer), 30_000), CallError::StaleTimer);
    assert_eq!(
        refused(&mut call, CallEvent::Connected { device: cast.laptop, node: home() }, 15_000),
        CallError::AlreadyAnswered
    );
    assert_eq!(
        refused(&mut call, CallEvent::Disconnected { device: cast.laptop, node: home() }, 15_000),
        CallError::AlreadyAnswered
    );
}

#[test]
fn a_device_not_back_within_the_grace_period_ends_the_call() {
    let cast = cast();
    let mut call = answered(&cast);
    apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: home() }, 10_000);
    let timer = CallTimer::ReconnectGrace { party: Party::Caller, lost_at: at(10_000) };
    let transition = apply(&mut call, CallEvent::TimerFired(timer), 30_000);
    assert!(!transition.effects.contains(&Effect::CancelTimer(timer)));
    let record = transition.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!(
        (record.reason, record.outcome),
        (EndReason::ConnectionLost, CallOutcome::Ended { duration_ms: 29_000 })
    );
}

#[test]
fn a_grace_timer_of_an_earlier_drop_cannot_end_the_call() {
    let cast = cast();
    let mut call = answered(&cast);
    apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: home() }, 10_000);
    apply(&mut call, CallEvent::Connected { device: cast.caller, node: home() }, 12_000);
    apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: home() }, 25_000);
    let first = CallTimer::ReconnectGrace { party: Party::Caller, lost_at: at(10_000) };
    assert_eq!(refused(&mut call, CallEvent::TimerFired(first), 30_000), CallError::StaleTimer);
    let second = CallTimer::ReconnectGrace { party: Party::Caller, lost_at: at(25_000) };
    assert!(apply(&mut call, CallEvent::TimerFired(second), 45_000).ended().is_some());
}

#[test]
fn ending_a_call_cancels_the_grace_timers_still_pending() {
    let cast = cast();
    let mut call = answered(&cast);
    apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: home() }, 10_000);
    apply(&mut call, CallEvent::Disconnected { device: cast.phone, node: home() }, 11_000);
    let caller_timer = CallTimer::ReconnectGrace { party: Party::Caller, lost_at: at(10_000) };
    let callee_timer = CallTimer::ReconnectGrace { party: Party::Callee, lost_at: at(11_000) };
    let transition = apply(&mut call, CallEvent::TimerFired(caller_timer), 30_000);
    assert!(transition.effects.contains(&Effect::CancelTimer(callee_timer)));
    assert!(!transition.effects.contains(&Effect::CancelTimer(caller_timer)));
}

#[test]
fn after_the_end_every_event_is_refused_and_changes_nothing() {
    let cast = cast();
    let mut call = answered(&cast);
    apply(&mut call, CallEvent::Hangup { by: cast.caller }, 9_000);
    let grace = CallTimer::ReconnectGrace { party: Party::Caller, lost_at: at(9_000) };
    for device in [cast.caller, cast.phone, cast.laptop] {
        for event in [
            CallEvent::Accept { by: device, answer: sdp("a"), node: home() },
            CallEvent::Hangup { by: device },
            CallEvent::Ice { from: device, candidate: ice("c") },
            CallEvent::Disconnected { device, node: home() },
            CallEvent::Connected { device, node: home() },
        ] {
            let expected = if event == (CallEvent::Accept { by: cast.caller, answer: sdp("a"), node: home() }) {
                CallError::NotTheCallee
            } else {
                CallError::AlreadyEnded
            };
            assert_eq!(refused(&mut call, event, 10_000), expected);
        }
    }
    assert_eq!(refused(&mut call, CallEvent::TimerFired(CallTimer::Ring), 45_000), CallError::AlreadyEnded);
    assert_eq!(refused(&mut call, CallEvent::TimerFired(grace), 45_000), CallError::AlreadyEnded);
    assert_eq!(refused(&mut call, CallEvent::Hangup { by: cast.stranger }, 10_000), CallError::NotAParty);
}

#[test]
fn both_parties_hanging_up_at_once_end_the_call_once() {
    let cast = cast();
    for (first, second) in [(cast.caller, cast.phone), (cast.phone, cast.caller)] {
        let mut call = answered(&cast);
        assert!(apply(&mut call, CallEvent::Hangup { by: first }, 5_000).ended().is_some());
        assert_eq!(refused(&mut call, CallEvent::Hangup { by: second }, 5_000), CallError::AlreadyEnded);
    }
}

#[test]
fn an_accept_racing_a_cancel_has_one_outcome_whichever_comes_first() {
    let cast = cast();
    let accept = || CallEvent::Accept { by: cast.phone, answer: sdp("v=0 answer"), node: home() };
    let cancel = CallEvent::Hangup { by: cast.caller };

    let mut cancelled_first = ringing(&cast);
    let record = apply(&mut cancelled_first, cancel.clone(), 4_000).ended().copied();
    assert_eq!(record.map(|r| (r.reason, r.outcome)), Some((EndReason::Cancelled, CallOutcome::Missed)));
    assert_eq!(refused(&mut cancelled_first, accept(), 4_000), CallError::AlreadyEnded);

    // The cancel arrives after the answer: the caller still wants out, so the call ends.
    let mut accepted_first = ringing(&cast);
    assert!(apply(&mut accepted_first, accept(), 4_000).ended().is_none());
    let record = apply(&mut accepted_first, cancel, 4_000).ended().copied();
    assert_eq!(record.map(|r| (r.reason, r.outcome)), Some((EndReason::HungUp, CallOutcome::Ended { duration_ms: 0 })));
}

#[test]
fn sdp_and_candidates_are_bounded() {
    assert!(Sdp::parse("v=0".repeat(MAX_SDP_BYTES / 3)).is_ok());
    assert_eq!(Sdp::parse("x".repeat(MAX_SDP_BYTES + 1)).map_err(|e| e.code), Err("invalid_sdp"));
    assert_eq!(Sdp::parse(" \r\n".to_owned()).map_err(|e| e.code), Err("invalid_sdp"));
    assert!(IceCandidate::parse("x".repeat(MAX_ICE_CANDIDATE_BYTES)).is_ok());
    let too_long = IceCandidate::parse("x".repeat(MAX_ICE_CANDIDATE_BYTES + 1));
    assert_eq!(too_long.map_err(|e| e.code), Err("invalid_ice_candidate"));
    assert_eq!(IceCandidate::parse(String::new()).map_err(|e| e.code), Err("invalid_ice_candidate"));
}

#[test]
fn wire_names_are_stable() {
    assert_eq!(CallMedia::parse("audio"), Some(CallMedia::Audio));
    assert_eq!(CallMedia::parse("video").map(CallMedia::as_str), Some("video"));
    assert_eq!(CallMedia::parse("screen"), None);
    let reasons = [
        (EndReason::Missed, "missed"),
        (EndReason::Declined, "declined"),
        (EndReason::Cancelled, "cancelled"),
        (EndReason::Busy, "busy"),
        (EndReason::HungUp, "hung_up"),
        (EndReason::ConnectionLost, "connection_lost"),
    ];
    for (reason, name) in reasons {
        assert_eq!(reason.as_str(), name);
    }
    assert_eq!(CallError::NotAParty.code(), "call_not_found");
}
