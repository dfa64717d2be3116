//! The presence and rate-limit contracts, the event bus across nodes and through a Redis
//! restart, against a real redis-server. (The profile cache is tested where it meets a
//! store: bins/chat-server/tests/e2e/profile_cache.rs.)

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chat_core::domain::event::{Delivery, Event, TypingState};
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::ports::{EventBus, EventSink};
use chat_core::testkit;
use chat_redis::testing::{OwnRedisServer, TestRedis};
use chat_redis::{RedisConnection, RedisEventBus, RedisPresence, RedisRateLimiter};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_presence_passes_the_presence_contract() {
    let redis = TestRedis::create().await;
    testkit::presence::run_all(&RedisPresence::new(redis.connection().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rate_limiter_passes_the_rate_limit_contract() {
    let redis = TestRedis::create().await;
    testkit::rate_limit::run_all(&RedisRateLimiter::new(redis.connection().await)).await;
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
    Delivery { recipients: vec![UserId(uuid::Uuid::from_u128(1))], except_session: None, event }
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
async fn an_event_published_on_one_node_reaches_every_node_once() {
    let redis = TestRedis::create().await;
    let node_1 = RedisEventBus::start(redis.connection().await);
    let node_2 = RedisEventBus::start(redis.connection().await);
    let (sender, mut probe_1) = mpsc::unbounded_channel();
    node_1.subscribe(Arc::new(Probe(sender)));
    let (sender, mut probe_2) = mpsc::unbounded_channel();
    node_2.subscribe(Arc::new(Probe(sender)));
    subscribed(&node_1).await;
    subscribed(&node_2).await;
    node_1.publish(typing(7)).await.unwrap();
    node_1.publish(typing(8)).await.unwrap();
    for probe in [&mut probe_1, &mut probe_2] {
        for user in [7, 8] {
            let event = received(probe).await;
            assert!(event.contains("typing") && event.contains(&uuid::Uuid::from_u128(user).to_string()), "{event}");
        }
    }
    // A third event through node 2: had node 1 taken its own two back from the channel, they
    // would come before it.
    node_2.publish(typing(9)).await.unwrap();
    assert!(received(&mut probe_1).await.contains(&uuid::Uuid::from_u128(9).to_string()), "no event twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_resubscribes_after_redis_restarts_and_asks_clients_to_sync() {
    let port = OwnRedisServer::free_port();
    let server = OwnRedisServer::start(port);
    let url = server.url();
    let mut connection = None;
    for _ in 0..200 {
        if let Ok(conn) = RedisConnection::connect(&url, "restart:", 2).await {
            let bus = RedisEventBus::start(conn.clone());
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
