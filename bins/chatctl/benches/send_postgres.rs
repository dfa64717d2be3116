//! The cost of one message send through the whole use case (membership check, idempotency
//! lookup, the direct conversation's privacy gate, rate check, the insert, fan-out publish)
//! on Postgres, with the in-memory store measured in the same run as the reference.
//!
//! `cargo bench -p chatctl --bench send_postgres`. Two kinds of run:
//! - sequential: one sender, one direct conversation, sends one after another
//!   (`BENCH_SENDS`, default 10000): the cost of one send with nothing else going on;
//! - concurrent: `BENCH_SENDERS` senders (default 256), each its own tokio task sending as
//!   fast as its sends are acknowledged, `BENCH_CONCURRENT_SENDS` sends in all (default
//!   20000), once with every sender in a direct conversation of its own and once in groups
//!   of 10 (ten senders share one conversation, so they queue on its row lock): what the
//!   store sustains, and the ack latency at that rate.
//!
//! Postgres comes from `DATABASE_URL`, else the local server; each run gets a throwaway
//! database and a pool of `BENCH_POOL` connections (default 16, the server's default).
//! Prints a table and writes the same figures to `target/bench/send_postgres.json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chat_core::app::messages::{self, SendMessage};
use chat_core::app::{Actor, Deps, Limits, conversations};
use chat_core::domain::account::{Audience, DisplayName, PasswordHash, Settings, User, Username};
use chat_core::domain::ids::{ClientMsgId, ConversationId, SessionId, UserId};
use chat_core::domain::rate_limit::Quota;
use chat_postgres::testing::TestDatabase;
use chat_system::SystemClock;
use hdrhistogram::Histogram;
use serde_json::json;

const SECRET: &[u8] = b"a benchmark secret of 32 bytes or more";
const WARM_UP: usize = 200;
/// Sends each concurrent sender makes before the clock starts (opens connections, fills
/// statement caches).
const WARM_UP_PER_SENDER: usize = 2;
const GROUP_SIZE: usize = 10;

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(n) => n.parse().unwrap_or_else(|_| panic!("{name} must be a count, not {n:?}")),
        Err(_) => default,
    }
}

/// A user stored straight through the port: the benchmark needs hundreds, and registering
/// them would spend seconds on argon2. Anyone may add them to groups.
async fn actor(deps: &Deps, name: &str) -> Actor {
    let now = deps.clock.now();
    let id = UserId(uuid::Uuid::now_v7());
    let user = User {
        id,
        username: Username::parse(&format!("{name}{}", &id.0.simple().to_string()[20..])).unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        phone: None,
        avatar_media_id: None,
        bio: String::new(),
        settings: Settings { who_can_add_to_groups: Audience::Everyone, ..Settings::default() },
        created_at: now,
        updated_at: now,
    };
    deps.users.insert_user(user, PasswordHash::new("not a password hash")).await.unwrap().unwrap();
    Actor { user_id: id, session_id: SessionId(uuid::Uuid::now_v7()) }
}

fn histogram() -> Histogram<u64> {
    // 1 ns to 60 s at 3 significant digits.
    Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

/// One run's result: every latency in ns, and the wall time of the measured sends.
struct Run {
    store: &'static str,
    mode: String,
    latencies: Histogram<u64>,
    /// Sends that failed; their latency is not in `latencies`.
    failed: usize,
    seconds: f64,
}

/// The figures of one run, latencies in µs.
struct Figures {
    count: u64,
    median: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
    per_second: u64,
}

impl Run {
    fn figures(&self) -> Figures {
        let h = &self.latencies;
        let micros = |ns: u64| (ns as f64 / 100.0).round() / 10.0;
        Figures {
            count: h.len(),
            median: micros(h.value_at_quantile(0.5)),
            p90: micros(h.value_at_quantile(0.9)),
            p99: micros(h.value_at_quantile(0.99)),
            max: micros(h.max()),
            mean: (h.mean() / 100.0).round() / 10.0,
            per_second: (h.len() as f64 / self.seconds).round() as u64,
        }
    }
}

/// One send, timed around the whole `messages::send` call; `None` when it failed (under
/// overload a send can wait longer for a pooled connection than the acquire timeout).
async fn timed_send(deps: &Deps, sender: Actor, conversation: ConversationId, n: usize) -> Option<u64> {
    let command = SendMessage::text(ClientMsgId(uuid::Uuid::now_v7()), format!("tin nhắn số {n}"));
    let one = Instant::now();
    let sent = messages::send(deps, sender, conversation, command).await.ok()?;
    let nanos = u64::try_from(one.elapsed().as_nanos()).unwrap_or(u64::MAX);
    assert!(sent.created, "every measured send stores a new message");
    Some(nanos.max(1))
}

/// Two users and their direct conversation; `WARM_UP` sends, then `count` sends one after
/// another.
async fn sequential(store: &'static str, deps: &Deps, count: usize) -> Run {
    let (sender, receiver) = (actor(deps, "gui").await, actor(deps, "nhan").await);
    let (conversation, _) = conversations::open_direct(deps, sender, receiver.user_id).await.unwrap();
    let id = conversation.conversation.id;
    for n in 0..WARM_UP {
        timed_send(deps, sender, id, n).await.expect("a warm-up send");
    }
    let (mut latencies, mut failed) = (histogram(), 0);
    let started = Instant::now();
    for n in 0..count {
        match timed_send(deps, sender, id, WARM_UP + n).await {
            Some(nanos) => latencies.saturating_record(nanos),
            None => failed += 1,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Run { store, mode: "sequential, 1 sender".to_owned(), latencies, failed, seconds }
}

/// `senders` senders, each on its own task, in conversations of `group_size` members (2: a
/// direct conversation with a receiver who does not send; more: a group whose members all
/// send). Each sends as soon as its previous send is acknowledged until `count` sends have
/// been made in all.
async fn concurrent(store: &'static str, deps: &Arc<Deps>, senders: usize, group_size: usize, count: usize) -> Run {
    let mut plan: Vec<(Actor, ConversationId)> = Vec::with_capacity(senders);
    if group_size <= 2 {
        for _ in 0..senders {
            let (sender, receiver) = (actor(deps, "gui").await, actor(deps, "nhan").await);
            let (conversation, _) = conversations::open_direct(deps, sender, receiver.user_id).await.unwrap();
            plan.push((sender, conversation.conversation.id));
        }
    } else {
        while plan.len() < senders {
            let size = group_size.min(senders - plan.len());
            let mut members = Vec::with_capacity(size);
            for _ in 0..size {
                members.push(actor(deps, "nhom").await);
            }
            let others: Vec<UserId> = members[1..].iter().map(|m| m.user_id).collect();
            let group = conversations::create_group(deps, members[0], "Nhóm", &others).await.unwrap();
            plan.extend(members.into_iter().map(|m| (m, group.conversation.id)));
        }
    }
    let wave = |sends: Arc<AtomicUsize>, limit: usize| {
        plan.iter()
            .map(|&(sender, conversation)| {
                let (deps, sends) = (Arc::clone(deps), Arc::clone(&sends));
                tokio::spawn(async move {
                    let (mut latencies, mut failed) = (histogram(), 0);
                    loop {
                        let n = sends.fetch_add(1, Ordering::Relaxed);
                        if n >= limit {
                            return (latencies, failed);
                        }
                        match timed_send(&deps, sender, conversation, n).await {
                            Some(nanos) => latencies.saturating_record(nanos),
                            None => failed += 1,
                        }
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    for task in wave(Arc::new(AtomicUsize::new(0)), senders * WARM_UP_PER_SENDER) {
        task.await.unwrap();
    }
    let started = Instant::now();
    let (mut latencies, mut failed) = (histogram(), 0);
    for task in wave(Arc::new(AtomicUsize::new(0)), count) {
        let (sender_latencies, sender_failed) = task.await.unwrap();
        latencies.add(sender_latencies).unwrap();
        failed += sender_failed;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mode = if group_size <= 2 {
        format!("{senders} senders, direct")
    } else {
        format!("{senders} senders, groups of {group_size}")
    };
    Run { store, mode, latencies, failed, seconds }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let count = env_count("BENCH_SENDS", 10_000);
        let senders = env_count("BENCH_SENDERS", 256);
        let concurrent_count = env_count("BENCH_CONCURRENT_SENDS", 20_000);
        let pool = u32::try_from(env_count("BENCH_POOL", 16)).unwrap();
        let database = TestDatabase::create().await;
        // Seeding-level limit: the benchmark measures the send, not the limiter's refusals.
        let limits = || Limits { chat: Quota::per_minute(u32::MAX), ..Limits::default() };
        let store = Arc::new(database.store(pool).await);
        // Media play no part here; each set still needs a blob store.
        let blob_dir = tempfile::tempdir().unwrap();
        let blobs = || chat_server::standalone_disk_blobs(blob_dir.path(), "http://127.0.0.1:1").unwrap().blobs;
        let postgres =
            Arc::new(chat_server::assemble_deps(store, limits(), Arc::new(SystemClock), SECRET, blobs()).unwrap());
        let memory = Arc::new(chat_server::embedded_deps(limits(), Arc::new(SystemClock), SECRET, blobs()).unwrap());

        let runs = [
            sequential("memory (reference)", &memory, count).await,
            sequential("postgres", &postgres, count).await,
            concurrent("memory (reference)", &memory, senders, 2, concurrent_count).await,
            concurrent("postgres", &postgres, senders, 2, concurrent_count).await,
            concurrent("memory (reference)", &memory, senders, GROUP_SIZE, concurrent_count).await,
            concurrent("postgres", &postgres, senders, GROUP_SIZE, concurrent_count).await,
        ];

        println!(
            "message sends through messages::send; sequential runs after {WARM_UP} to warm up, concurrent runs \
             after {WARM_UP_PER_SENDER} per sender; pool of {pool}"
        );
        println!(
            "{:<20} {:<28} {:>7} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "store", "mode", "count", "failed", "median µs", "p90 µs", "p99 µs", "max µs", "sends/s"
        );
        let mut figures = Vec::new();
        for run in &runs {
            let f = run.figures();
            println!(
                "{:<20} {:<28} {:>7} {:>7} {:>10.1} {:>9.1} {:>9.1} {:>9.1} {:>9}",
                run.store, run.mode, f.count, run.failed, f.median, f.p90, f.p99, f.max, f.per_second
            );
            figures.push(json!({
                "store": run.store,
                "mode": run.mode,
                "count": f.count,
                "failed": run.failed,
                "median_us": f.median,
                "p90_us": f.p90,
                "p99_us": f.p99,
                "max_us": f.max,
                "mean_us": f.mean,
                "sends_per_s": f.per_second,
            }));
        }
        let report = json!({
            "benchmark": "send_postgres",
            "sends": count,
            "concurrent_sends": concurrent_count,
            "senders": senders,
            "pool": pool,
            "warm_up": WARM_UP,
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "runs": figures,
        });
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap();
        let out =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), Into::into).join("bench");
        std::fs::create_dir_all(&out).unwrap();
        let path = out.join("send_postgres.json");
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
        println!("written to {}", path.display());
    });
}
