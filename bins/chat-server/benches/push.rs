//! Push notifications through the whole path a deployment runs (issue 16): push jobs on the
//! Redis queue, `chat_server::run_push_worker` taking them, `app::push::run` planning each
//! (the message, its conversation and members, presence in Redis, settings, devices, the
//! badge), `FcmPushSender` sending over one HTTP/2 connection to the local fake FCM.
//!
//! Two figures, in one run:
//! - the most pushes per second: a queue filled beforehand, drained by one worker process;
//! - enqueue → sent latency (p50 / p99 / max) at a steady 1,000 pushes per second.
//!
//! `cargo bench -p chat-server --bench push` (BENCH_PUSHES sets the drained count, default
//! 10,000; BENCH_PACED_SECONDS the paced run's length, default 5). Needs Redis (`REDIS_URL`
//! or the local one).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chat_core::app::auth::{self, Register};
use chat_core::app::messages::{self, SendMessage};
use chat_core::app::{Actor, Deps, Limits, conversations, devices};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ClientMsgId, MessageId};
use chat_core::domain::job::JobTask;
use chat_core::domain::push::{Platform, PushEvent, PushNotification, PushOutcome, PushTask};
use chat_core::domain::rate_limit::Quota;
use chat_core::ports::PushSender;
use chat_fcm::FcmPushSender;
use chat_fcm::testing::FakeFcm;
use chat_redis::testing::TestRedis;
use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;

/// Recipients, each with one Android device and a direct conversation with the sender: a
/// push job notifies exactly one device.
const RECIPIENTS: usize = 100;
/// The paced run's rate.
const PACED_RATE: usize = 1_000;
/// The worker's concurrency, as `CHAT_PUSH_CONCURRENCY` defaults.
const CONCURRENCY: usize = 64;

/// The FCM sender, noting when FCM accepted each message's notification.
struct Timed {
    inner: FcmPushSender,
    sent_at: Mutex<HashMap<String, Instant>>,
    sent: AtomicUsize,
}

#[async_trait]
impl PushSender for Timed {
    async fn send(&self, notification: &PushNotification) -> Result<PushOutcome, PortError> {
        let outcome = self.inner.send(notification).await;
        if outcome == Ok(PushOutcome::Sent) {
            let at = Instant::now();
            let id = notification.data.get("message_id").cloned().unwrap_or_default();
            self.sent_at.lock().unwrap().insert(id, at);
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let drained: usize = env_number("BENCH_PUSHES", 10_000);
    let paced_seconds: usize = env_number("BENCH_PACED_SECONDS", 5);
    let paced = PACED_RATE * paced_seconds;

    let redis = TestRedis::create().await;
    let clock: Arc<dyn chat_core::ports::Clock> = Arc::new(chat_system::SystemClock);
    let shared = chat_server::redis_services(redis.connection().await, chat_core::domain::job::JobPolicy::production());
    let queue = shared.push_jobs.clone();
    let blobs_dir = tempfile::tempdir().unwrap();
    let blobs = chat_server::disk_blobs(blobs_dir.path(), "http://127.0.0.1", b"bench secret", shared.claims.clone())
        .unwrap()
        .blobs;
    // The sender writes far more than a person could: the chat limit is not what is measured.
    let limits = Limits { chat: Quota { burst: 1_000_000, interval_ms: 1 }, ..Limits::default() };
    let store = Arc::new(chat_memory::MemoryStore::new());
    let seeding =
        chat_server::assemble_deps_with(store, shared, limits, clock, b"a bench secret of 32+ bytes....", blobs)
            .unwrap();
    let messages = seed(&seeding, drained + paced).await;

    let fake = FakeFcm::start(Arc::new(chat_system::SystemClock)).await;
    let sender = Arc::new(Timed {
        inner: FcmPushSender::new(fake.config(Duration::from_secs(10)), Arc::new(chat_system::SystemClock)).unwrap(),
        sent_at: Mutex::new(HashMap::new()),
        sent: AtomicUsize::new(0),
    });
    let mut worker_deps = seeding.clone();
    worker_deps.push_jobs = Some(queue.clone());

    // The most per second: the queue is full before the worker starts.
    let (first, rest) = messages.split_at(drained);
    let _ = enqueue_all(queue.as_ref(), first).await;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let worker = tokio::spawn(chat_server::run_push_worker(
        worker_deps,
        sender.clone(),
        "bench".into(),
        CONCURRENCY,
        stop.clone(),
    ));
    wait_sent(&sender, drained, Duration::from_secs(300)).await;
    let last = first.iter().map(|id| sender.sent_at.lock().unwrap()[&id.to_string()]).max().unwrap();
    let per_second = drained as f64 / (last - started).as_secs_f64();

    // Enqueue → sent at a steady rate: 10 jobs every 10 ms.
    let mut enqueued_at = HashMap::with_capacity(paced);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let paced_start = Instant::now();
    for batch in rest.chunks(PACED_RATE / 100) {
        tick.tick().await;
        enqueued_at.extend(enqueue_all(queue.as_ref(), batch).await);
    }
    let paced_took = paced_start.elapsed();
    wait_sent(&sender, drained + paced, Duration::from_secs(120)).await;
    let sent_at = sender.sent_at.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = rest.iter().map(|id| sent_at[&id.to_string()] - enqueued_at[id]).collect();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    stop.cancel();
    let _ = worker.await;

    println!("push: Redis queue → run_push_worker ({CONCURRENCY} at once) → FcmPushSender → fake FCM (h2c)");
    println!(
        "most pushes per second: {per_second:.0} ({drained} pushes drained in {:.2} s)",
        (last - started).as_secs_f64()
    );
    println!(
        "enqueue → sent at {:.0} pushes/s ({paced} pushes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        paced as f64 / paced_took.as_secs_f64(),
        ms(percentile(0.50)),
        ms(percentile(0.99)),
        ms(*latencies.last().unwrap()),
    );
    println!(
        "fake FCM: {} sends, {} connection(s), {} access token grant(s)",
        fake.sends(),
        fake.connections(),
        fake.grants()
    );
}

/// One sender, `RECIPIENTS` recipients with a device each, and `count` messages spread over
/// their conversations, stored without push (the bench queues their jobs itself).
async fn seed(deps: &Deps, count: usize) -> Vec<MessageId> {
    let sender = account(deps, "sender").await;
    let mut conversations_of_sender = Vec::with_capacity(RECIPIENTS);
    for n in 0..RECIPIENTS {
        let recipient = account(deps, &format!("recipient{n}")).await;
        let device =
            devices::RegisterDevice { platform: Platform::Android, token: format!("bench-token-{n}"), locale: None };
        devices::register(deps, recipient, device).await.unwrap();
        let (direct, _) = conversations::open_direct(deps, sender, recipient.user_id).await.unwrap();
        conversations_of_sender.push(direct.conversation.id);
    }
    let sends = (0..count).map(|n| {
        let conversation = conversations_of_sender[n % RECIPIENTS];
        let text = SendMessage::text(ClientMsgId(uuid::Uuid::now_v7()), format!("tin nhắn số {n}"));
        async move { messages::send(deps, sender, conversation, text).await.unwrap().message.id }
    });
    futures_util::stream::iter(sends).buffered(16).collect().await
}

async fn account(deps: &Deps, username: &str) -> Actor {
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
    Actor { user_id: registered.user.id, session_id: registered.tokens.session_id }
}

/// Queues each message's push job; returns when each was handed to the queue.
async fn enqueue_all(queue: &dyn chat_core::ports::JobQueue, messages: &[MessageId]) -> Vec<(MessageId, Instant)> {
    let mut enqueued = Vec::with_capacity(messages.len());
    for &id in messages {
        let at = Instant::now();
        assert!(queue.enqueue(JobTask::Push(PushTask::event(PushEvent::Message(id)))).await.unwrap());
        enqueued.push((id, at));
    }
    enqueued
}

async fn wait_sent(sender: &Timed, count: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while sender.sent.load(Ordering::Relaxed) < count {
        assert!(Instant::now() < deadline, "only {} of {count} pushes sent", sender.sent.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}
