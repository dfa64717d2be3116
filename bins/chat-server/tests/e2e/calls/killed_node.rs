//! A node killed mid-call (SIGKILL: no socket closed, no goodbye on the bus) on two real
//! `chat-server` processes sharing one Postgres and one Redis: the surviving node notices the
//! dead node's silent heartbeat, the dead node's party is taken for dropped since that last
//! beat, and the other party hears `connection_lost` once the 20 s reconnect grace has run
//! from there; not at once (the call waits for a reconnect), and not a minute later (through
//! presence).

use std::path::PathBuf;
use std::time::Duration;

use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{ANSWER, OFFER, acked, ended_after, invite, record, system_message};
use crate::process::{Server, cluster_env, temp_data_dir};
use crate::support::{Socket, User};

/// The reconnect grace starts at the dead node's last beat, at most a beat (1 s) before the
/// kill: the call cannot end much sooner than this after the kill without ending at once.
const SOONEST: Duration = Duration::from_secs(14);

/// 20 s of grace from the last beat, plus the 250 ms timer sweep, plus slack for a loaded
/// 2-core machine.
const LATEST: Duration = Duration::from_secs(22);

/// How long the test waits for `call.ended` at all: past [`LATEST`], so a late end is reported
/// with its time, but well short of the minute the presence path takes.
const GIVE_UP: Duration = Duration::from_secs(35);

/// How often An's client beats while it waits, as a real client keeps its presence up.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// A `chat-server` process that is killed when the test ends however it ends (a failed
/// assertion included), so no process outlives the test; its data dir goes with it.
struct Node {
    server: Option<Server>,
    data_dir: PathBuf,
}

impl Node {
    async fn start(env: &[(&str, String)]) -> Node {
        let data_dir = temp_data_dir();
        let server = Server::spawn_with(env, &["--migrate"], data_dir.clone()).await;
        Node { server: Some(server), data_dir }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the node is running")
    }

    /// SIGKILL: the process dies without closing a socket or leaving the node list.
    fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn register(node: &Node, username: &str) -> User {
    let signup = json!({"username": username, "password": "mật khẩu 123", "display_name": username});
    let auth = node.server().post("/api/v1/auth/register", None, signup).await;
    let token = |key: &str| auth[key].as_str().unwrap_or_else(|| panic!("registered: {auth}")).to_owned();
    User {
        id: auth["user"]["id"].as_str().unwrap().to_owned(),
        username: username.to_owned(),
        token: token("access_token"),
        refresh_token: token("refresh_token"),
    }
}

async fn connect(node: &Node, user: &User) -> Socket {
    let (stream, _) = tokio_tungstenite::connect_async(node.server().ws(&user.token)).await.unwrap();
    let mut socket = Socket { stream };
    assert_eq!(socket.next().await["type"], "ready");
    socket
}

/// The first frame on `socket` before `deadline` that is neither presence nor the reply to a
/// keepalive heartbeat (which it sends every [`KEEPALIVE`]), or `None` when the deadline
/// passes first. Fails the test if the socket ends.
async fn next_before(socket: &mut Socket, deadline: Instant) -> Option<Value> {
    loop {
        let wake = deadline.min(Instant::now() + KEEPALIVE);
        match tokio::time::timeout_at(wake, socket.stream.next()).await {
            Err(_) if wake == deadline => return None,
            Err(_) => socket.send(json!({"type": "heartbeat", "id": "keepalive"})).await,
            Ok(Some(Ok(Message::Text(text)))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] != "presence" && frame != json!({"type": "heartbeat.ack", "id": "keepalive"}) {
                    return Some(frame);
                }
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("An's socket ended while the call waited: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_ends_its_calls_within_the_reconnect_grace() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let env = cluster_env(&database, &redis);
    let node_1 = Node::start(&env).await;
    let mut node_2 = Node::start(&env).await;
    let an = register(&node_1, "an.le").await;
    let binh = register(&node_2, "binh.tran").await;
    // Not friends: Bình lets anyone call him. The conversation exists before the sockets
    // connect, so nothing about it is announced on them.
    let settings = reqwest::Client::new()
        .patch(format!("{}/api/v1/me/settings", node_2.server().base))
        .bearer_auth(&binh.token)
        .json(&json!({"who_can_call": "everyone"}))
        .send()
        .await
        .unwrap();
    assert!(settings.status().is_success(), "{}", settings.text().await.unwrap_or_default());
    let direct = json!({"kind": "direct", "user_id": binh.id});
    let opened = node_1.server().post("/api/v1/conversations", Some(&an.token), direct).await;
    let conversation = opened["conversation"]["id"].as_str().unwrap_or_else(|| panic!("{opened}")).to_owned();

    // An on node 1, Bình on node 2. An calls; Bình answers on node 2.
    let mut an_socket = connect(&node_1, &an).await;
    let mut binh_socket = connect(&node_2, &binh).await;
    let call = invite(&mut an_socket, &binh, "audio", OFFER).await;
    assert_eq!(an_socket.next().await, json!({"type": "call.ringing", "call_id": call}));
    let incoming = binh_socket.next().await;
    assert_eq!((incoming["type"].as_str(), incoming["call_id"].as_str()), (Some("call.incoming"), Some(&*call)));
    assert_eq!(incoming["conversation_id"], conversation.as_str());
    let accept_sent = Instant::now();
    acked(&mut binh_socket, json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": ANSWER})).await;
    assert_eq!(an_socket.next().await, json!({"type": "call.accepted", "call_id": call, "sdp": ANSWER}));
    let accepted_seen = Instant::now();

    // Node 2 dies mid-call.
    let killed_at = Instant::now();
    node_2.kill();
    let frame = next_before(&mut an_socket, killed_at + GIVE_UP)
        .await
        .unwrap_or_else(|| panic!("no call.ended on An's socket within {GIVE_UP:?} of the kill"));
    let ended_seen = Instant::now();
    let elapsed = ended_seen - killed_at;
    let duration_ms = frame["duration_ms"].as_u64().unwrap_or_else(|| panic!("an answered call's end: {frame}"));
    eprintln!(
        "killed_node: call.ended reached An {:.3} s after node 2 was killed (duration_ms {duration_ms})",
        elapsed.as_secs_f64()
    );
    assert_eq!(frame, ended_after(&call, "connection_lost", duration_ms), "the first call event after the kill");
    assert!(elapsed >= SOONEST, "ended {elapsed:?} after the kill: it did not wait for Bình to reconnect");
    assert!(elapsed <= LATEST, "ended {elapsed:?} after the kill: later than the grace from the last beat");

    // The duration runs from the answer to the end, as An saw them (give or take delivery).
    let longest = (ended_seen - accept_sent).as_millis() + 100;
    let shortest = (ended_seen - accepted_seen).as_millis().saturating_sub(1_000);
    assert!(
        (shortest..=longest).contains(&u128::from(duration_ms)),
        "duration_ms {duration_ms} outside {shortest}..={longest} (from the answer to the end)"
    );
    let expected = record(&call, &an, "audio", "ended", "connection_lost", Some(duration_ms));
    assert_eq!(system_message(&mut an_socket, &conversation).await, expected);

    // An's own connection was never in question: it still answers.
    an_socket.send(json!({"type": "heartbeat", "id": "x"})).await;
    assert_eq!(an_socket.next().await, json!({"type": "heartbeat.ack", "id": "x"}));
}
