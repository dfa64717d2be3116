//! A worker process: drives its share of the users on one thread and reports to the
//! coordinator over stdout, one line per step:
//! `connected <ok> <failed>` once its connections are up, then (after `go <unix µs>` on
//! stdin) `report <json>` when the scenario has run and drained.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::conn;
use crate::plan::Plan;
use crate::stats::{Recorded, SeqTally, WorkerReport, latency_histogram};

/// Where the run stands, as every client sees it.
#[derive(Clone, Copy, Debug)]
pub enum Phase {
    Connecting,
    Go(Instant),
    End,
}

/// Handshakes in flight at once per worker: more only overflows the server's accept queue.
const HANDSHAKES_IN_FLIGHT: usize = 512;

/// What the clients of one worker add to.
pub struct Shared {
    pub connect_failed: AtomicU64,
    connected: AtomicU64,
    pub sent: AtomicU64,
    acked: AtomicU64,
    pub unanswered: AtomicU64,
    pub delivered: AtomicU64,
    pub duplicates: AtomicU64,
    pub heartbeats: AtomicU64,
    /// Sends without an answer yet, across clients.
    pub in_flight: AtomicU64,
    /// Deliveries so far, to see when traffic has drained.
    arrivals: AtomicU64,
    last_activity: AtomicU64,
    finished: AtomicUsize,
    histograms: Mutex<Histograms>,
    tallies: Mutex<HashMap<String, SeqTally>>,
    dropped: Mutex<HashMap<String, u64>>,
    refused: Mutex<HashMap<String, u64>>,
    first_connect_error: Mutex<Option<String>>,
}

struct Histograms {
    connect: Histogram<u64>,
    ack: Histogram<u64>,
    deliver: Histogram<u64>,
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Shared {
    fn new() -> Self {
        Shared {
            connect_failed: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            unanswered: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            arrivals: AtomicU64::new(0),
            last_activity: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            histograms: Mutex::new(Histograms {
                connect: latency_histogram(),
                ack: latency_histogram(),
                deliver: latency_histogram(),
            }),
            tallies: Mutex::new(HashMap::new()),
            dropped: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            first_connect_error: Mutex::new(None),
        }
    }

    fn histograms(&self) -> std::sync::MutexGuard<'_, Histograms> {
        self.histograms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn record_connect(&self, took: Duration) {
        self.connected.fetch_add(1, Relaxed);
        let _ = self.histograms().connect.record(micros(took));
    }

    pub fn record_ack(&self, took: Duration) {
        self.acked.fetch_add(1, Relaxed);
        self.last_activity.fetch_max(unix_micros(), Relaxed);
        self.histograms().ack.saturating_record(micros(took));
    }

    pub fn record_delivery(&self, took: Duration) {
        self.arrivals.fetch_add(1, Relaxed);
        self.last_activity.fetch_max(unix_micros(), Relaxed);
        self.histograms().deliver.saturating_record(micros(took));
    }

    pub fn note_drop(&self, code: String) {
        *self.dropped.lock().unwrap_or_else(PoisonError::into_inner).entry(code).or_default() += 1;
    }

    pub fn note_refusal(&self, code: &str) {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner).entry(code.to_owned()).or_default() += 1;
    }

    pub fn note_connect_error(&self, error: &str) {
        self.first_connect_error.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(|| error.to_owned());
    }

    pub fn add_tally(&self, conversation: String, tally: SeqTally) {
        self.tallies.lock().unwrap_or_else(PoisonError::into_inner).entry(conversation).or_default().add(tally);
    }

    fn report(&self) -> WorkerReport {
        let histograms = self.histograms();
        WorkerReport {
            connected: self.connected.load(Relaxed),
            connect_failed: self.connect_failed.load(Relaxed),
            dropped: self.dropped.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            sent: self.sent.load(Relaxed),
            acked: self.acked.load(Relaxed),
            refused: self.refused.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            unanswered: self.unanswered.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            heartbeats: self.heartbeats.load(Relaxed),
            last_activity_unix_micros: self.last_activity.load(Relaxed),
            connect_latency: Recorded::of(&histograms.connect),
            ack_latency: Recorded::of(&histograms.ack),
            deliver_latency: Recorded::of(&histograms.deliver),
            tallies: self.tallies.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        }
    }
}

pub fn run(plan: Plan, index: usize) -> anyhow::Result<()> {
    // One thread per worker process: the coordinator starts one process per core it wants.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(drive(plan, index))
}

async fn drive(mut plan: Plan, index: usize) -> anyhow::Result<()> {
    plan.bodies = plan.load_bodies()?;
    let users = plan.load_users()?;
    let share = plan.share(users.len(), index);
    let mine = users.get(share.clone()).context("worker index out of range")?.to_vec();
    let plan = Arc::new(plan);
    let shared = Arc::new(Shared::new());
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);

    let rate = f64::from(plan.connect_rate.max(1)) / plan.workers.max(1) as f64;
    let handshakes = Arc::new(Semaphore::new(HANDSHAKES_IN_FLIGHT));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    let count = mine.len();
    for (offset, user) in mine.into_iter().enumerate() {
        let due = started + Duration::from_secs_f64(offset as f64 / rate);
        tokio::time::sleep_until(due).await;
        let global = share.start + offset;
        let source =
            (!plan.source_addrs.is_empty()).then(|| IpAddr::V4(plan.source_addrs[global % plan.source_addrs.len()]));
        let permit = handshakes.clone().acquire_owned().await?;
        let (plan, shared, phase) = (plan.clone(), shared.clone(), phase_rx.clone());
        clients.spawn(async move {
            conn::client(plan, shared.clone(), user, source, permit, phase).await;
            shared.finished.fetch_add(1, Relaxed);
        });
    }
    // Every client either connected or gave up.
    while (shared.connected.load(Relaxed) + shared.connect_failed.load(Relaxed)) < count as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Some(error) = shared.first_connect_error.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
        eprintln!("worker {index}: first connection failure: {error}");
    }
    println!("connected {} {}", shared.connected.load(Relaxed), shared.connect_failed.load(Relaxed));

    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let line = stdin.next_line().await?.context("coordinator closed stdin before go")?;
    let start_unix: u64 = line.strip_prefix("go ").context("expected `go <unix µs>`")?.trim().parse()?;
    let start = instant_at(start_unix);
    phase_tx.send_replace(Phase::Go(start));
    tokio::time::sleep_until(start + plan.scenario.active_for()).await;
    if plan.scenario.sends() {
        drain(&shared, plan.drain).await;
    }
    phase_tx.send_replace(Phase::End);
    // Clients finish their accounts as soon as they see the end.
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.finished.load(Relaxed) < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if shared.finished.load(Relaxed) < count {
        bail!("{} clients did not finish", count - shared.finished.load(Relaxed));
    }
    let report = serde_json::to_string(&shared.report())?;
    println!("report {report}");
    clients.abort_all();
    Ok(())
}

/// Waits until every send is answered and deliveries have stopped for a second, or `limit`.
async fn drain(shared: &Shared, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last_arrivals = shared.arrivals.load(Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let arrivals = shared.arrivals.load(Relaxed);
        if arrivals != last_arrivals {
            last_arrivals = arrivals;
            quiet_since = Instant::now();
        }
        if shared.in_flight.load(Relaxed) == 0 && quiet_since.elapsed() >= Duration::from_secs(1) {
            return;
        }
    }
}

pub fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The monotonic instant of a wall-clock time given in µs since the epoch.
fn instant_at(at_unix_micros: u64) -> Instant {
    let now_unix = unix_micros();
    let now = Instant::now();
    if at_unix_micros >= now_unix {
        now + Duration::from_micros(at_unix_micros - now_unix)
    } else {
        now.checked_sub(Duration::from_micros(now_unix - at_unix_micros)).unwrap_or(now)
    }
}
