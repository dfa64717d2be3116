//! Property: whatever sequence of requests, answers, blocks, unblocks and unfriends happens,
//! while a block stands between two users neither can message, find, befriend or see the
//! other. Run on the use cases directly (in-memory store), many sequences per run.

use std::sync::Arc;

use chat_core::app::auth::{self, Register};
use chat_core::app::messages::SendMessage;
use chat_core::app::{Actor, Deps, Limits, conversations, discovery, messages, profile, social};
use chat_core::domain::ids::ClientMsgId;
use chat_core::domain::rate_limit::Quota;
use chat_core::domain::social::RequestStatus;
use chat_core::testkit::ManualClock;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Request(usize),
    AcceptAll(usize),
    Block(usize),
    Unblock(usize),
    Unfriend(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize).prop_map(Op::Request),
        (0..2usize).prop_map(Op::AcceptAll),
        (0..2usize).prop_map(Op::Block),
        (0..2usize).prop_map(Op::Unblock),
        (0..2usize).prop_map(Op::Unfriend),
    ]
}

async fn register(deps: &Deps, name: &str) -> Actor {
    let registration = Register {
        username: name.to_owned(),
        password: "mật khẩu 123".to_owned(),
        display_name: name.to_owned(),
        phone: None,
        device_name: None,
        client_ip: None,
    };
    let done = auth::register(deps, registration).await.unwrap();
    Actor { user_id: done.user.id, session_id: done.tokens.session_id }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_blocked_user_can_never_reach_or_see_the_blocker(ops in proptest::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let limits = Limits { friend_requests: Quota::per_minute(100_000), searches: Quota::per_minute(100_000), chat: Quota::per_minute(100_000), ..Limits::default() };
            let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
            let blob_dir = tempfile::tempdir().unwrap();
            let blobs = chat_server::standalone_disk_blobs(blob_dir.path(), "http://127.0.0.1:1").unwrap().blobs;
            let deps = chat_server::embedded_deps(limits, clock, b"a property-test secret, 32+ bytes", blobs).unwrap();
            let users = [register(&deps, "nguoi.mot").await, register(&deps, "nguoi.hai").await];
            let (direct, _) = conversations::open_direct(&deps, users[0], users[1].user_id).await.unwrap();
            let conversation = direct.conversation.id;
            for op in ops {
                // `i` acts, the other one is the target.
                let (me, other) = match &op {
                    Op::Request(i) | Op::AcceptAll(i) | Op::Block(i) | Op::Unblock(i) | Op::Unfriend(i) => (users[*i], users[1 - *i]),
                };
                match op {
                    Op::Request(_) => { let _ = social::send_request(&deps, me, other.user_id, None).await; }
                    Op::AcceptAll(_) => {
                        for request in social::pending_requests(&deps, me, true).await.unwrap() {
                            let _ = social::answer_request(&deps, me, request.id, RequestStatus::Accepted).await;
                        }
                    }
                    Op::Block(_) => social::block(&deps, me, other.user_id).await.unwrap(),
                    Op::Unblock(_) => { let _ = social::unblock(&deps, me, other.user_id).await; }
                    Op::Unfriend(_) => { let _ = social::unfriend(&deps, me, other.user_id).await; }
                }
                let blocked = deps.social.blocked_between(users[0].user_id, users[1].user_id).await.unwrap();
                let friends = deps.social.are_friends(users[0].user_id, users[1].user_id).await.unwrap();
                prop_assert_eq!(friends, deps.social.are_friends(users[1].user_id, users[0].user_id).await.unwrap(), "friendship is mutual");
                if !blocked {
                    continue;
                }
                prop_assert!(!friends, "no friendship survives a block");
                for (x, y) in [(users[0], users[1]), (users[1], users[0])] {
                    let send = SendMessage::text(ClientMsgId(uuid::Uuid::now_v7()), "hi");
                    prop_assert!(messages::send(&deps, x, conversation, send).await.is_err(), "a message crossed a block");
                    prop_assert!(profile::user_profile(&deps, x, y.user_id).await.is_err(), "a profile crossed a block");
                    prop_assert!(!deps.presence_audience.may_see(x.user_id, y.user_id).await.unwrap(), "presence crossed a block");
                    prop_assert!(!deps.presence_audience.audience(y.user_id).await.unwrap().contains(&x.user_id));
                    let found = discovery::search(&deps, x, "nguoi").await.unwrap();
                    prop_assert!(found.iter().all(|u| u.id != y.user_id), "search crossed a block");
                    prop_assert!(social::send_request(&deps, x, y.user_id, None).await.is_err(), "a request crossed a block");
                    prop_assert!(conversations::open_direct(&deps, x, y.user_id).await.is_err());
                }
            }
            Ok(())
        })?;
    }
}
