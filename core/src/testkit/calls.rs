//! The call-store contract: every `CallStore` (memory, Redis) behaves so. A user is in one
//! call at a time, an update wins only against the version it read, ending a call frees its
//! users, each due timer goes to one taker, and every key lapses `ttl` after its last write.
//!
//! Expiry is judged by the store's own clock (Redis's, or the runtime's in memory), so the
//! checks of a lapse wait in real time, polling with a deadline far past the `ttl`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::{Duration as StdDuration, Instant};

use futures_util::future::join_all;

use crate::domain::Duration;
use crate::domain::call::{Call, CallDevice, CallEvent, CallMedia, CallPolicy, CallTimer, Invite, Party, Sdp};
use crate::domain::ids::{CallId, ConversationId, NodeId, SessionId, UserId};
use crate::ports::{CallStore, StartOutcome, StoredCall};

use super::contract::{new_id, now};
use super::wait::pause;

/// Long enough that nothing a check does outlives it by accident.
fn hour() -> Duration {
    Duration::hours(1)
}

/// A fresh user.
fn user() -> UserId {
    UserId(new_id())
}

/// A device of `user` (one session of its own).
fn device(user: UserId) -> CallDevice {
    CallDevice { user_id: user, session_id: SessionId(new_id()) }
}

fn sdp(text: &str) -> Sdp {
    Sdp::parse(text.to_owned()).unwrap()
}

/// A fresh node.
fn node() -> NodeId {
    NodeId(new_id())
}

/// A new call from a device of `caller` to `callee`, ringing.
fn ringing(caller: UserId, callee: UserId) -> Call {
    ringing_from(caller, callee, node())
}

/// A new call from a device of `caller` on `caller_node` to `callee`, ringing.
fn ringing_from(caller: UserId, callee: UserId, caller_node: NodeId) -> Call {
    let invite = Invite {
        id: CallId(new_id()),
        conversation_id: ConversationId(new_id()),
        caller: device(caller),
        caller_node,
        callee,
        media: CallMedia::Audio,
        offer: sdp("v=0 offer"),
    };
    Call::ring(invite, CallPolicy::production(), now()).unwrap().0
}

/// The call answered by a device of its callee.
fn answered(call: &Call) -> Call {
    answered_on(call, node())
}

/// The call answered by a device of its callee on `node`.
fn answered_on(call: &Call, node: NodeId) -> Call {
    let mut answered = call.clone();
    let accept = CallEvent::Accept { by: device(call.callee()), answer: sdp("v=0 answer"), node };
    answered.apply(accept, now()).unwrap();
    answered
}

/// The call hung up by its caller (a cancel while it rings, a hangup once answered).
fn ended(call: &Call) -> Call {
    let mut ended = call.clone();
    ended.apply(CallEvent::Hangup { by: call.caller() }, now()).unwrap();
    assert!(ended.is_ended());
    ended
}

/// A call started between two fresh users, with a `ttl` of an hour.
async fn started(store: &dyn CallStore) -> Call {
    let call = ringing(user(), user());
    assert_eq!(store.start(&call, hour()).await.unwrap(), StartOutcome::Started);
    call
}

/// A started call reads back as stored at version 1 and is the current call of both users.
pub async fn a_started_call_reads_back_at_version_one(store: &dyn CallStore) {
    let call = ringing(user(), user());
    assert_eq!(store.call(call.id()).await.unwrap(), None, "not stored before it starts");
    assert_eq!(store.start(&call, hour()).await.unwrap(), StartOutcome::Started);
    assert_eq!(store.call(call.id()).await.unwrap(), Some(StoredCall { call: call.clone(), version: 1 }));
    assert_eq!(store.current_call(call.caller().user_id).await.unwrap(), Some(call.id()));
    assert_eq!(store.current_call(call.callee()).await.unwrap(), Some(call.id()));
    assert_eq!(store.current_call(user()).await.unwrap(), None, "a stranger is in no call");
}

/// While a call lasts, another call involving either of its users, as caller or callee, is
/// refused as busy naming that user, and stores nothing.
pub async fn a_call_involving_a_user_in_a_call_is_busy_and_stores_nothing(store: &dyn CallStore) {
    let first = started(store).await;
    let (caller, callee) = (first.caller().user_id, first.callee());
    for (other, busy) in [
        (ringing(user(), callee), callee),
        (ringing(user(), caller), caller),
        (ringing(caller, user()), caller),
        (ringing(callee, user()), callee),
    ] {
        assert_eq!(store.start(&other, hour()).await.unwrap(), StartOutcome::Busy(busy));
        assert_eq!(store.call(other.id()).await.unwrap(), None, "a busy call is not stored");
        for party in [other.caller().user_id, other.callee()] {
            let expected = if party == caller || party == callee { Some(first.id()) } else { None };
            assert_eq!(store.current_call(party).await.unwrap(), expected, "{party} after a busy call");
        }
    }
    // Both busy: either may be named (the port does not say which).
    let between_them = ringing(caller, callee);
    let outcome = store.start(&between_them, hour()).await.unwrap();
    assert!(outcome == StartOutcome::Busy(caller) || outcome == StartOutcome::Busy(callee), "{outcome:?}");
    assert_eq!(store.call(between_them.id()).await.unwrap(), None);
    assert_eq!(store.call(first.id()).await.unwrap().unwrap().version, 1, "the first call is untouched");
}

/// Eight callers ring one callee at once: exactly one call starts, the others are told the
/// callee is busy.
pub async fn concurrent_calls_to_one_user_start_once(store: &dyn CallStore) {
    let callee = user();
    let calls: Vec<Call> = (0..8).map(|_| ringing(user(), callee)).collect();
    let outcomes = join_all(calls.iter().map(|call| store.start(call, hour()))).await;
    let outcomes: Vec<StartOutcome> = outcomes.into_iter().map(Result::unwrap).collect();
    let winners: Vec<&Call> =
        calls.iter().zip(&outcomes).filter(|(_, outcome)| **outcome == StartOutcome::Started).map(|(c, _)| c).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|outcome| **outcome == StartOutcome::Busy(callee)).count(), 7);
    assert_eq!(store.current_call(callee).await.unwrap(), Some(winners[0].id()));
}

/// An update naming the stored version replaces the call and moves the version on by one;
/// the next update must name the new version.
pub async fn an_update_naming_the_stored_version_replaces_the_call(store: &dyn CallStore) {
    let call = started(store).await;
    let answered = answered(&call);
    assert_eq!(store.update(&answered, 1, hour()).await.unwrap(), Some(2));
    assert_eq!(store.call(call.id()).await.unwrap(), Some(StoredCall { call: answered.clone(), version: 2 }));
    assert_eq!(store.current_call(call.callee()).await.unwrap(), Some(call.id()), "a live call holds its users");
    let ended = ended(&answered);
    assert_eq!(store.update(&ended, 2, hour()).await.unwrap(), Some(3));
    assert_eq!(store.call(call.id()).await.unwrap(), Some(StoredCall { call: ended, version: 3 }));
}

/// An update naming an older version, or a call that was never started, changes nothing.
pub async fn an_update_naming_a_stale_version_changes_nothing(store: &dyn CallStore) {
    let call = started(store).await;
    let answered = answered(&call);
    assert_eq!(store.update(&answered, 1, hour()).await.unwrap(), Some(2));
    let ended = ended(&call);
    assert_eq!(store.update(&ended, 1, hour()).await.unwrap(), None, "version 1 is gone");
    assert_eq!(store.update(&ended, 3, hour()).await.unwrap(), None, "version 3 never was");
    assert_eq!(store.call(call.id()).await.unwrap(), Some(StoredCall { call: answered, version: 2 }));
    for party in [call.caller().user_id, call.callee()] {
        assert_eq!(store.current_call(party).await.unwrap(), Some(call.id()), "a refused end frees nobody");
    }
    let never_started = ringing(user(), user());
    assert_eq!(store.update(&never_started, 1, hour()).await.unwrap(), None);
    assert_eq!(store.call(never_started.id()).await.unwrap(), None, "a refused update stores nothing");
}

/// Eight updates naming the same version at once: exactly one wins, and its call is the
/// one stored.
pub async fn concurrent_updates_of_one_version_have_one_winner(store: &dyn CallStore) {
    let call = started(store).await;
    // Each update buffers a different candidate of the caller, so the winner is known.
    let updates: Vec<Call> = (0..8)
        .map(|n| {
            let mut update = call.clone();
            let candidate = crate::domain::call::IceCandidate::parse(format!("candidate:{n}")).unwrap();
            update.apply(CallEvent::Ice { from: call.caller(), candidate }, now()).unwrap();
            update
        })
        .collect();
    let outcomes = join_all(updates.iter().map(|update| store.update(update, 1, hour()))).await;
    let outcomes: Vec<Option<u64>> = outcomes.into_iter().map(Result::unwrap).collect();
    let winners: Vec<&Call> =
        updates.iter().zip(&outcomes).filter(|(_, outcome)| outcome.is_some()).map(|(u, _)| u).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(outcomes.contains(&Some(2)));
    assert_eq!(store.call(call.id()).await.unwrap(), Some(StoredCall { call: winners[0].clone(), version: 2 }));
}

/// An update that ends a call frees both its users in the same step (they can call each
/// other again), while the ended call itself stays readable for late events.
pub async fn ending_a_call_frees_both_users_and_keeps_the_call(store: &dyn CallStore) {
    let call = started(store).await;
    let ended = ended(&call);
    assert_eq!(store.update(&ended, 1, hour()).await.unwrap(), Some(2));
    for party in [call.caller().user_id, call.callee()] {
        assert_eq!(store.current_call(party).await.unwrap(), None, "{party} is free");
    }
    assert_eq!(store.call(call.id()).await.unwrap(), Some(StoredCall { call: ended, version: 2 }));
    let again = ringing(call.callee(), call.caller().user_id);
    assert_eq!(store.start(&again, hour()).await.unwrap(), StartOutcome::Started, "a new call between them");
    assert_eq!(store.current_call(call.caller().user_id).await.unwrap(), Some(again.id()));
}

/// Writing an ended call again does not free a user whose current call is another one: only
/// the user keys that still name the ended call go.
pub async fn ending_a_call_does_not_free_a_user_in_another_call(store: &dyn CallStore) {
    let first = started(store).await;
    let ended = ended(&first);
    assert_eq!(store.update(&ended, 1, hour()).await.unwrap(), Some(2));
    let second = ringing(first.caller().user_id, user());
    assert_eq!(store.start(&second, hour()).await.unwrap(), StartOutcome::Started);
    // A late rewrite of the first call (ended already) must leave the caller's new call alone.
    assert_eq!(store.update(&ended, 2, hour()).await.unwrap(), Some(3));
    assert_eq!(store.current_call(first.caller().user_id).await.unwrap(), Some(second.id()));
    assert_eq!(store.current_call(second.callee()).await.unwrap(), Some(second.id()));
    assert_eq!(store.current_call(first.callee()).await.unwrap(), None);
}

/// Due timers come out once, earliest first and `limit` at a time; timers not yet due stay
/// until they are.
pub async fn due_timers_are_taken_once_and_later_ones_stay(store: &dyn CallStore) {
    let t0 = now();
    let (a, b, c) = (CallId(new_id()), CallId(new_id()), CallId(new_id()));
    let grace = CallTimer::ReconnectGrace { party: Party::Callee, lost_at: t0 };
    store.arm(a, CallTimer::Ring, t0 - Duration::seconds(3)).await.unwrap();
    store.arm(b, CallTimer::Ring, t0 - Duration::seconds(2)).await.unwrap();
    store.arm(b, grace, t0 - Duration::seconds(1)).await.unwrap();
    store.arm(c, CallTimer::Ring, t0 + Duration::seconds(10)).await.unwrap();

    assert_eq!(store.take_due(t0, 2).await.unwrap(), vec![(a, CallTimer::Ring), (b, CallTimer::Ring)]);
    assert_eq!(store.take_due(t0, 10).await.unwrap(), vec![(b, grace)], "a timer of the same call is its own");
    assert_eq!(store.take_due(t0, 10).await.unwrap(), Vec::new(), "each came out once");
    assert_eq!(store.take_due(t0 + Duration::seconds(9), 10).await.unwrap(), Vec::new(), "not yet due");
    assert_eq!(store.take_due(t0 + Duration::seconds(10), 10).await.unwrap(), vec![(c, CallTimer::Ring)]);
    assert_eq!(store.take_due(t0 + Duration::hours(1), 10).await.unwrap(), Vec::new());
}

/// Arming an armed timer again moves it to the new time; disarming removes it, and
/// disarming a timer that is not armed is harmless.
pub async fn rearming_a_timer_moves_it_and_disarming_removes_it(store: &dyn CallStore) {
    let t0 = now();
    let (moved, disarmed) = (CallId(new_id()), CallId(new_id()));
    let grace = CallTimer::ReconnectGrace { party: Party::Caller, lost_at: t0 };
    store.arm(moved, grace, t0 - Duration::seconds(1)).await.unwrap();
    store.arm(moved, grace, t0 + Duration::seconds(5)).await.unwrap();
    store.arm(disarmed, CallTimer::Ring, t0 - Duration::seconds(1)).await.unwrap();
    store.disarm(disarmed, CallTimer::Ring).await.unwrap();
    store.disarm(disarmed, CallTimer::Ring).await.unwrap();
    store.disarm(CallId(new_id()), grace).await.unwrap();

    assert_eq!(store.take_due(t0, 10).await.unwrap(), Vec::new(), "moved later, and the other disarmed");
    assert_eq!(store.take_due(t0 + Duration::seconds(5), 10).await.unwrap(), vec![(moved, grace)], "armed once");
    store.arm(moved, grace, t0 + Duration::seconds(20)).await.unwrap();
    store.arm(moved, grace, t0 + Duration::seconds(6)).await.unwrap();
    assert_eq!(store.take_due(t0 + Duration::seconds(6), 10).await.unwrap(), vec![(moved, grace)], "moved earlier");
    assert_eq!(store.take_due(t0 + Duration::hours(1), 10).await.unwrap(), Vec::new());
}

/// Eight takers at once, each taking a few at a time until nothing is due: every due timer
/// goes to exactly one of them.
pub async fn concurrent_takes_hand_each_timer_to_one_taker(store: &dyn CallStore) {
    let t0 = now();
    let mut armed = HashSet::new();
    for n in 0..40 {
        let timer = if n % 2 == 0 {
            CallTimer::Ring
        } else {
            CallTimer::ReconnectGrace { party: Party::Caller, lost_at: t0 - Duration::milliseconds(n) }
        };
        let id = CallId(new_id());
        store.arm(id, timer, t0 - Duration::milliseconds(n)).await.unwrap();
        armed.insert((id, timer));
    }
    // A taker stops at an empty batch; with 40 timers a store that removes what it hands
    // out gets there within 41 takes, one that does not is stopped there too.
    let taker = || async {
        let mut taken = Vec::new();
        for _ in 0..=armed.len() {
            let batch = store.take_due(t0, 3).await.unwrap();
            if batch.is_empty() {
                break;
            }
            taken.extend(batch);
        }
        taken
    };
    let taken: Vec<(CallId, CallTimer)> = join_all((0..8).map(|_| taker())).await.into_iter().flatten().collect();
    assert_eq!(taken.len(), armed.len(), "each timer taken once");
    assert_eq!(taken.into_iter().collect::<HashSet<_>>(), armed);
}

/// A call and its users' keys lapse `ttl` after they were written, not before.
pub async fn a_call_and_its_users_expire_after_the_ttl(store: &dyn CallStore) {
    let ttl = Duration::milliseconds(300);
    let call = ringing(user(), user());
    let written = Instant::now();
    assert_eq!(store.start(&call, ttl).await.unwrap(), StartOutcome::Started);
    let first_gone = wait_until_gone(store, &call, ttl).await;
    // The store wrote the keys after `written`, so any of them gone before `written + ttl`
    // lapsed early, however slow the machine (a few ms of slack for clocks that count in
    // milliseconds).
    let due = written + ttl.to_std().unwrap();
    let slack = StdDuration::from_millis(5);
    assert!(first_gone + slack >= due, "lapsed {:?} early", due.saturating_duration_since(first_gone));
    let again = ringing(call.caller().user_id, call.callee());
    assert_eq!(store.start(&again, hour()).await.unwrap(), StartOutcome::Started, "both users are free");
}

/// An update sets the `ttl` of the call and of its users' keys afresh: a longer one keeps
/// them past the first, a shorter one lets them lapse sooner.
pub async fn an_update_sets_the_ttl_of_the_call_and_its_users(store: &dyn CallStore) {
    let first_ttl = Duration::milliseconds(1_000);
    let call = ringing(user(), user());
    let written = Instant::now();
    assert_eq!(store.start(&call, first_ttl).await.unwrap(), StartOutcome::Started);
    let answered = answered(&call);
    assert_eq!(store.update(&answered, 1, hour()).await.unwrap(), Some(2));
    // Past the first ttl with room to spare: a sleep here measures, it does not synchronise.
    let past_first = written + first_ttl.to_std().unwrap() + StdDuration::from_millis(500);
    pause(past_first.saturating_duration_since(Instant::now())).await;
    assert_eq!(store.call(call.id()).await.unwrap().map(|stored| stored.version), Some(2), "the call was renewed");
    for party in [call.caller().user_id, call.callee()] {
        assert_eq!(store.current_call(party).await.unwrap(), Some(call.id()), "{party}'s key was renewed");
    }
    let short = Duration::milliseconds(300);
    assert_eq!(store.update(&answered, 2, short).await.unwrap(), Some(3));
    wait_until_gone(store, &call, short).await;
}

/// When the first of the call and its users' keys read as absent, after polling until all
/// three do. Fails after a deadline far past `ttl`, which only keys that never lapse run into.
async fn wait_until_gone(store: &dyn CallStore, call: &Call, ttl: Duration) -> Instant {
    let patience = StdDuration::from_secs(20);
    let deadline = Instant::now() + patience;
    let mut first_gone = None;
    loop {
        let stored = store.call(call.id()).await.unwrap();
        let caller = store.current_call(call.caller().user_id).await.unwrap();
        let callee = store.current_call(call.callee()).await.unwrap();
        let gone = [stored.is_none(), caller.is_none(), callee.is_none()];
        if gone.contains(&true) {
            first_gone.get_or_insert_with(Instant::now);
        }
        if let (Some(first_gone), true) = (first_gone, !gone.contains(&false)) {
            return first_gone;
        }
        assert!(
            Instant::now() < deadline,
            "with a ttl of {ttl}, after {patience:?}: call {:?}, caller in {caller:?}, callee in {callee:?}",
            stored.map(|stored| stored.version)
        );
        pause(StdDuration::from_millis(10)).await;
    }
}

/// A call is listed under the node of its caller from its start, under the node of the
/// answering device once answered, and under a node a party reconnects on; an ended call is
/// listed nowhere. A node that served no party lists nothing of it.
pub async fn calls_are_listed_under_the_nodes_of_their_parties(store: &dyn CallStore) {
    let (node_1, node_2, node_3, elsewhere) = (node(), node(), node(), node());
    let call = ringing_from(user(), user(), node_1);
    assert_eq!(store.start(&call, hour()).await.unwrap(), StartOutcome::Started);
    let other = ringing_from(user(), user(), node_1);
    assert_eq!(store.start(&other, hour()).await.unwrap(), StartOutcome::Started);
    let listed = |node| async move {
        let mut calls = store.calls_on(node).await.unwrap();
        calls.sort();
        calls
    };
    let mut both = vec![call.id(), other.id()];
    both.sort();
    assert_eq!(listed(node_1).await, both);
    assert_eq!(listed(node_2).await, []);

    let answered = answered_on(&call, node_2);
    let version = store.update(&answered, 1, hour()).await.unwrap().expect("updated");
    assert_eq!(listed(node_2).await, [call.id()]);
    let mut moved = answered.clone();
    moved.apply(CallEvent::Connected { device: call.caller(), node: node_3 }, now()).unwrap();
    let version = store.update(&moved, version, hour()).await.unwrap().expect("updated");
    assert_eq!(listed(node_3).await, [call.id()]);
    assert!(listed(node_2).await.contains(&call.id()));

    store.update(&ended(&moved), version, hour()).await.unwrap().expect("ended");
    for node in [node_1, node_2, node_3] {
        assert!(!listed(node).await.contains(&call.id()), "an ended call is listed under {node}");
    }
    assert_eq!(listed(node_1).await, [other.id()], "the other call stays");
    assert_eq!(listed(elsewhere).await, []);
}
