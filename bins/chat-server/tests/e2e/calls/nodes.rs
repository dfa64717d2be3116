//! A call between users connected to two nodes of one deployment (one Postgres, one Redis):
//! the call lives in the Redis call store and every signal crosses through the Redis event bus.
//!
//! Across nodes an event reaches a socket whenever its node's subscriber passes it on, so what
//! must *not* reach a socket is shown with a marker sent after it along the same path (a chat
//! message from the same node): the marker must be the next frame.

use chat_core::app::nodes::Heartbeat;
use chat_core::domain::Duration;
use chat_core::domain::ids::CallId;
use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use serde_json::json;

use super::{ANSWER, OFFER, acked, ended, ended_after, ice, ice_frame, incoming, invite, record, system_message};
use crate::support::{Cluster, Socket, TestServer, User};

/// Two nodes of one deployment (one Postgres, one Redis). The nodes are declared first, so
/// they stop before their database and Redis prefix are dropped.
struct TwoNodes {
    node_1: TestServer,
    node_2: TestServer,
    _redis: TestRedis,
    _database: TestDatabase,
}

async fn two_nodes() -> TwoNodes {
    let database = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let cluster = Cluster { database: &database, redis: &redis };
    let node_1 = TestServer::start_node(&cluster, None).await;
    let node_2 = TestServer::start_node(&cluster, None).await;
    TwoNodes { node_1, node_2, _redis: redis, _database: database }
}

/// Sends a chat message over `socket` and returns its id, once acknowledged.
async fn marker(socket: &mut Socket, conversation: &str) -> serde_json::Value {
    let send = json!({"type": "message.send", "id": "marker", "conversation_id": conversation,
                      "client_msg_id": uuid::Uuid::now_v7(), "body": "marker"});
    socket.send(send).await;
    let ack = socket.next().await;
    assert_eq!((ack["type"].as_str(), ack["id"].as_str()), (Some("ack"), Some("marker")), "{ack}");
    ack["message"]["id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_between_two_nodes() {
    let TwoNodes { node_1, node_2, .. } = &two_nodes().await;
    let an = node_1.register("an.le").await;
    let binh = node_2.register("binh.tran").await;
    let chi = node_2.register("chi.pham").await;
    node_1.befriend(&an, &binh).await;
    node_2.befriend(&chi, &binh).await;
    let conversation = node_1.direct(&an, &binh).await;
    let chi_binh = node_2.direct(&chi, &binh).await;
    let binh_phone = node_1.login(&binh).await;
    // An on node 1; Bình's first device on node 2, his second on node 1; Chi on node 2.
    let mut an_socket = node_1.connect(&an).await;
    let mut binh_1 = node_2.connect(&binh).await;
    let mut binh_2 = node_1.connect(&binh_phone).await;
    let mut chi_socket = node_2.connect(&chi).await;

    let call = invite(&mut an_socket, &binh, "video", OFFER).await;
    assert_eq!(an_socket.next().await, json!({"type": "call.ringing", "call_id": call}));
    let ringing = incoming(&call, &an, &conversation, "video", OFFER);
    assert_eq!(binh_1.next().await, ringing);
    assert_eq!(binh_2.next().await, ringing);
    acked(&mut an_socket, ice_frame(&call, 1)).await;

    // Answered on node 2: node 1 hears of it, the kept candidate crosses to node 2.
    acked(&mut binh_1, json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": ANSWER})).await;
    assert_eq!(binh_1.next().await, ice(&call, 1));
    assert_eq!(an_socket.next().await, json!({"type": "call.accepted", "call_id": call, "sdp": ANSWER}));
    assert_eq!(binh_2.next().await, ended(&call, "answered_elsewhere"));

    // Candidates both ways, to the answering device only.
    acked(&mut an_socket, ice_frame(&call, 2)).await;
    assert_eq!(binh_1.next().await, ice(&call, 2));
    acked(&mut binh_1, ice_frame(&call, 3)).await;
    assert_eq!(an_socket.next().await, ice(&call, 3));
    let sent = marker(&mut an_socket, &conversation).await;
    for socket in [&mut binh_2, &mut binh_1] {
        let next = socket.next().await;
        assert_eq!((next["type"].as_str(), &next["message"]["id"]), (Some("message.new"), &sent), "{next}");
    }

    // Chi, on node 2, calls Bình: busy, as the call store on Redis knows.
    let busy = invite(&mut chi_socket, &binh, "audio", OFFER).await;
    assert_eq!(chi_socket.next().await, ended(&busy, "busy"));
    let missed = record(&busy, &chi, "audio", "missed", "busy", None);
    assert_eq!(system_message(&mut chi_socket, &chi_binh).await, missed);
    for socket in [&mut binh_1, &mut binh_2] {
        assert_eq!(system_message(socket, &chi_binh).await, missed);
    }

    // Bình hangs up on node 2 after three seconds of its clock (the one that saw the answer).
    node_2.clock.advance(Duration::seconds(3));
    acked(&mut binh_1, json!({"type": "call.hangup", "id": "hangup", "call_id": call})).await;
    let expected = record(&call, &an, "video", "ended", "hung_up", Some(3_000));
    for socket in [&mut binh_1, &mut an_socket] {
        assert_eq!(socket.next().await, ended_after(&call, "hung_up", 3_000));
        assert_eq!(system_message(socket, &conversation).await, expected);
    }
    assert_eq!(system_message(&mut binh_2, &conversation).await, expected);
    let sent = marker(&mut an_socket, &conversation).await;
    for socket in [&mut binh_2, &mut binh_1] {
        assert_eq!(socket.next().await["message"]["id"], sent);
    }
    assert_eq!(super::calls_in_history(node_2, &binh, &conversation).await, [expected]);
}

/// Both nodes beat (what `chat_server::spawn_node_watch` does every second), at their own
/// clocks' now.
async fn both_beat(node_1: &TestServer, node_2: &TestServer) {
    for node in [node_1, node_2] {
        Heartbeat::new().beat(&node.deps, &|_| true).await.unwrap();
    }
}

/// An on node 1 calls Bình on node 2, who answers there: the answered call's id, and both
/// sockets with nothing pending.
async fn answered_across_nodes(node_1: &TestServer, node_2: &TestServer) -> (String, Socket, Socket, User) {
    let an = node_1.register("an.le").await;
    let binh = node_2.register("binh.tran").await;
    node_1.befriend(&an, &binh).await;
    node_1.direct(&an, &binh).await;
    let mut an_socket = node_1.connect(&an).await;
    let mut binh_socket = node_2.connect(&binh).await;
    let call = invite(&mut an_socket, &binh, "audio", OFFER).await;
    assert_eq!(an_socket.next().await["type"], "call.ringing");
    assert_eq!(binh_socket.next().await["type"], "call.incoming");
    acked(&mut binh_socket, json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": ANSWER})).await;
    assert_eq!(an_socket.next().await["type"], "call.accepted");
    (call, an_socket, binh_socket, binh)
}

/// Sets `node`'s clock to `at` (forward only).
fn move_clock(node: &TestServer, at: chat_core::domain::Timestamp) {
    node.clock.advance(at - node.deps.clock.now());
}

/// A node that dies mid-call closes no socket and stops beating. Node 1 notices the silence
/// (five seconds on its clock) and the call takes Bình's device for dropped since node 2's
/// last beat: An hears `connection_lost` when the reconnect grace has run from that beat, not
/// from when the silence was noticed. Node 2 "dies" here by not beating again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_dying_mid_call_ends_the_call_for_the_other_party_within_the_grace() {
    let TwoNodes { node_1, node_2, .. } = &two_nodes().await;
    let (call, mut an_socket, _binh_socket, _) = answered_across_nodes(node_1, node_2).await;
    both_beat(node_1, node_2).await;
    let last_beat = node_2.deps.clock.now();

    // Four seconds on: not silent long enough.
    node_1.clock.advance(Duration::seconds(4));
    Heartbeat::new().beat(&node_1.deps, &|_| true).await.unwrap();
    assert_eq!(chat_core::app::nodes::sweep(&node_1.deps).await.unwrap(), 0, "taken for dead too early");
    // Six seconds on: node 2 is taken for dead, once.
    node_1.clock.advance(Duration::seconds(2));
    assert_eq!(chat_core::app::nodes::sweep(&node_1.deps).await.unwrap(), 1);
    assert_eq!(chat_core::app::nodes::sweep(&node_1.deps).await.unwrap(), 0, "handled twice");

    let id: CallId = call.parse().unwrap();
    let grace = chat_core::domain::call::RECONNECT_GRACE_MS as i64;
    // Just before the grace has run from the last beat, the call stands.
    move_clock(node_1, last_beat + Duration::milliseconds(grace - 100));
    chat_core::app::signaling::fire_due_timers(&node_1.deps).await.unwrap();
    assert!(!node_1.deps.calls.call(id).await.unwrap().expect("the call").call.is_ended(), "ended before the grace");
    an_socket.assert_nothing_pending().await;

    move_clock(node_1, last_beat + Duration::milliseconds(grace));
    chat_core::app::signaling::fire_due_timers(&node_1.deps).await.unwrap();
    let end = an_socket.next().await;
    assert_eq!((end["type"].as_str(), end["reason"].as_str()), (Some("call.ended"), Some("connection_lost")), "{end}");
}

/// Bình's app notices its node died and reconnects through node 1 before the grace runs
/// out: the call goes on, and candidates reach the device on its new node. A close of its old
/// socket reported late (node 2 was only stalled) changes nothing: the call knows the device
/// is on node 1 now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_back_through_another_node_keeps_its_call_when_its_old_node_dies() {
    let TwoNodes { node_1, node_2, .. } = &two_nodes().await;
    let (call, mut an_socket, binh_socket, binh) = answered_across_nodes(node_1, node_2).await;
    both_beat(node_1, node_2).await;

    node_1.clock.advance(Duration::seconds(6));
    assert_eq!(chat_core::app::nodes::sweep(&node_1.deps).await.unwrap(), 1);
    // The same session (Bình's device) connects again, to node 1.
    let mut binh_back = node_1.connect(&binh).await;
    // Node 2 was only stalled: it reports the close of the old socket late (as its socket task
    // would), and the call, which knows the device on node 1 now, ignores it.
    let device = chat_core::app::auth::authenticate(&node_2.deps, &binh.token).await.unwrap();
    chat_core::app::signaling::device_disconnected(&node_2.deps, device).await.unwrap();
    drop(binh_socket);
    node_1.clock.advance(Duration::seconds(30));
    chat_core::app::signaling::fire_due_timers(&node_1.deps).await.unwrap();
    let id: CallId = call.parse().unwrap();
    let stored = node_1.deps.calls.call(id).await.unwrap().expect("the call");
    assert!(!stored.call.is_ended(), "the call ended though the device came back: {:?}", stored.call.state());
    acked(&mut an_socket, ice_frame(&call, 7)).await;
    assert_eq!(binh_back.next().await, ice(&call, 7));
    acked(&mut binh_back, json!({"type": "call.hangup", "id": "bye", "call_id": call})).await;
    let end = an_socket.next().await;
    assert_eq!((end["type"].as_str(), end["reason"].as_str()), (Some("call.ended"), Some("hung_up")), "{end}");
}
