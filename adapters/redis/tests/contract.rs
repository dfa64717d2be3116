//! The presence, rate-limit, claim-store, call-store and event-bus contracts of
//! `chat_core::testkit` against a real redis-server, one test per check
//! (`redis_presence::<check>`, `redis_rate_limit::<check>`, `redis_claims::<check>`,
//! `redis_calls::<check>`, `redis_jobs::<check>`, `redis_event_bus::<check>`, the bus as two
//! nodes on one Redis); the bus through a Redis restart; two call-store nodes sharing their
//! calls; and a job-queue node that dies mid-job while another finishes its job. (The profile
//! cache runs the `UserRepo` contract where it meets a store:
//! bins/chat-server/tests/e2e/profile_cache.rs.)

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chat_core::domain::call::{Call, CallDevice, CallEvent, CallMedia, CallPolicy, CallTimer, Invite, Sdp};
use chat_core::domain::event::{Delivery, Event, TypingState};
use chat_core::domain::ids::{CallId, ConversationId, MediaId, MessageId, SessionId, UserId};
use chat_core::domain::job::JobTask;
use chat_core::domain::push::{PushEvent, PushTask};
use chat_core::ports::{CallStore, EventBus, EventSink, JobQueue, QueueStats, StartOutcome, StoredCall};
use chat_core::testkit::jobs::contract_policy;
use chat_core::testkit::{
    call_store_contract_tests, claim_store_contract_tests, event_bus_contract_tests, job_queue_contract_tests,
    node_registry_contract_tests, presence_contract_tests, rate_limit_contract_tests,
};
use chat_redis::testing::{OwnRedisServer, TestRedis};
use chat_redis::{
    RedisCallStore, RedisClaims, RedisConnection, RedisEventBus, RedisJobQueue, RedisNodes, RedisPresence,
    RedisRateLimiter,
};
use tokio::sync::mpsc;

/// An adapter on a Redis key prefix of its own, with the handle that deletes its keys.
async fn on_test_redis<T>(adapter: impl FnOnce(RedisConnection) -> T) -> (TestRedis, T) {
    let redis = TestRedis::create().await;
    let adapter = adapter(redis.connection().await);
    (redis, adapter)
}

presence_contract_tests! {
    mod redis_presence;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, presence) = on_test_redis(RedisPresence::new).await;
    check(&presence);
}

rate_limit_contract_tests! {
    mod redis_rate_limit;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, limiter) = on_test_redis(RedisRateLimiter::new).await;
    check(&limiter);
}

claim_store_contract_tests! {
    mod redis_claims;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, claims) = on_test_redis(RedisClaims::new).await;
    check(&claims);
}

call_store_contract_tests! {
    mod redis_calls;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, calls) = on_test_redis(RedisCallStore::new).await;
    check(&calls);
}

node_registry_contract_tests! {
    mod redis_nodes;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, nodes) = on_test_redis(RedisNodes::new).await;
    check(&nodes);
}

/// Two nodes' call stores on one Redis see one set of calls: a call started on one is read,
/// refused as busy, updated and ended on the other, and a timer armed on one is taken on the
/// other, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_their_calls() {
    let redis = TestRedis::create().await;
    let first = RedisCallStore::new(redis.connection().await);
    let second = RedisCallStore::new(redis.connection().await);
    let ttl = chat_core::domain::Duration::hours(1);
    let (caller, callee) = (UserId(uuid::Uuid::now_v7()), UserId(uuid::Uuid::now_v7()));
    let call = ringing_call(caller, callee);
    assert_eq!(first.start(&call, ttl).await.unwrap(), StartOutcome::Started);

    assert_eq!(second.call(call.id()).await.unwrap(), Some(StoredCall { call: call.clone(), version: 1 }));
    assert_eq!(second.current_call(callee).await.unwrap(), Some(call.id()));
    let rival = ringing_call(UserId(uuid::Uuid::now_v7()), callee);
    assert_eq!(second.start(&rival, ttl).await.unwrap(), StartOutcome::Busy(callee));

    let mut ended = call.clone();
    ended.apply(CallEvent::Hangup { by: call.caller() }, chat_core::domain::Utc::now()).unwrap();
    assert_eq!(second.update(&ended, 1, ttl).await.unwrap(), Some(2));
    assert_eq!(first.update(&ended, 1, ttl).await.unwrap(), None, "the first node's version is stale");
    assert_eq!(first.call(call.id()).await.unwrap(), Some(StoredCall { call: ended, version: 2 }));
    assert_eq!(first.current_call(caller).await.unwrap(), None);

    let due = chat_core::domain::Utc::now();
    first.arm(call.id(), CallTimer::Ring, due).await.unwrap();
    assert_eq!(second.take_due(due, 10).await.unwrap(), vec![(call.id(), CallTimer::Ring)]);
    assert_eq!(first.take_due(due, 10).await.unwrap(), Vec::new());
}

fn ringing_call(caller: UserId, callee: UserId) -> Call {
    let invite = Invite {
        id: CallId(uuid::Uuid::now_v7()),
        conversation_id: ConversationId(uuid::Uuid::now_v7()),
        caller: CallDevice { user_id: caller, session_id: SessionId(uuid::Uuid::now_v7()) },
        caller_node: chat_core::domain::ids::NodeId(uuid::Uuid::now_v7()),
        callee,
        media: CallMedia::Video,
        offer: Sdp::parse("v=0 offer".to_owned()).unwrap(),
    };
    Call::ring(invite, CallPolicy::production(), chat_core::domain::Utc::now()).unwrap().0
}

job_queue_contract_tests! {
    mod redis_jobs;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, queue) = on_test_redis(|redis| RedisJobQueue::new(redis, contract_policy())).await;
    check(&queue);
}

/// Two nodes share a queue; the first takes a job and dies: its process is gone, its
/// connections closed, the job never completed. The second node, waiting in `take`, gets the
/// job once the timeout has passed and completes it; the queue is then empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_node_that_died_is_finished_by_another_node_once() {
    let redis = TestRedis::create().await;
    let survivor = RedisJobQueue::new(redis.connection().await, contract_policy());
    let media = JobTask::ProcessMedia(MediaId(uuid::Uuid::now_v7()));
    let started = std::time::Instant::now();
    let dying = tokio::spawn({
        let connection = redis.connection().await;
        let media = media.clone();
        async move {
            let node = RedisJobQueue::new(connection, contract_policy());
            node.enqueue(media).await.unwrap();
            node.take("dying-node", Duration::ZERO).await.unwrap().expect("the job")
            // The node ends here, its job unfinished, its connections dropped.
        }
    });
    let abandoned = dying.await.unwrap();
    assert_eq!((&abandoned.task, abandoned.attempt), (&media, 1));
    let job = survivor.take("survivor", Duration::from_secs(20)).await.unwrap().expect("the abandoned job");
    assert!(started.elapsed() >= contract_policy().visibility_timeout, "taken over before the timeout");
    assert_eq!((&job.task, job.attempt), (&media, 2));
    assert!(survivor.complete(&job).await.unwrap());
    assert!(!survivor.complete(&abandoned).await.unwrap(), "the dead node's claim completes nothing");
    assert_eq!(survivor.stats().await.unwrap(), QueueStats::default());
    assert_eq!(survivor.take("survivor", Duration::ZERO).await.unwrap(), None);
}

/// Two nodes' buses on one Redis (a key prefix of the test's own), and that Redis.
async fn two_nodes() -> (TestRedis, Arc<RedisEventBus>, Arc<RedisEventBus>) {
    let redis = TestRedis::create().await;
    let first = RedisEventBus::start(redis.connection().await, fresh_node());
    let second = RedisEventBus::start(redis.connection().await, fresh_node());
    (redis, first, second)
}

event_bus_contract_tests! {
    mod redis_event_bus;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, first, second) = two_nodes().await;
    check([&*first, &*second]);
}

/// A sink that forwards what it gets to the test.
struct Probe(mpsc::UnboundedSender<String>);

impl EventSink for Probe {
    fn deliver(&self, delivery: &Delivery) {
        let _ = self.0.send(serde_json::to_string(&delivery.event).unwrap());
    }
    fn resync(&self) {
        let _ = self.0.send("resync".into());
    }
}

fn typing(n: u128) -> Delivery {
    let event = Event::Typing {
        conversation_id: ConversationId(uuid::Uuid::from_u128(n)),
        user_id: UserId(uuid::Uuid::from_u128(n)),
        state: TypingState::Started,
    };
    Delivery { recipients: vec![UserId(uuid::Uuid::from_u128(1))], except_session: None, only_session: None, event }
}

async fn subscribed(bus: &RedisEventBus) {
    for _ in 0..200 {
        if bus.is_subscribed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await; // waiting for a connection, not synchronising events
    }
    panic!("the bus never subscribed");
}

async fn received(probe: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), probe.recv()).await.expect("an event in time").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_resubscribes_after_redis_restarts_and_asks_clients_to_sync() {
    let port = OwnRedisServer::free_port();
    let server = OwnRedisServer::start(port);
    let url = server.url();
    let mut connection = None;
    for _ in 0..200 {
        if let Ok(conn) = RedisConnection::connect(&url, "restart:", 2).await {
            let bus = RedisEventBus::start(conn.clone(), fresh_node());
            connection = Some((conn, bus));
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_connection, bus) = connection.expect("redis-server came up");
    let (sender, mut probe) = mpsc::unbounded_channel();
    bus.subscribe(Arc::new(Probe(sender)));
    subscribed(&bus).await;
    // If the first connection attempt beat redis-server's start, that gap was reported already.
    while probe.try_recv().is_ok() {}

    server.stop();
    // While Redis is down a publish fails, but this node's own sockets still get the event.
    let mut failed = false;
    for _ in 0..200 {
        if bus.publish(typing(9)).await.is_err() {
            failed = true;
            break;
        }
        let _ = received(&mut probe).await; // delivered through Redis before it died
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(failed, "publishing never failed with Redis stopped");
    assert!(received(&mut probe).await.contains("typing"), "local fallback delivery");

    let server = OwnRedisServer::start(port);
    assert_eq!(received(&mut probe).await, "resync", "after the gap every client is told to sync");
    subscribed(&bus).await;
    bus.publish(typing(10)).await.unwrap();
    assert!(received(&mut probe).await.contains(&uuid::Uuid::from_u128(10).to_string()));
    server.stop();
}

/// The media and push queues share a Redis (and a prefix) but not their jobs: each hands out
/// only what was enqueued on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_queues_keep_their_jobs_apart() {
    let redis = TestRedis::create().await;
    let media_queue = RedisJobQueue::new(redis.connection().await, contract_policy());
    let push_queue = RedisJobQueue::named(redis.connection().await, "push-jobs", contract_policy());
    let media = JobTask::ProcessMedia(MediaId(uuid::Uuid::now_v7()));
    let push = JobTask::Push(PushTask::event(PushEvent::Message(MessageId(uuid::Uuid::now_v7()))));
    assert!(media_queue.enqueue(media.clone()).await.unwrap());
    assert!(push_queue.enqueue(push.clone()).await.unwrap());
    assert!(push_queue.enqueue(media.clone()).await.unwrap(), "deduplication is per queue");
    let from_push = push_queue.take("w", Duration::ZERO).await.unwrap().expect("the push job");
    assert_eq!(from_push.task, push);
    let from_media = media_queue.take("w", Duration::ZERO).await.unwrap().expect("the media job");
    assert_eq!(from_media.task, media);
    assert_eq!(media_queue.take("w", Duration::ZERO).await.unwrap(), None, "the media queue holds no push job");
    for (queue, job) in [(&media_queue, &from_media), (&push_queue, &from_push)] {
        assert!(queue.complete(job).await.unwrap());
    }
    let stray = push_queue.take("w", Duration::ZERO).await.unwrap().expect("the media task put on the push queue");
    assert!(push_queue.complete(&stray).await.unwrap());
    assert_eq!(push_queue.stats().await.unwrap(), QueueStats::default());
}

/// An entry written before push jobs existed names its media in a `media` field: it is still
/// handed out, as the media job it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_from_before_push_jobs_is_still_a_media_job() {
    let redis = TestRedis::create().await;
    let queue = RedisJobQueue::new(redis.connection().await, contract_policy());
    let media = MediaId(uuid::Uuid::now_v7());
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("XADD")
        .arg(format!("{}jobs:stream", redis.prefix))
        .arg("*")
        .arg("media")
        .arg(media.to_string())
        .arg("attempt")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let live = format!("{}jobs:live", redis.prefix);
    let _: i64 = redis::cmd("SADD").arg(live).arg(media.to_string()).query_async(&mut conn).await.unwrap();
    let job = queue.take("w", Duration::ZERO).await.unwrap().expect("the old entry");
    assert_eq!((&job.task, job.attempt), (&JobTask::ProcessMedia(media), 1));
    assert!(queue.complete(&job).await.unwrap());
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default(), "its live mark went with it");
    assert!(queue.enqueue(JobTask::ProcessMedia(media)).await.unwrap());
}

/// A node id of its own for each bus: two buses are two nodes.
fn fresh_node() -> chat_core::domain::ids::NodeId {
    chat_core::domain::ids::NodeId(uuid::Uuid::now_v7())
}
