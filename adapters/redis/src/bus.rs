//! `EventBus` on Redis pub/sub: every node hands a delivery to its own sockets at once and
//! publishes it on one channel for the others, which hand what they receive to theirs. The
//! subscriber reconnects by itself; after any gap it asks every local client to `sync`,
//! since events may have been missed.
//!
//! A payload is the publishing node's id, a space, and the delivery's JSON, so that a node
//! skips its own deliveries without parsing them (a payload without the id, from a node of
//! an earlier version, is delivered).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::event::Delivery;
use chat_core::domain::ids::NodeId;
use chat_core::ports::{EventBus, EventSink};
use futures_util::StreamExt;
use parking_lot::RwLock;

use crate::RedisConnection;

pub struct RedisEventBus {
    redis: RedisConnection,
    /// This node's id on the channel.
    node: String,
    channel: String,
    sinks: Arc<RwLock<Vec<Arc<dyn EventSink>>>>,
    subscribed: Arc<AtomicBool>,
}

impl RedisEventBus {
    /// Starts the subscriber of `node` (this process) on the current tokio runtime; it runs
    /// for the life of the process.
    pub fn start(redis: RedisConnection, node: NodeId) -> Arc<RedisEventBus> {
        let bus = Arc::new(RedisEventBus {
            node: node.as_uuid().simple().to_string(),
            channel: redis.key("events"),
            redis,
            sinks: Arc::new(RwLock::new(Vec::new())),
            subscribed: Arc::new(AtomicBool::new(false)),
        });
        let (client, channel) = (bus.redis.client.clone(), bus.channel.clone());
        let (sinks, subscribed) = (bus.sinks.clone(), bus.subscribed.clone());
        let node = bus.node.clone();
        tokio::spawn(subscribe_forever(bus.redis.clone(), node, client, channel, sinks, subscribed));
        bus
    }

    pub(crate) fn redis(&self) -> &RedisConnection {
        &self.redis
    }

    /// Whether the subscriber is connected right now.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    fn deliver_locally(&self, delivery: &Delivery) {
        for sink in self.sinks.read().iter() {
            sink.deliver(delivery);
        }
    }
}

#[async_trait]
impl EventBus for RedisEventBus {
    async fn publish(&self, delivery: Delivery) -> Result<(), PortError> {
        // This node's sockets first, without the round trip through Redis; whatever befalls
        // the publish, they have it.
        self.deliver_locally(&delivery);
        let json = serde_json::to_string(&delivery).map_err(|e| PortError::Internal(format!("event: {e}")))?;
        let payload = format!("{} {json}", self.node);
        let mut conn = self.redis.conn().await?;
        // Other nodes' clients miss it if this fails: their subscribers, cut off from the
        // same Redis, ask their clients to sync when they reconnect.
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(())
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.sinks.write().push(sink);
    }
}

async fn subscribe_forever(
    redis: RedisConnection,
    node: String,
    client: redis::Client,
    channel: String,
    sinks: Arc<RwLock<Vec<Arc<dyn EventSink>>>>,
    subscribed: Arc<AtomicBool>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    if first {
                        tracing::info!(%channel, "subscribed to the event channel");
                    } else {
                        tracing::warn!(%channel, "resubscribed after a gap: asking every client here to sync");
                        redis.check_connections();
                        for sink in sinks.read().iter() {
                            sink.resync();
                        }
                    }
                    subscribed.store(true, Ordering::Relaxed);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        match read_payload(message.get_payload_bytes(), &node) {
                            Ok(Some(delivery)) => {
                                for sink in sinks.read().iter() {
                                    sink.deliver(&delivery);
                                }
                            }
                            Ok(None) => {}
                            Err(error) => tracing::error!(%error, "unreadable event on the channel"),
                        }
                    }
                    subscribed.store(false, Ordering::Relaxed);
                    tracing::warn!(%channel, "lost the event subscription; reconnecting");
                }
                Err(error) => tracing::warn!(%error, "subscribing to the event channel failed"),
            },
            Err(error) => tracing::warn!(%error, "connecting the event subscriber failed"),
        }
        // Any failure is a gap, even before the first subscription: sockets may already be
        // open (and their events published elsewhere) when this node first gets through.
        first = false;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The delivery in a payload, or `None` when this node published it (its sockets have it).
fn read_payload(payload: &[u8], node: &str) -> Result<Option<Delivery>, serde_json::Error> {
    let json = match payload.iter().position(|&byte| byte == b' ') {
        Some(space) if payload.first() != Some(&b'{') => {
            if &payload[..space] == node.as_bytes() {
                return Ok(None);
            }
            &payload[space + 1..]
        }
        _ => payload,
    };
    serde_json::from_slice(json).map(Some)
}
