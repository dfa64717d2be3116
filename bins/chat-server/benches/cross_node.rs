//! Delivery latency of a message from a sender on node 1 to a receiver on node 2 (two real
//! release `chat-server` processes on one Postgres and one Redis), against the same path
//! with both users on one node, measured in the same run.
//!
//! `cargo bench -p chat-server --bench cross_node` (BENCH_MESSAGES sets the count, default 2000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Node {
    child: Child,
    port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(env: &[(&str, String)]) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data_dir = std::env::temp_dir().join(format!("chat-bench-{}", uuid::Uuid::now_v7()));
    let child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .env("CHAT_LISTEN", format!("127.0.0.1:{port}"))
        .env("CHAT_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by `Node` at once, so every path (the panic below included) reaps the process.
    let node = Node { child, port };
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if http.get(format!("http://127.0.0.1:{port}/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node did not start");
}

async fn post(node: &Node, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new().post(format!("http://127.0.0.1:{}{path}", node.port)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn connect(node: &Node, token: &str) -> Socket {
    let url = format!("ws://127.0.0.1:{}/ws?token={token}", node.port);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_of(&mut socket, "ready").await;
    socket
}

async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("frame in time");
        if let Some(Ok(Message::Text(text))) = frame {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == kind {
                return value;
            }
        }
    }
}

/// Sends `count` messages one after another from `sender` and times each until `receiver`
/// has it. Returns the latencies in microseconds, sorted.
async fn measure(sender: &mut Socket, receiver: &mut Socket, conversation: &str, count: usize) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        let client_msg_id = uuid::Uuid::now_v7();
        let frame = json!({"type": "message.send", "conversation_id": conversation, "client_msg_id": client_msg_id, "body": format!("tin {n}")});
        let started = Instant::now();
        sender.send(Message::text(frame.to_string())).await.unwrap();
        // Wait for this very message (never an older one still queued).
        while next_of(receiver, "message.new").await["message"]["client_msg_id"] != json!(client_msg_id) {}
        latencies.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        next_of(sender, "ack").await;
    }
    latencies.sort_unstable();
    latencies
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let count: usize = std::env::var("BENCH_MESSAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
        let database = TestDatabase::create().await;
        let redis = TestRedis::create().await;
        let env = vec![
            ("DATABASE_URL", database.url.clone()),
            ("REDIS_URL", redis.url.clone()),
            ("CHAT_REDIS_PREFIX", redis.prefix.clone()),
            ("JWT_SECRET", "a secret both nodes share, 32+ bytes long".to_owned()),
            ("CHAT_RATE_MESSAGES_PER_MINUTE", "1000000".to_owned()),
        ];
        let node_1 = start(&env).await;
        let node_2 = start(&env).await;
        let signup = |name: &str| json!({"username": name, "password": "mật khẩu 123", "display_name": name});
        let sender = post(&node_1, "/api/v1/auth/register", None, signup("nguoi.gui")).await;
        let receiver = post(&node_2, "/api/v1/auth/register", None, signup("nguoi.nhan")).await;
        let sender_token = sender["access_token"].as_str().unwrap().to_owned();
        let receiver_token = receiver["access_token"].as_str().unwrap().to_owned();
        let direct = json!({"kind": "direct", "user_id": receiver["user"]["id"]});
        let conversation = post(&node_1, "/api/v1/conversations", Some(&sender_token), direct).await;
        let id = conversation["conversation"]["id"].as_str().unwrap().to_owned();

        let mut sending = connect(&node_1, &sender_token).await;
        // Warm up, then measure the reference (same node) and the cross-node path; one
        // receiving socket at a time, so each path carries only its own traffic.
        let mut far = connect(&node_2, &receiver_token).await;
        measure(&mut sending, &mut far, &id, 100).await;
        drop(far);
        let mut near = connect(&node_1, &receiver_token).await;
        let same_node = measure(&mut sending, &mut near, &id, count).await;
        drop(near);
        let mut far = connect(&node_2, &receiver_token).await;
        let cross_node = measure(&mut sending, &mut far, &id, count).await;

        println!("send → deliver latency over WebSocket, {count} sequential messages, Postgres + Redis, 2 nodes");
        println!("{:<28} {:>9} {:>9} {:>9} {:>9}", "path", "p50 µs", "p90 µs", "p99 µs", "max µs");
        let mut json = serde_json::Map::new();
        for (name, samples) in [("same node (reference)", &same_node), ("node 1 → node 2", &cross_node)] {
            let (p50, p90, p99) = (percentile(samples, 0.5), percentile(samples, 0.9), percentile(samples, 0.99));
            let max = samples.last().copied().unwrap_or(0);
            println!("{name:<28} {p50:>9} {p90:>9} {p99:>9} {max:>9}");
            json.insert(
                name.to_owned(),
                json!({"count": count, "p50_us": p50, "p90_us": p90, "p99_us": p99, "max_us": max}),
            );
        }
        let ratio = |p: f64| percentile(&cross_node, p) as f64 / percentile(&same_node, p).max(1) as f64;
        println!("cross-node / same-node: p50 ×{:.2}, p99 ×{:.2}", ratio(0.5), ratio(0.99));
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("cross_node.json"), serde_json::to_string_pretty(&json).unwrap()).unwrap();
    });
}
