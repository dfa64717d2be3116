//! Pushes to the local fake FCM (`chat_fcm::testing::FakeFcm`, h2c, in this process) through
//! one `FcmPushSender`, so over one HTTP/2 connection with one access token:
//!
//! - throughput: `PUSHES` sends with 16, 64 and 256 in flight, pushes per second;
//! - latency at a fixed rate: one send started every millisecond (1,000/s) for
//!   `PACED_SECONDS`, each timed from when it was due (not from when it started, so a stall
//!   counts against every send it delays), p50 / p99 / p99.9 / max.
//!
//! The fake checks every message against the v1 schema and the bearer token, as in the tests;
//! it shares the machine's cores with the sender, so the figures are a floor for the sender.
//!
//! Run: `cargo bench -p chat-fcm --bench pushes` (about 15 s after the build).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::domain::push::{Platform, PushOutcome};
use chat_core::domain::{Timestamp, Utc};
use chat_core::ports::{Clock, PushSender};
use chat_fcm::FcmPushSender;
use chat_fcm::testing::FakeFcm;
use futures_util::future::join_all;
use hdrhistogram::Histogram;

#[path = "../tests/common/mod.rs"]
mod common;

const PUSHES: usize = 20_000;
const PACED_SECONDS: u64 = 10;
const RATE_PER_SECOND: u64 = 1_000;

struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

fn platform(i: usize) -> Platform {
    [Platform::Android, Platform::Ios, Platform::Web][i % 3]
}

async fn throughput(sender: &Arc<FcmPushSender>, in_flight: usize) -> f64 {
    let started = Instant::now();
    let workers = (0..in_flight).map(|w| {
        let sender = sender.clone();
        tokio::spawn(async move {
            for i in (w..PUSHES).step_by(in_flight) {
                let outcome = sender.send(&common::message(&format!("device-{i}"), platform(i))).await;
                assert_eq!(outcome, Ok(PushOutcome::Sent));
            }
        })
    });
    for worker in join_all(workers).await {
        worker.unwrap();
    }
    PUSHES as f64 / started.elapsed().as_secs_f64()
}

async fn paced(sender: &Arc<FcmPushSender>) -> Histogram<u64> {
    let total = PACED_SECONDS * RATE_PER_SECOND;
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_SECOND));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(total as usize);
    for i in 0..total as usize {
        let due = ticks.tick().await.into_std();
        let sender = sender.clone();
        sends.push(tokio::spawn(async move {
            let outcome = sender.send(&common::message(&format!("paced-{i}"), platform(i))).await;
            assert_eq!(outcome, Ok(PushOutcome::Sent));
            due.elapsed()
        }));
    }
    let mut latencies = Histogram::<u64>::new(3).unwrap();
    for send in join_all(sends).await {
        latencies.record(send.unwrap().as_micros() as u64).unwrap();
    }
    latencies
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let fake = FakeFcm::start(Arc::new(WallClock)).await;
        let sender = Arc::new(FcmPushSender::new(fake.config(Duration::from_secs(10)), Arc::new(WallClock)).unwrap());
        // Warm-up: the grant, the connection, the allocator.
        throughput(&sender, 64).await;
        println!("FCM sender -> local fake FCM (h2c, checks every message), {PUSHES} pushes per run");
        for in_flight in [16, 64, 256] {
            let rate = throughput(&sender, in_flight).await;
            println!("  {in_flight:>3} in flight: {rate:>7.0} pushes/s");
        }
        let latencies = paced(&sender).await;
        let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "  paced at {RATE_PER_SECOND}/s for {PACED_SECONDS} s: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            ms(0.5),
            ms(0.99),
            ms(0.999),
            latencies.max() as f64 / 1000.0
        );
        println!(
            "  connections opened: {}, access tokens granted: {}, sends: {}",
            fake.connections(),
            fake.grants(),
            fake.sends()
        );
        assert_eq!(fake.connections(), 1);
        assert_eq!(fake.grants(), 1);
    });
}
