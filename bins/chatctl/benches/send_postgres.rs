//! The cost of one message send through the whole use case (membership check, idempotency
//! lookup, rate check, the insert transaction, fan-out) on Postgres, with the in-memory store
//! measured in the same run as the reference.
//!
//! `cargo bench -p chatctl --bench send_postgres` (BENCH_SENDS sets the count, default 10000).

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

const SECRET: &[u8] = b"a benchmark secret of 32 bytes or more";

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

/// Sends `count` messages one after another; returns each latency in µs, sorted, and the
/// wall time in seconds.
async fn measure(deps: &Deps, count: usize) -> (Vec<u64>, f64) {
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
    for n in 0..200 {
        send(n).await.unwrap();
    }
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        let one = Instant::now();
        send(n).await.unwrap();
        latencies.push(u64::try_from(one.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    let wall = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    (latencies, wall)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let count: usize = std::env::var("BENCH_SENDS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
        let limits = || Limits { chat: Quota::per_minute(u32::MAX), ..Limits::default() };
        let Some(database) = TestDatabase::create().await else { return };
        let store = Arc::new(database.store(4).await);
        let postgres = chat_server::assemble_deps(store, limits(), Arc::new(SystemClock), SECRET).unwrap();
        let memory = chat_server::embedded_deps(limits(), Arc::new(SystemClock), SECRET).unwrap();

        let mut rows = Vec::new();
        for (name, deps) in [("memory (reference)", &memory), ("postgres", &postgres)] {
            let (latencies, wall) = measure(deps, count).await;
            rows.push((name, latencies, wall));
        }
        println!("one message send, whole use case, {count} sequential sends");
        println!("{:<20} {:>9} {:>9} {:>9} {:>9} {:>10}", "store", "p50 µs", "p90 µs", "p99 µs", "max µs", "sends/s");
        let mut json = String::from("{");
        for (i, (name, latencies, wall)) in rows.iter().enumerate() {
            let (p50, p90, p99) = (percentile(latencies, 0.5), percentile(latencies, 0.9), percentile(latencies, 0.99));
            let max = latencies.last().copied().unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            let rate = latencies.len() as f64 / wall;
            println!("{name:<20} {p50:>9} {p90:>9} {p99:>9} {max:>9} {rate:>10.0}");
            let comma = if i == 0 { "" } else { "," };
            json.push_str(&format!(
                "{comma}\"{name}\":{{\"count\":{count},\"p50_us\":{p50},\"p90_us\":{p90},\"p99_us\":{p99},\"max_us\":{max},\"sends_per_s\":{rate:.0}}}"
            ));
        }
        json.push('}');
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("send_postgres.json"), json).unwrap();
    });
}
