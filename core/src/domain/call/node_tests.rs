//! The nodes a call knows its parties on: a stale close from a node the device left, and a
//! node that goes silent mid-call.

use super::fixtures::{Cast, HOME, at, cast, ringing, sdp};
use super::*;
use crate::domain::ids::NodeId;

fn node(n: u128) -> NodeId {
    super::fixtures::node(n)
}

fn apply(call: &mut Call, event: CallEvent, ms: i64) -> Transition {
    call.apply(event, at(ms)).unwrap_or_else(|e| unreachable!("{e:?}"))
}

/// Rung from node 1 at 0, answered on the phone on `callee_node` at 1 s.
fn answered_on(cast: &Cast, callee_node: u128) -> Call {
    let mut call = ringing(cast);
    apply(&mut call, CallEvent::Accept { by: cast.phone, answer: sdp("v=0 answer"), node: node(callee_node) }, 1_000);
    call
}

fn gone(n: u128, last_seen_ms: i64) -> CallEvent {
    CallEvent::NodeGone { node: node(n), last_seen: at(last_seen_ms) }
}

fn grace(party: Party, lost_at_ms: i64) -> CallTimer {
    CallTimer::ReconnectGrace { party, lost_at: at(lost_at_ms) }
}

#[test]
fn a_call_knows_the_nodes_of_the_caller_and_of_the_answering_device() {
    let cast = cast();
    let mut call = ringing(&cast);
    assert_eq!(call.nodes(), vec![node(HOME)]);
    // A ringing callee's devices are not followed.
    apply(&mut call, CallEvent::Connected { device: cast.laptop, node: node(3) }, 500);
    assert_eq!(call.nodes(), vec![node(HOME)]);
    apply(&mut call, CallEvent::Accept { by: cast.phone, answer: sdp("a"), node: node(2) }, 1_000);
    assert_eq!(call.nodes(), vec![node(HOME), node(2)]);
    apply(&mut call, CallEvent::Connected { device: cast.caller, node: node(2) }, 2_000);
    assert_eq!(call.nodes(), vec![node(2)], "both on node 2 now");
}

#[test]
fn a_close_from_a_node_the_device_left_changes_nothing() {
    let cast = cast();
    let mut call = answered_on(&cast, 2);
    // The caller reconnected on node 3 before its old socket on node 1 was seen to close.
    assert_eq!(
        apply(&mut call, CallEvent::Connected { device: cast.caller, node: node(3) }, 5_000),
        Transition::default()
    );
    assert_eq!(
        apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: node(HOME) }, 5_100),
        Transition::default()
    );
    assert_eq!(
        apply(&mut call, CallEvent::Disconnected { device: cast.phone, node: node(HOME) }, 5_100),
        Transition::default(),
        "the phone is on node 2"
    );
    // A close on the node it is on is a drop.
    let dropped = apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: node(3) }, 6_000);
    assert_eq!(dropped.effects, vec![Effect::ArmTimer { timer: grace(Party::Caller, 6_000), at: at(26_000) }]);
}

#[test]
fn a_stale_close_while_it_rings_does_not_end_the_call() {
    let cast = cast();
    let mut call = ringing(&cast);
    apply(&mut call, CallEvent::Connected { device: cast.caller, node: node(2) }, 500);
    assert_eq!(
        apply(&mut call, CallEvent::Disconnected { device: cast.caller, node: node(HOME) }, 600),
        Transition::default()
    );
    assert!(!call.is_ended());
}

#[test]
fn a_silent_node_drops_its_party_from_its_last_heartbeat() {
    let cast = cast();
    let mut call = answered_on(&cast, 2);
    // Node 2 last beat at 10 s and was found silent at 15.5 s: the grace runs from 10 s.
    let transition = apply(&mut call, gone(2, 10_000), 15_500);
    assert_eq!(transition.effects, vec![Effect::ArmTimer { timer: grace(Party::Callee, 10_000), at: at(30_000) }]);
    let end = apply(&mut call, CallEvent::TimerFired(grace(Party::Callee, 10_000)), 30_000);
    assert!(end.effects.contains(&Effect::Notify {
        to: Recipient::Device(cast.caller),
        signal: Signal::Ended { reason: EndReason::ConnectionLost, duration_ms: Some(29_000) },
    }));
    let record = end.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!(record.outcome, CallOutcome::Ended { duration_ms: 29_000 });
}

#[test]
fn a_device_back_on_another_node_keeps_the_call_when_its_old_node_is_found_dead() {
    let cast = cast();
    let mut call = answered_on(&cast, 2);
    // The phone noticed first and reconnected on node 3.
    apply(&mut call, CallEvent::Connected { device: cast.phone, node: node(3) }, 11_000);
    assert_eq!(apply(&mut call, gone(2, 10_000), 15_500), Transition::default());
    // And a device that comes back after the node was found dead resumes as after any drop.
    let mut call = answered_on(&cast, 2);
    apply(&mut call, gone(2, 10_000), 15_500);
    let back = apply(&mut call, CallEvent::Connected { device: cast.phone, node: node(3) }, 16_000);
    assert_eq!(back.effects, vec![Effect::CancelTimer(grace(Party::Callee, 10_000))]);
    assert_eq!(call.nodes(), vec![node(HOME), node(3)]);
}

#[test]
fn a_silent_node_serving_both_parties_drops_both() {
    let cast = cast();
    let mut call = answered_on(&cast, HOME);
    let transition = apply(&mut call, gone(HOME, 10_000), 15_000);
    assert_eq!(
        transition.effects,
        vec![
            Effect::ArmTimer { timer: grace(Party::Caller, 10_000), at: at(30_000) },
            Effect::ArmTimer { timer: grace(Party::Callee, 10_000), at: at(30_000) },
        ]
    );
}

#[test]
fn the_callers_node_going_silent_while_it_rings_ends_the_call() {
    let cast = cast();
    let mut call = ringing(&cast);
    assert_eq!(apply(&mut call, gone(2, 3_000), 8_000), Transition::default(), "another node");
    let transition = apply(&mut call, gone(HOME, 3_000), 8_000);
    let record = transition.ended().copied().unwrap_or_else(|| unreachable!("no record"));
    assert_eq!(
        (record.reason, record.outcome, record.ended_at),
        (EndReason::ConnectionLost, CallOutcome::Missed, at(8_000))
    );
}

#[test]
fn a_drop_already_known_keeps_its_timer_and_a_future_heartbeat_counts_as_now() {
    let cast = cast();
    let mut call = answered_on(&cast, 2);
    apply(&mut call, CallEvent::Disconnected { device: cast.phone, node: node(2) }, 9_000);
    assert_eq!(apply(&mut call, gone(2, 10_000), 15_000), Transition::default());
    // A heartbeat "after" now (another node's clock runs ahead) is taken as now.
    let mut call = answered_on(&cast, 2);
    let transition = apply(&mut call, gone(2, 20_000), 15_000);
    assert_eq!(transition.effects, vec![Effect::ArmTimer { timer: grace(Party::Callee, 15_000), at: at(35_000) }]);
}

#[test]
fn an_ended_call_refuses_a_silent_node() {
    let cast = cast();
    let mut call = answered_on(&cast, 2);
    apply(&mut call, CallEvent::Hangup { by: cast.caller }, 5_000);
    assert_eq!(call.apply(gone(2, 6_000), at(7_000)), Err(CallError::AlreadyEnded));
}

#[test]
fn a_call_stored_before_calls_knew_their_nodes_still_reads() {
    let cast = cast();
    let call = answered_on(&cast, 2);
    let mut json = serde_json::to_value(&call).unwrap_or_else(|e| unreachable!("{e}"));
    let fields = json.as_object_mut().unwrap_or_else(|| unreachable!("an object"));
    fields.remove("caller_node");
    if let Some(state) = fields.get_mut("state").and_then(|state| state.as_object_mut()) {
        state.remove("callee_node");
    }
    let read: Call = serde_json::from_value(json).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(read.nodes(), vec![NodeId::unknown()]);
    assert_eq!(read.state(), &{
        let CallState::Answered { callee_device, answered_at, .. } = call.state().clone() else { unreachable!() };
        CallState::Answered {
            callee_device,
            callee_node: NodeId::unknown(),
            answered_at,
            caller_lost_at: None,
            callee_lost_at: None,
        }
    });
}
