//! The plans of the events other than a message: a friend request notifies its recipient
//! while pending, an acceptance notifies the requester, and an incoming call rings the
//! callee's devices without a badge.

use std::sync::Arc;

use futures_executor::block_on;

use super::{Directory, Log, MINH, Mocks, SENDER, conversation_id, device_id, now, planned_devices, request_id, uid};
use crate::app::Deps;
use crate::app::push::{Plan, plan};
use crate::domain::ids::SessionId;
use crate::domain::push::{PushEvent, PushKind, friend_accepted_text, friend_request_text};
use crate::domain::social::{FriendRequest, RequestStatus};
use crate::ports::*;

// ---- a friend request or its acceptance ----

/// Lan asked Minh, a minute ago.
fn request(status: RequestStatus) -> FriendRequest {
    let answered = status != RequestStatus::Pending;
    FriendRequest {
        id: request_id(),
        from_user: uid(SENDER),
        to_user: uid(MINH),
        message: String::new(),
        status,
        created_at: now() - crate::domain::Duration::minutes(1),
        answered_at: answered.then(|| now() - crate::domain::Duration::seconds(2)),
    }
}

fn plan_friend(event: PushEvent, status: RequestStatus) -> (Plan, Log) {
    let log = Log::default();
    let mut mocks = Mocks::new();
    mocks.social.expect_friend_request().withf(|id| *id == request_id()).returning(move |_| Ok(Some(request(status))));
    Directory::new().install(&mut mocks, &log);
    let planned = block_on(plan(&mocks.into_deps(), event));
    (planned.unwrap_or_else(|e| panic!("plan failed: {e}")), log)
}

#[test]
fn a_pending_request_notifies_its_recipient() {
    let (plan, log) = plan_friend(PushEvent::FriendRequest(request_id()), RequestStatus::Pending);
    assert_eq!(planned_devices(&plan), vec![device_id(1), device_id(2)]);
    let notification = &plan.notifications[0].notification;
    assert_eq!(notification.kind, PushKind::FriendRequest);
    assert_eq!(notification.title.as_deref(), Some("Lan"));
    assert_eq!(notification.body, Some(friend_request_text("Lan", crate::domain::account::Locale::Vi)));
    assert_eq!(notification.data.get("request_id"), Some(&request_id().to_string()));
    assert_eq!(plan.occurred_at, Some(request(RequestStatus::Pending).created_at));
    let asked = log.get();
    assert_eq!(asked.hidden_from, vec![uid(SENDER)]);
    assert_eq!(asked.presence, vec![vec![uid(MINH)]]);
}

#[test]
fn a_request_no_longer_pending_notifies_no_one_and_reads_nothing_else() {
    for status in [RequestStatus::Cancelled, RequestStatus::Declined, RequestStatus::Accepted] {
        let mut mocks = Mocks::new();
        mocks.social.expect_friend_request().times(1).returning(move |_| Ok(Some(request(status))));
        let planned = block_on(plan(&mocks.into_deps(), PushEvent::FriendRequest(request_id())));
        assert_eq!(planned, Ok(Plan::default()), "{status:?}");
    }
}

#[test]
fn an_accepted_request_notifies_the_requester_with_the_accepters_name() {
    let (plan, log) = plan_friend(PushEvent::FriendAccepted(request_id()), RequestStatus::Accepted);
    assert_eq!(planned_devices(&plan), vec![device_id(0)]);
    let notification = &plan.notifications[0].notification;
    assert_eq!(notification.kind, PushKind::FriendAccepted);
    assert_eq!(notification.title.as_deref(), Some("Minh"));
    assert_eq!(notification.body, Some(friend_accepted_text("Minh", crate::domain::account::Locale::Vi)));
    assert_eq!(plan.occurred_at, request(RequestStatus::Accepted).answered_at);
    let asked = log.get();
    assert_eq!(asked.hidden_from, vec![uid(MINH)]);
    assert_eq!(asked.presence, vec![vec![uid(SENDER)]]);
    assert_eq!(asked.badges, vec![vec![uid(SENDER)]]);
}

// ---- an incoming call ----

/// An incoming call rings every device of the callee with a push that carries no badge, so
/// no badge is counted for it.
#[test]
fn an_incoming_call_rings_each_device_of_the_callee_and_counts_no_badge() {
    use crate::domain::call::{Call, CallDevice, CallMedia, CallPolicy, Invite, Sdp};
    use crate::domain::ids::{CallId, NodeId};
    let invite = Invite {
        id: CallId(uuid::Uuid::from_u128(77)),
        conversation_id: conversation_id(),
        caller: CallDevice { user_id: uid(SENDER), session_id: SessionId(uuid::Uuid::from_u128(70)) },
        caller_node: NodeId(uuid::Uuid::from_u128(71)),
        callee: uid(MINH),
        media: CallMedia::Video,
        offer: Sdp::parse("v=0 offer".to_owned()).unwrap_or_else(|e| panic!("{e}")),
    };
    let (call, _) = Call::ring(invite, CallPolicy::production(), now()).unwrap_or_else(|e| panic!("{e:?}"));
    let log = Log::default();
    let mut mocks = Mocks::new();
    Directory::new().install(&mut mocks, &log);
    let mut calls = MockCallStore::new();
    calls.expect_call().returning(move |_| Ok(Some(StoredCall { call: call.clone(), version: 1 })));
    let deps = Deps { calls: Arc::new(calls), ..mocks.into_deps() };
    let planned = block_on(plan(&deps, PushEvent::IncomingCall(CallId(uuid::Uuid::from_u128(77)))))
        .unwrap_or_else(|e| panic!("plan failed: {e}"));
    assert_eq!(planned_devices(&planned), vec![device_id(1), device_id(2)]);
    assert!(log.get().badges.is_empty(), "badges counted for a call: {:?}", log.get().badges);
}
