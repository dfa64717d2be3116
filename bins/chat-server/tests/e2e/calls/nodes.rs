//! A call between users connected to two nodes of one deployment (one Postgres, one Redis):
//! the call lives in the Redis call store and every signal crosses through the Redis event bus.
//!
//! Across nodes an event reaches a socket whenever its node's subscriber passes it on, so what
//! must *not* reach a socket is shown with a marker sent after it along the same path (a chat
//! message from the same node): the marker must be the next frame.

use chat_core::domain::Duration;
use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use serde_json::json;

use super::{ANSWER, OFFER, acked, ended, ended_after, ice, ice_frame, incoming, invite, record, system_message};
use crate::support::{Cluster, Socket, TestServer};

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
    let database = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let cluster = Cluster { database: &database, redis: &redis };
    let node_1 = TestServer::start_node(&cluster, None).await;
    let node_2 = TestServer::start_node(&cluster, None).await;
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
    assert_eq!(super::calls_in_history(&node_2, &binh, &conversation).await, [expected]);
}

/// A node that dies mid-call closes no socket: its users' presence lapses, and the presence
/// sweep of a surviving node takes the callee's device for disconnected, so the caller hears
/// `connection_lost` once the reconnect grace has passed. Node 2 "dies" here by going silent:
/// node 1's clock moves past the presence time to live while only An keeps beating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_dying_mid_call_ends_the_call_for_the_other_party() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let cluster = Cluster { database: &database, redis: &redis };
    let node_1 = TestServer::start_node(&cluster, None).await;
    let node_2 = TestServer::start_node(&cluster, None).await;
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

    // Past Bình's presence (40 s); An beats at the new time, and the beat is stored.
    node_1.clock.advance(Duration::seconds(41));
    an_socket.send(json!({"type": "heartbeat", "id": "beat"})).await;
    assert_eq!(an_socket.next().await["type"], "heartbeat.ack");
    let an_id: chat_core::domain::ids::UserId = an.id.parse().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = node_1.deps.presence.status(&[an_id], node_1.deps.clock.now()).await.unwrap();
        if status.iter().any(|(_, status)| status.online) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "An's beat was never stored");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    chat_core::app::presence::sweep(&node_1.deps).await.unwrap();

    // Nothing ends before the grace: the call still stands.
    chat_core::app::signaling::fire_due_timers(&node_1.deps).await.unwrap();
    let id: chat_core::domain::ids::CallId = call.parse().unwrap();
    let stored = node_1.deps.calls.call(id).await.unwrap().expect("the call");
    assert!(!stored.call.is_ended(), "ended before the reconnect grace");

    node_1.clock.advance(Duration::seconds(21));
    chat_core::app::signaling::fire_due_timers(&node_1.deps).await.unwrap();
    let end = an_socket.next().await;
    assert_eq!((end["type"].as_str(), end["reason"].as_str()), (Some("call.ended"), Some("connection_lost")), "{end}");
}
