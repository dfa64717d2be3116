//! The cost of one message send through the whole use case (membership check, idempotency
//! lookup, rate check, the insert transaction, fan-out publish) on Postgres, with the
//! in-memory store measured in the same run as the reference.
//!
//! `cargo bench -p chatctl --bench send_postgres` (`BENCH_SENDS` sets the count, default
//! 10000). Postgres comes from `DATABASE_URL`, else the local server; each run gets a
//! throwaway database. Prints a table and writes the same figures to
//! `target/bench/send_postgres.json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use chat_core::app::auth::{self, Register};
use chat_core::app::messages::{self, SendMessage};
use chat_core::app::{Actor, Deps, Limits, conversations};
use chat_core::domain::ids::ClientMsgId;
use chat_core::domain::rate_limit::Quota;
use chat_postgres::testing::TestDatabase;
use chat_system::SystemClock;
use hdrhistogram::Histogram;
use serde_json::json;

const SECRET: &[u8] = b"a benchmark secret of 32 bytes or more";
const WARM_UP: usize = 200;

async fn actor(deps: &Deps, name: &str) -> Actor {
    let registration = Register {
        username: name.to_owned(),
        password: "benchmark password".to_owned(),
        display_name: name.to_owned(),
        phone: None,
        device_name: None,
        client_ip: None,
    };
    let done = auth::register(deps, registration).await.unwrap();
    Actor { user_id: done.user.id, session_id: done.tokens.session_id }
}

/// One store's result: every latency in ns, and the wall time of the measured sends.
struct Run {
    store: &'static str,
    latencies: Histogram<u64>,
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
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
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

/// Two users and their direct conversation; `WARM_UP` sends, then `count` sends one after
/// another, each timed around the whole `messages::send` call.
async fn measure(store: &'static str, deps: &Deps, count: usize) -> Run {
    let (sender, receiver) = (actor(deps, "nguoi.gui").await, actor(deps, "nguoi.nhan").await);
    let (conversation, _) = conversations::open_direct(deps, sender, receiver.user_id).await.unwrap();
    let id = conversation.conversation.id;
    let send = |n: usize| {
        let command = SendMessage {
            client_msg_id: ClientMsgId(uuid::Uuid::now_v7()),
            body: Some(format!("tin nhắn số {n}")),
            reply_to: None,
        };
        messages::send(deps, sender, id, command)
    };
    for n in 0..WARM_UP {
        send(n).await.unwrap();
    }
    // 1 ns to 60 s at 3 significant digits.
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let started = Instant::now();
    for n in 0..count {
        let one = Instant::now();
        let sent = send(WARM_UP + n).await.unwrap();
        let nanos = u64::try_from(one.elapsed().as_nanos()).unwrap_or(u64::MAX);
        assert!(sent.created, "every measured send stores a new message");
        latencies.saturating_record(nanos.max(1));
    }
    Run { store, latencies, seconds: started.elapsed().as_secs_f64() }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let count: usize = match std::env::var("BENCH_SENDS") {
            Ok(n) => n.parse().unwrap_or_else(|_| panic!("BENCH_SENDS must be a count, not {n:?}")),
            Err(_) => 10_000,
        };
        let Some(database) = TestDatabase::create().await else {
            eprintln!("send_postgres: no Postgres to measure (set DATABASE_URL); nothing was measured");
            std::process::exit(2);
        };
        // Seeding-level limit: the benchmark measures the send, not the limiter's refusals.
        let limits = || Limits { chat: Quota::per_minute(u32::MAX), ..Limits::default() };
        let store = Arc::new(database.store(4).await);
        let postgres = chat_server::assemble_deps(store, limits(), Arc::new(SystemClock), SECRET).unwrap();
        let memory = chat_server::embedded_deps(limits(), Arc::new(SystemClock), SECRET).unwrap();

        let runs = [measure("memory (reference)", &memory, count).await, measure("postgres", &postgres, count).await];

        println!("one message send through messages::send, {count} sequential sends after {WARM_UP} to warm up");
        println!(
            "{:<20} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "store", "count", "median µs", "p90 µs", "p99 µs", "max µs", "sends/s"
        );
        let mut figures = Vec::new();
        for run in &runs {
            let f = run.figures();
            println!(
                "{:<20} {:>7} {:>10.1} {:>9.1} {:>9.1} {:>9.1} {:>9}",
                run.store, f.count, f.median, f.p90, f.p99, f.max, f.per_second
            );
            figures.push(json!({
                "store": run.store,
                "count": f.count,
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
