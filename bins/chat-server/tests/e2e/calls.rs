//! 1-on-1 call signaling over real WebSockets (issue 17, SPEC section 9): ringing on every
//! device of the callee, the first answer wins, ICE buffered until the answer and then relayed
//! only between the two talking devices, every way a call ends (with its one SYSTEM message),
//! busy, privacy, timers on the server's hand-moved clock, reconnects, and two nodes.
//!
//! Frames are checked whole and in order. On one node the server answers a request before it
//! writes the events the request caused, and writes every queued event before it reads the
//! next request; so the reply to a request is the next frame on its socket, and a heartbeat's
//! reply proves that nothing else was queued (`Socket::assert_nothing_pending`).

mod flows;
mod killed_node;
mod nodes;
mod timers;

use std::time::Duration;

use chat_core::app::Limits;
use chat_core::domain::call::{CallPolicy, CallState};
use chat_core::domain::ids::CallId;
use serde_json::{Value, json};

use crate::support::{Socket, Store, TestServer, User};

/// An SDP offer as a browser writes it (the server only relays it).
const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n";

/// The callee's SDP answer.
const ANSWER: &str = "v=0\r\no=- 7316251840394432519 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n";

/// Call timings for the timer tests: short, so the clock moves by little.
const POLICY: CallPolicy = CallPolicy { ring_timeout_ms: 1_500, reconnect_grace_ms: 1_000 };

/// Every `call.*` event a client may receive.
const CALL_FRAMES: &[&str] = &["call.incoming", "call.ringing", "call.accepted", "call.ice", "call.ended"];

/// A browser's ICE candidate object (`RTCIceCandidate.toJSON()`), different for each `n`.
fn candidate(n: u32) -> Value {
    json!({
        "candidate": format!("candidate:{n} 1 udp 2122260223 192.168.1.{n} {} typ host generation 0", 50_000 + n),
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "Xk3f",
    })
}

/// Two friends with their direct conversation, each connected: An on one device, Bình on two
/// (two logins, so two sessions: two devices to ring).
struct Scene {
    server: TestServer,
    an: User,
    binh: User,
    conversation: String,
    an_socket: Socket,
    binh_1: Socket,
    binh_2: Socket,
}

impl Scene {
    async fn on(server: TestServer) -> Scene {
        let an = server.register("an.le").await;
        let binh = server.register("binh.tran").await;
        server.befriend(&an, &binh).await;
        let conversation = server.direct(&an, &binh).await;
        let binh_phone = server.login(&binh).await;
        let an_socket = server.connect(&an).await;
        let binh_1 = server.connect(&binh).await;
        let binh_2 = server.connect(&binh_phone).await;
        Scene { server, an, binh, conversation, an_socket, binh_1, binh_2 }
    }

    async fn start(store: Store) -> Scene {
        Scene::on(TestServer::start_for_calls(store, Limits::default(), false).await).await
    }

    /// Reads past what the setup of a test announced to the scene's sockets (friend
    /// requests, new conversations), checking there is no call event among it.
    async fn read_past_news(&mut self) {
        for socket in [&mut self.an_socket, &mut self.binh_1, &mut self.binh_2] {
            socket.assert_nothing_pending_of(CALL_FRAMES).await;
        }
    }

    /// An calls Bình (video): An hears it ring, both of Bình's devices ring with An's offer.
    async fn ring(&mut self) -> String {
        let call = invite(&mut self.an_socket, &self.binh, "video", OFFER).await;
        assert_eq!(self.an_socket.next().await, json!({"type": "call.ringing", "call_id": call}));
        let incoming = incoming(&call, &self.an, &self.conversation, "video", OFFER);
        assert_eq!(self.binh_1.next().await, incoming);
        assert_eq!(self.binh_2.next().await, incoming);
        call
    }

    /// Bình's first device answers: An gets the answer, the second device stops ringing.
    async fn answer(&mut self, call: &str) {
        let accept = json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": ANSWER});
        acked(&mut self.binh_1, accept).await;
        assert_eq!(self.an_socket.next().await, json!({"type": "call.accepted", "call_id": call, "sdp": ANSWER}));
        assert_eq!(self.binh_2.next().await, ended(call, "answered_elsewhere"));
    }

    /// An hangs up an answered call of `duration_ms`: both talking devices are told, and every
    /// device of both gets the SYSTEM message.
    async fn hang_up(&mut self, call: &str, duration_ms: u64) {
        acked(&mut self.an_socket, json!({"type": "call.hangup", "id": "hangup", "call_id": call})).await;
        let record = record(call, &self.an, "video", "ended", "hung_up", Some(duration_ms));
        for socket in [&mut self.an_socket, &mut self.binh_1] {
            assert_eq!(socket.next().await, ended_after(call, "hung_up", duration_ms));
            assert_eq!(system_message(socket, &self.conversation).await, record);
        }
        assert_eq!(system_message(&mut self.binh_2, &self.conversation).await, record);
    }
}

/// Sends a request (a frame with an `id`) and returns the reply, which on one node is the next
/// frame on the socket.
async fn reply(socket: &mut Socket, frame: Value) -> Value {
    let id = frame["id"].clone();
    socket.send(frame).await;
    let reply = socket.next().await;
    assert_eq!(reply["id"], id, "the reply to {id} comes first: {reply}");
    reply
}

/// Sends a request and checks that it is acknowledged with nothing more to say.
async fn acked(socket: &mut Socket, frame: Value) {
    let id = frame["id"].clone();
    assert_eq!(reply(socket, frame).await, json!({"type": "ack", "id": id}));
}

/// Sends a request and checks that it is refused with `code`.
async fn refused(socket: &mut Socket, frame: Value, code: &str) {
    let reply = reply(socket, frame).await;
    assert_eq!((reply["type"].as_str(), reply["code"].as_str()), (Some("error"), Some(code)), "{reply}");
}

/// The frame of a `call.invite` from the socket's user to `callee`.
fn invite_frame(callee: &str, media: &str, sdp: &str) -> Value {
    json!({"type": "call.invite", "id": "invite", "user_id": callee, "media": media, "sdp": sdp})
}

/// Places a call and returns its id from the ack.
async fn invite(socket: &mut Socket, callee: &User, media: &str, sdp: &str) -> String {
    let ack = reply(socket, invite_frame(&callee.id, media, sdp)).await;
    let call = ack["call_id"].as_str().unwrap_or_else(|| panic!("an ack with a call id: {ack}")).to_owned();
    assert_eq!(ack, json!({"type": "ack", "id": "invite", "call_id": call}));
    call
}

fn ice_frame(call: &str, n: u32) -> Value {
    json!({"type": "call.ice", "id": format!("ice {n}"), "call_id": call, "candidate": candidate(n)})
}

/// `call.ice` as the other device receives it: the candidate object as it was sent.
fn ice(call: &str, n: u32) -> Value {
    json!({"type": "call.ice", "call_id": call, "candidate": candidate(n)})
}

fn incoming(call: &str, caller: &User, conversation: &str, media: &str, sdp: &str) -> Value {
    // The caller's public profile: no phone, no settings.
    let caller = json!({
        "id": caller.id, "username": caller.username, "display_name": caller.username,
        "avatar_media_id": null, "bio": "",
    });
    json!({"type": "call.incoming", "call_id": call, "caller": caller, "conversation_id": conversation,
           "media": media, "sdp": sdp})
}

/// `call.ended` of a call that was never answered.
fn ended(call: &str, reason: &str) -> Value {
    json!({"type": "call.ended", "call_id": call, "reason": reason})
}

/// `call.ended` of an answered call.
fn ended_after(call: &str, reason: &str, duration_ms: u64) -> Value {
    json!({"type": "call.ended", "call_id": call, "reason": reason, "duration_ms": duration_ms})
}

/// The `system` part of a call's SYSTEM message.
fn record(call: &str, caller: &User, media: &str, outcome: &str, reason: &str, duration_ms: Option<u64>) -> Value {
    let mut record = json!({"event": "call", "call_id": call, "caller": caller.id, "media": media, "outcome": outcome, "reason": reason});
    if let Some(duration_ms) = duration_ms {
        record["duration_ms"] = json!(duration_ms);
    }
    record
}

/// Reads the next frame, a SYSTEM message in `conversation` sent in the caller's name, and
/// returns its `system` part.
async fn system_message(socket: &mut Socket, conversation: &str) -> Value {
    let frame = socket.next().await;
    assert_eq!(frame["type"], "message.new", "{frame}");
    let message = &frame["message"];
    assert_eq!((message["kind"].as_str(), message["conversation_id"].as_str()), (Some("SYSTEM"), Some(conversation)));
    assert_eq!(message["sender_id"], message["system"]["caller"], "{message}");
    message["system"].clone()
}

/// The `system` parts of the call messages of a conversation's history, oldest first.
async fn calls_in_history(server: &TestServer, user: &User, conversation: &str) -> Vec<Value> {
    let (status, history) = server.get(&format!("/api/v1/conversations/{conversation}/messages"), user).await;
    assert!(status.is_success(), "{history}");
    let mut records: Vec<(u64, Value)> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["system"]["event"] == "call")
        .map(|message| (message["seq"].as_u64().unwrap(), message["system"].clone()))
        .collect();
    records.sort_by_key(|(seq, _)| *seq);
    records.into_iter().map(|(_, record)| record).collect()
}

/// The stored state of a call, as every node reads it.
async fn stored_state(server: &TestServer, call: &str) -> CallState {
    let id = CallId(call.parse().unwrap());
    server.deps.calls.call(id).await.unwrap().expect("the call is kept").call.state().clone()
}

/// Waits until the server has taken in that Bình's answering device went away. Nothing is sent
/// to anyone when a device drops (the call just waits for it), so the test reads the call as
/// the server stored it, until a deadline.
async fn wait_until_callee_lost(server: &TestServer, call: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let CallState::Answered { callee_lost_at: Some(_), .. } = stored_state(server, call).await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server never saw the answering device drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Limits with the short call timings of [`POLICY`].
fn short_timings() -> Limits {
    Limits { call_policy: POLICY, ..Limits::default() }
}

/// Closes a socket from the client's side and waits until the server has let it go.
async fn close(socket: &mut Socket) {
    socket.stream.close(None).await.unwrap();
    // The server answers the close (or just drops the connection); either way it is done.
    socket.ending().await;
}
