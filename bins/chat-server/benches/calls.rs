//! Call signaling latency across two nodes of one deployment (issue 17): two servers in this
//! process on one Redis (one key prefix) and one shared in-memory store, so that calls, events
//! and presence go through Redis as between two real nodes. Callers are connected to node 1,
//! callees to node 2, over real WebSockets.
//!
//! Two figures per call (p50 / p99 / max):
//! - invite → incoming: the caller sends `call.invite` on node 1 until the callee's socket on
//!   node 2 receives `call.incoming`;
//! - ice → ice: once the call is answered, the caller sends `call.ice` on node 1 until the
//!   callee receives it on node 2.
//!
//! The same two figures with both users on node 1, measured in the same run, are the
//! reference that shows what crossing nodes costs. Calls run one after the other: each is
//! hung up, and its `call.ended` seen by both, before the next is placed.
//!
//! `cargo bench -p chat-server --bench calls` (BENCH_CALLS sets the cross-node count, default
//! 1,000; BENCH_REFERENCE_CALLS the one-node count, default 200; BENCH_ICE_PAUSE_MS a pause
//! before the candidate, see `ICE_PAUSE`). Needs Redis (`REDIS_URL` or the local one).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::app::auth::{self, Register};
use chat_core::app::profile::{self, SettingsPatch};
use chat_core::app::{Actor, Deps, Limits};
use chat_core::domain::account::Audience;
use chat_core::domain::rate_limit::Quota;
use chat_memory::MemoryStore;
use chat_redis::testing::TestRedis;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Calls placed before measuring, so connections, pools and caches are warm.
const WARM_UP_CALLS: usize = 20;
/// How long the bench waits for a frame that must come.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Sockets beat this often (between calls), well inside the 40 s presence time to live: a
/// callee whose presence lapsed would not count as connected.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(15);
/// What the server relays without reading: an offer and answer as a browser writes them.
const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
const ANSWER: &str = "v=0\r\no=- 7316251840394432519 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
/// A pause between the answer and the candidate (BENCH_ICE_PAUSE_MS; none by default, as a
/// browser trickles candidates at once). A diagnostic: with a pause longer than a delayed TCP
/// ACK (40 ms) the server's earlier frames to the callee are acknowledged before the candidate
/// is relayed, which shows how much of ice → ice is Nagle's algorithm waiting for that ACK.
static ICE_PAUSE: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
const SECRET: &[u8] = b"a bench secret of 32+ bytes....";

/// One server of the deployment; it stops when dropped.
struct Node {
    address: SocketAddr,
    deps: Deps,
    _stop: oneshot::Sender<()>,
    _blobs: tempfile::TempDir,
}

impl Node {
    /// A node over `store` and the shared Redis, as `chat_server::run` wires one (no media or
    /// push worker, no call timer task: no call here rings out or loses its connection).
    async fn start(redis: &TestRedis, store: Arc<MemoryStore>, limits: Limits) -> Node {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared =
            chat_server::redis_services(redis.connection().await, chat_core::domain::job::JobPolicy::production());
        let blobs_dir = tempfile::tempdir().unwrap();
        let blobs =
            chat_server::disk_blobs(blobs_dir.path(), &format!("http://{address}"), SECRET, shared.claims.clone())
                .unwrap()
                .blobs;
        let clock = Arc::new(chat_system::SystemClock);
        let deps = chat_server::assemble_deps_with(store, shared, limits, clock, SECRET, blobs).unwrap();
        let (router, state) = chat_http::app(deps.clone(), chat_http::HttpConfig::default());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            chat_http::serve(listener, router, state, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Node { address, deps, _stop: stop, _blobs: blobs_dir }
    }

    /// A socket authenticated with the first-frame handshake, past its `ready` frame.
    async fn connect(&self, token: &str) -> Socket {
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", self.address)).await.unwrap();
        send(&mut socket, json!({"type": "auth", "token": token})).await;
        next_of(&mut socket, "ready", None).await;
        socket
    }
}

/// A caller and a callee, each with an open socket, and when each last beat.
struct Pair {
    caller: Socket,
    callee: Socket,
    callee_id: String,
    last_beat: Instant,
}

/// The two latencies of one call.
struct CallTimes {
    invite_to_incoming: Duration,
    ice_to_ice: Duration,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let calls = env_number("BENCH_CALLS", 1_000);
    let reference_calls = env_number("BENCH_REFERENCE_CALLS", 200);
    let pause = std::env::var("BENCH_ICE_PAUSE_MS").ok().and_then(|ms| ms.parse().ok()).map(Duration::from_millis);
    ICE_PAUSE.set(pause).unwrap();

    let redis = TestRedis::create().await;
    // The benchmark places far more calls than a person would: the invite limit is not what is
    // measured.
    let limits = Limits { call_invites: Quota::per_minute(1_000_000), ..Limits::default() };
    let store = Arc::new(MemoryStore::new());
    let node_1 = Node::start(&redis, store.clone(), limits.clone()).await;
    let node_2 = Node::start(&redis, store, limits).await;

    let mut across = pair(&node_1, &node_2, "across").await;
    let mut one_node = pair(&node_1, &node_1, "local").await;

    for _ in 0..WARM_UP_CALLS {
        call(&mut across).await;
        call(&mut one_node).await;
    }
    let mut across_times = Vec::with_capacity(calls);
    for _ in 0..calls {
        one_node.keep_alive().await;
        across_times.push(call(&mut across).await);
    }
    let mut one_node_times = Vec::with_capacity(reference_calls);
    for _ in 0..reference_calls {
        across.keep_alive().await;
        one_node_times.push(call(&mut one_node).await);
    }

    println!("calls: caller's socket on node 1 → callee's socket on node 2 (one Redis), one call at a time");
    let rows = [
        (
            "invite → incoming",
            Stats::of(&across_times, |t| t.invite_to_incoming),
            Stats::of(&one_node_times, |t| t.invite_to_incoming),
        ),
        ("ice → ice", Stats::of(&across_times, |t| t.ice_to_ice), Stats::of(&one_node_times, |t| t.ice_to_ice)),
    ];
    for (name, across, one_node) in rows {
        println!(
            "{name}: across nodes ({calls} calls) p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             one node ({reference_calls} calls) p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             p50 +{:.2} ms (×{:.1})",
            ms(across.p50),
            ms(across.p99),
            ms(across.max),
            ms(one_node.p50),
            ms(one_node.p99),
            ms(one_node.max),
            ms(across.p50) - ms(one_node.p50),
            ms(across.p50) / ms(one_node.p50),
        );
    }
}

/// A caller connected to `caller_node` and a callee connected to `callee_node`; the callee
/// takes calls from everyone, so no friendship is needed.
async fn pair(caller_node: &Node, callee_node: &Node, name: &str) -> Pair {
    let (_, caller_token) = account(&caller_node.deps, &format!("{name}.caller")).await;
    let (callee, callee_token) = account(&callee_node.deps, &format!("{name}.callee")).await;
    let everyone = SettingsPatch { who_can_call: Some(Audience::Everyone), ..SettingsPatch::default() };
    profile::update_settings(&callee_node.deps, callee, everyone).await.unwrap();
    Pair {
        caller: caller_node.connect(&caller_token).await,
        callee: callee_node.connect(&callee_token).await,
        callee_id: callee.user_id.to_string(),
        last_beat: Instant::now(),
    }
}

async fn account(deps: &Deps, username: &str) -> (Actor, String) {
    let registered = auth::register(
        deps,
        Register {
            username: username.to_owned(),
            password: "mật khẩu 123".to_owned(),
            display_name: username.to_owned(),
            phone: None,
            device_name: None,
            client_ip: None,
        },
    )
    .await
    .unwrap();
    let actor = Actor { user_id: registered.user.id, session_id: registered.tokens.session_id };
    (actor, registered.tokens.access_token)
}

impl Pair {
    /// A heartbeat on both sockets when one is due. Each pair sits idle while the other's
    /// calls are measured; a socket that sends nothing for 75 s is closed.
    async fn keep_alive(&mut self) {
        if self.last_beat.elapsed() > HEARTBEAT_EVERY {
            send(&mut self.caller, json!({"type": "heartbeat", "id": "beat"})).await;
            send(&mut self.callee, json!({"type": "heartbeat", "id": "beat"})).await;
            self.last_beat = Instant::now();
        }
    }
}

/// One call from ringing to hanging up, timing the invite's and a candidate's way to the callee.
async fn call(pair: &mut Pair) -> CallTimes {
    pair.keep_alive().await;
    let invite =
        json!({"type": "call.invite", "id": "invite", "user_id": pair.callee_id, "media": "audio", "sdp": OFFER});
    let invited = Instant::now();
    send(&mut pair.caller, invite).await;
    let incoming = next_of(&mut pair.callee, "call.incoming", None).await;
    let invite_to_incoming = invited.elapsed();
    let call_id = incoming["call_id"].as_str().unwrap().to_owned();
    next_of(&mut pair.caller, "call.ringing", Some(&call_id)).await;

    send(&mut pair.callee, json!({"type": "call.accept", "id": "accept", "call_id": call_id, "sdp": ANSWER})).await;
    next_of(&mut pair.caller, "call.accepted", Some(&call_id)).await;

    if let Some(pause) = ICE_PAUSE.get().copied().flatten() {
        tokio::time::sleep(pause).await;
    }
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 192.168.1.7 50007 typ host generation 0",
                           "sdpMid": "0", "sdpMLineIndex": 0});
    let ice = json!({"type": "call.ice", "id": "ice", "call_id": call_id, "candidate": candidate});
    let sent = Instant::now();
    send(&mut pair.caller, ice).await;
    let relayed = next_of(&mut pair.callee, "call.ice", Some(&call_id)).await;
    let ice_to_ice = sent.elapsed();
    assert_eq!(relayed["candidate"], candidate, "{relayed}");

    send(&mut pair.caller, json!({"type": "call.hangup", "id": "hangup", "call_id": call_id})).await;
    for socket in [&mut pair.caller, &mut pair.callee] {
        let ended = next_of(socket, "call.ended", Some(&call_id)).await;
        assert_eq!(ended["reason"], "hung_up", "{ended}");
    }
    CallTimes { invite_to_incoming, ice_to_ice }
}

async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next frame of type `kind` (of call `call_id` when given), reading past the rest: acks,
/// presence, the SYSTEM message each call leaves. A refused request stops the bench.
async fn next_of(socket: &mut Socket, kind: &str, call_id: Option<&str>) -> Value {
    loop {
        let frame = tokio::time::timeout(FRAME_TIMEOUT, socket.next()).await.expect("a frame in time");
        let Some(Ok(Message::Text(text))) = frame else {
            assert!(matches!(frame, Some(Ok(_))), "the socket ended waiting for {kind}: {frame:?}");
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_ne!(value["type"], "error", "waiting for {kind}: {value}");
        if value["type"] == kind && call_id.is_none_or(|id| value["call_id"] == id) {
            return value;
        }
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(times: &[CallTimes], measure: impl Fn(&CallTimes) -> Duration) -> Stats {
        let mut sorted: Vec<Duration> = times.iter().map(measure).collect();
        sorted.sort();
        let percentile = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
        Stats { p50: percentile(0.50), p99: percentile(0.99), max: *sorted.last().unwrap() }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}
