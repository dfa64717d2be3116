//! Random interleavings of everything that can happen to a call (both parties, three callee
//! devices, the caller's other device, a stranger, timers, drops, reconnects on two nodes,
//! nodes going silent, duplicates), checked against the machine's promises after every step.

use std::collections::HashSet;

use proptest::prelude::*;

use super::fixtures::{Cast, HOME, at, cast, device, ice, invite, node, sdp};
use super::*;
use crate::domain::Timestamp;

/// Who does something.
#[derive(Clone, Copy, Debug)]
enum Actor {
    Caller,
    CallerTablet,
    CalleeDevice(u128),
    Stranger,
}

/// One step of a run.
#[derive(Clone, Debug)]
enum Step {
    /// An accept from the device, on the node.
    Accept(Actor, u128),
    Hangup(Actor),
    Ice(Actor),
    /// The device's last connection on the node closed.
    Disconnect(Actor, u128),
    /// A connection of the device opened on the node.
    Connect(Actor, u128),
    /// The node was found silent, its last heartbeat this many milliseconds before now.
    NodeGone(u128, i64),
    /// Fire one of the timers armed so far (pending or not), or the ring timer if none was.
    FireTimer(usize),
    /// The previous event again, at the same instant (a retry, or two nodes reporting it).
    Repeat,
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        5 => Just(Actor::Caller),
        1 => Just(Actor::CallerTablet),
        // One callee device more often than the others, so runs where the same device answers,
        // drops and comes back are common.
        4 => Just(Actor::CalleeDevice(0)),
        3 => (1u128..3).prop_map(Actor::CalleeDevice),
        1 => Just(Actor::Stranger),
    ]
}

/// Node 1 (where the caller starts) more often than node 2.
fn on_node() -> impl Strategy<Value = u128> {
    prop_oneof![3 => Just(HOME), 1 => Just(HOME + 1)]
}

fn node_gone() -> impl Strategy<Value = Step> {
    (on_node(), -2_000i64..8_000).prop_map(|(node, ago)| Step::NodeGone(node, ago))
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (actor(), on_node()).prop_map(|(actor, node)| Step::Accept(actor, node)),
        2 => actor().prop_map(Step::Hangup),
        4 => actor().prop_map(Step::Ice),
        2 => (actor(), on_node()).prop_map(|(actor, node)| Step::Disconnect(actor, node)),
        2 => (actor(), on_node()).prop_map(|(actor, node)| Step::Connect(actor, node)),
        1 => node_gone(),
        2 => any::<usize>().prop_map(Step::FireTimer),
        1 => Just(Step::Repeat),
    ]
}

fn resolve(cast: &Cast, actor: Actor) -> CallDevice {
    match actor {
        Actor::Caller => cast.caller,
        Actor::CallerTablet => cast.caller_tablet,
        // The phone and the laptop of the cast, and a third device of the callee.
        Actor::CalleeDevice(n) => device(2, 20 + n),
        Actor::Stranger => cast.stranger,
    }
}

/// What the run has seen so far, to check each transition against.
#[derive(Default)]
struct Observed {
    armed: Vec<CallTimer>,
    pending: HashSet<CallTimer>,
    records: usize,
    winner: Option<(CallDevice, Timestamp)>,
    /// The caller's candidates accepted while it rang, in order.
    early_ice: Vec<IceCandidate>,
    serial: u32,
    /// Where the caller's device and the answering device are, as the events said.
    caller_node: Option<crate::domain::ids::NodeId>,
    callee_node: Option<crate::domain::ids::NodeId>,
}

impl Observed {
    /// The node the events put `device` on, if it is the caller's or the answering device.
    fn node_of(&self, cast: &Cast, device: CallDevice) -> Option<crate::domain::ids::NodeId> {
        if device == cast.caller {
            self.caller_node
        } else if self.winner.is_some_and(|(winner, _)| winner == device) {
            self.callee_node
        } else {
            None
        }
    }

    /// Moves the parties' nodes as an accepted event says.
    fn follow(&mut self, cast: &Cast, event: &CallEvent) {
        match event {
            CallEvent::Accept { node, .. } => self.callee_node = Some(*node),
            CallEvent::Connected { device, node } if *device == cast.caller => self.caller_node = Some(*node),
            CallEvent::Connected { device, node } if self.winner.is_some_and(|(winner, _)| winner == *device) => {
                self.callee_node = Some(*node)
            }
            _ => {}
        }
    }

    fn take_timer_effects(&mut self, transition: &Transition) -> Result<(), TestCaseError> {
        for effect in &transition.effects {
            match effect {
                Effect::ArmTimer { timer, .. } => {
                    self.armed.push(*timer);
                    prop_assert!(self.pending.insert(*timer), "{timer:?} armed twice");
                }
                Effect::CancelTimer(timer) => {
                    prop_assert!(self.pending.remove(timer), "{timer:?} cancelled but not pending");
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The event of `step`, taking place at `now`.
fn event_for(cast: &Cast, step: &Step, now: Timestamp, observed: &mut Observed) -> Option<CallEvent> {
    Some(match *step {
        Step::Accept(actor, on) => {
            observed.serial += 1;
            let answer = sdp(&format!("answer {}", observed.serial));
            CallEvent::Accept { by: resolve(cast, actor), answer, node: node(on) }
        }
        Step::Hangup(actor) => CallEvent::Hangup { by: resolve(cast, actor) },
        Step::Ice(actor) => {
            observed.serial += 1;
            CallEvent::Ice { from: resolve(cast, actor), candidate: ice(&format!("candidate {}", observed.serial)) }
        }
        Step::Disconnect(actor, on) => CallEvent::Disconnected { device: resolve(cast, actor), node: node(on) },
        Step::Connect(actor, on) => CallEvent::Connected { device: resolve(cast, actor), node: node(on) },
        Step::NodeGone(on, ago) => {
            CallEvent::NodeGone { node: node(on), last_seen: now - chrono::Duration::milliseconds(ago) }
        }
        Step::FireTimer(pick) => {
            let timer = match observed.armed.len() {
                0 => CallTimer::Ring,
                armed => observed.armed[pick % armed],
            };
            CallEvent::TimerFired(timer)
        }
        Step::Repeat => return None,
    })
}

/// The device an event comes from (none for a timer).
fn sender(event: &CallEvent) -> Option<CallDevice> {
    match event {
        CallEvent::Accept { by: device, .. }
        | CallEvent::Hangup { by: device }
        | CallEvent::Ice { from: device, .. }
        | CallEvent::Disconnected { device, .. }
        | CallEvent::Connected { device, .. } => Some(*device),
        CallEvent::TimerFired(_) | CallEvent::NodeGone { .. } => None,
    }
}

/// The reason an event that ended the call must have given.
fn expected_reason(call_before: &Call, event: &CallEvent) -> Option<EndReason> {
    let answered = matches!(call_before.state(), CallState::Answered { .. });
    Some(match event {
        CallEvent::Hangup { .. } if answered => EndReason::HungUp,
        CallEvent::Hangup { by } if *by == call_before.caller() => EndReason::Cancelled,
        CallEvent::Hangup { .. } => EndReason::Declined,
        CallEvent::TimerFired(CallTimer::Ring) => EndReason::Missed,
        CallEvent::TimerFired(CallTimer::ReconnectGrace { .. })
        | CallEvent::Disconnected { .. }
        | CallEvent::NodeGone { .. } => EndReason::ConnectionLost,
        CallEvent::Accept { .. } | CallEvent::Ice { .. } | CallEvent::Connected { .. } => return None,
    })
}

fn check_recipients(cast: &Cast, transition: &Transition) -> Result<(), TestCaseError> {
    for effect in &transition.effects {
        if let Effect::Notify { to, .. } = effect {
            match to {
                Recipient::Device(device) => {
                    prop_assert!(*device == cast.caller || device.user_id == cast.callee, "signal to {device:?}")
                }
                Recipient::AllDevices(user) | Recipient::AllDevicesExcept { user_id: user, .. } => {
                    prop_assert_eq!(*user, cast.callee)
                }
            }
        }
    }
    Ok(())
}

fn ice_effects(transition: &Transition) -> Vec<(Recipient, IceCandidate)> {
    transition
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Notify { to, signal: Signal::Ice { candidate } } => Some((*to, candidate.clone())),
            _ => None,
        })
        .collect()
}

/// Checks one applied step; `before` is the call as it was.
fn check_step(
    cast: &Cast,
    before: &Call,
    after: &Call,
    event: &CallEvent,
    result: &Result<Transition, CallError>,
    now: Timestamp,
    observed: &mut Observed,
) -> Result<(), TestCaseError> {
    let transition = match result {
        Err(error) => {
            prop_assert_eq!(after, before, "{:?} was refused but changed the call", error);
            if let CallEvent::TimerFired(timer) = event {
                prop_assert!(before.is_ended() || !observed.pending.contains(timer), "pending {timer:?} refused");
            }
            if let CallEvent::Accept { by, .. } = event {
                let ringing = matches!(before.state(), CallState::Ringing { .. });
                prop_assert!(!(ringing && by.user_id == cast.callee), "a callee device's first accept was refused");
            }
            return Ok(());
        }
        Ok(transition) => transition,
    };
    prop_assert!(!before.is_ended(), "{event:?} was accepted after the end");
    // Only the parties act: the caller's one device and the callee's devices, and once it is
    // answered, only the device that answered.
    if let Some(device) = sender(event) {
        let party = device == cast.caller || device.user_id == cast.callee;
        prop_assert!(party, "{event:?} from a non-party was accepted");
        if let Some((winner, _)) = observed.winner {
            prop_assert!(device == cast.caller || device == winner, "{event:?} accepted after another device answered");
        }
    }
    check_recipients(cast, transition)?;
    // A close from a node the device is not on, or a silent node no party is on, is news of
    // nothing: the call stays exactly as it was.
    match event {
        CallEvent::Disconnected { device, node } if observed.node_of(cast, *device) != Some(*node) => {
            prop_assert_eq!(after, before, "a stale close changed the call");
        }
        CallEvent::NodeGone { node, .. }
            if observed.caller_node != Some(*node)
                && (observed.winner.is_none() || observed.callee_node != Some(*node)) =>
        {
            prop_assert_eq!(after, before, "a node serving nobody of the call changed it");
        }
        _ => {}
    }
    observed.follow(cast, event);
    if let CallEvent::TimerFired(timer) = event {
        prop_assert!(observed.pending.remove(timer), "{timer:?} fired though not pending");
    }
    observed.take_timer_effects(transition)?;

    // ICE goes only between the caller's device and the answering device.
    let relayed = ice_effects(transition);
    match event {
        CallEvent::Accept { by, .. } => {
            prop_assert!(observed.winner.is_none(), "a second accept won");
            observed.winner = Some((*by, now));
            let flushed: Vec<_> =
                observed.early_ice.drain(..).map(|candidate| (Recipient::Device(*by), candidate)).collect();
            prop_assert_eq!(relayed, flushed);
        }
        CallEvent::Ice { from, candidate } => match observed.winner {
            None => {
                prop_assert_eq!(*from, cast.caller);
                prop_assert!(relayed.is_empty(), "ICE relayed before the answer");
                observed.early_ice.push(candidate.clone());
            }
            Some((winner, _)) => {
                let to = if *from == cast.caller { winner } else { cast.caller };
                prop_assert!(*from == cast.caller || *from == winner);
                prop_assert_eq!(relayed, vec![(Recipient::Device(to), candidate.clone())]);
            }
        },
        _ => prop_assert!(relayed.is_empty(), "{event:?} relayed ICE"),
    }

    // At most one record ever, exactly when the call ends, consistent with how it ended.
    let records: Vec<&CallRecord> =
        transition.effects.iter().filter_map(|e| if let Effect::Record(r) = e { Some(r) } else { None }).collect();
    prop_assert!(records.len() <= 1);
    prop_assert_eq!(records.len() == 1, after.is_ended(), "a record without an end or an end without one");
    if let Some(record) = records.first() {
        observed.records += 1;
        prop_assert_eq!(Some(record.reason), expected_reason(before, event));
        let outcome = match (observed.winner, record.reason) {
            (Some((_, answered_at)), _) => {
                CallOutcome::Ended { duration_ms: u64::try_from((now - answered_at).num_milliseconds()).unwrap_or(0) }
            }
            (None, EndReason::Declined) => CallOutcome::Declined,
            (None, _) => CallOutcome::Missed,
        };
        prop_assert_eq!(record.outcome, outcome);
        prop_assert_eq!(record.ended_at, now);
        let caller_told = transition.effects.iter().any(|effect| {
            matches!(effect, Effect::Notify { to: Recipient::Device(device), signal: Signal::Ended { reason, .. } }
                if *device == cast.caller && *reason == record.reason)
        });
        prop_assert!(caller_told, "the caller was not told the call ended");
        prop_assert!(observed.pending.is_empty(), "timers left pending at the end: {:?}", observed.pending);
    }
    prop_assert!(observed.records <= 1);
    Ok(())
}

/// How a run begins.
#[derive(Clone, Copy, Debug)]
enum Opening {
    Ring,
    Busy,
    /// Rung, then answered at once by the callee's first device (runs about drops and timers).
    Answered,
}

fn run(opening: Opening, steps: Vec<(Step, i64)>) -> Result<(), TestCaseError> {
    let cast = cast();
    let start = if matches!(opening, Opening::Busy) { Call::busy } else { Call::ring };
    let (mut call, first) = start(invite(&cast), CallPolicy::production(), at(0))
        .map_err(|error| TestCaseError::fail(format!("{error:?}")))?;
    let mut observed = Observed { caller_node: Some(node(HOME)), ..Observed::default() };
    observed.take_timer_effects(&first)?;
    observed.records = usize::from(first.ended().is_some());
    prop_assert_eq!(observed.records == 1, call.is_ended());
    check_recipients(&cast, &first)?;

    let mut steps: Vec<(Step, i64)> = steps;
    if matches!(opening, Opening::Answered) {
        steps.insert(0, (Step::Accept(Actor::CalleeDevice(0), HOME + 1), 0));
    }
    let mut now = at(0);
    let mut previous: Option<CallEvent> = None;
    for (step, gap) in steps {
        let next = now + chrono::Duration::milliseconds(gap);
        let event = match event_for(&cast, &step, next, &mut observed) {
            Some(event) => {
                now = next;
                event
            }
            None => match previous.clone() {
                Some(event) => event,
                None => continue,
            },
        };
        let before = call.clone();
        let result = call.apply(event.clone(), now);
        check_step(&cast, &before, &call, &event, &result, now, &mut observed)?;
        previous = Some(event);
    }
    prop_assert_eq!(observed.records == 1, call.is_ended(), "a record iff the call ended");
    Ok(())
}

/// Steps about the two devices of an answered call: drops, returns, timers, ICE, a hangup now
/// and then.
fn answered_step() -> impl Strategy<Value = Step> {
    let party = prop_oneof![Just(Actor::Caller), Just(Actor::CalleeDevice(0))];
    prop_oneof![
        4 => (party.clone(), on_node()).prop_map(|(actor, node)| Step::Disconnect(actor, node)),
        4 => (party.clone(), on_node()).prop_map(|(actor, node)| Step::Connect(actor, node)),
        2 => node_gone(),
        4 => any::<usize>().prop_map(Step::FireTimer),
        2 => party.clone().prop_map(Step::Ice),
        1 => Just(Step::Repeat),
        1 => party.prop_map(Step::Hangup),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_run_ends_at_most_once_and_keeps_its_promises(
        busy in prop::bool::weighted(0.05),
        steps in prop::collection::vec((step(), 0i64..25_000), 0..40),
    ) {
        run(if busy { Opening::Busy } else { Opening::Ring }, steps)?;
    }

    #[test]
    fn drops_and_returns_of_an_answered_call_end_it_once_and_only_when_due(
        steps in prop::collection::vec((answered_step(), 0i64..15_000), 0..30),
    ) {
        run(Opening::Answered, steps)?;
    }
}
