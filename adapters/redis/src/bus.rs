//! `EventBus` on Redis pub/sub: every node publishes deliveries to one channel and hands
//! what it receives to its local sockets. The subscriber reconnects by itself; after any
//! gap it asks every local client to `sync`, since events may have been missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::domain::error::RepoError;
use chat_core::domain::event::Delivery;
use chat_core::ports::{EventBus, EventSink};
use futures_util::StreamExt;
use parking_lot::RwLock;

use crate::RedisConnection;

pub struct RedisEventBus {
    redis: RedisConnection,
    channel: String,
    sinks: Arc<RwLock<Vec<Arc<dyn EventSink>>>>,
    subscribed: Arc<AtomicBool>,
}

impl RedisEventBus {
    /// Starts the subscriber on the current tokio runtime; it runs for the life of the process.
    pub fn start(redis: RedisConnection) -> Arc<RedisEventBus> {
        let bus = Arc::new(RedisEventBus {
            channel: redis.key("events"),
            redis,
            sinks: Arc::new(RwLock::new(Vec::new())),
            subscribed: Arc::new(AtomicBool::new(false)),
        });
        let (client, channel) = (bus.redis.client.clone(), bus.channel.clone());
        let (sinks, subscribed) = (bus.sinks.clone(), bus.subscribed.clone());
        tokio::spawn(subscribe_forever(bus.redis.clone(), client, channel, sinks, subscribed));
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
    async fn publish(&self, delivery: Delivery) -> Result<(), RepoError> {
        let payload = serde_json::to_string(&delivery).map_err(|e| RepoError::Internal(format!("event: {e}")))?;
        let mut conn = match self.redis.conn().await {
            Ok(conn) => conn,
            Err(error) => {
                // Redis is down: this node's own sockets still get the event; other nodes'
                // clients are told to sync when their subscribers reconnect.
                self.deliver_locally(&delivery);
                return Err(error);
            }
        };
        let published = redis::cmd("PUBLISH").arg(&self.channel).arg(payload).query_async::<i64>(&mut conn).await;
        match published {
            Ok(_) => Ok(()),
            Err(error) => {
                // A lost connection: Redis is most likely gone, so deliver here as above. A
                // timeout is a busy node or a busy Redis, which has most likely published it
                // (its subscriber will deliver it here), and delivering it now too would
                // deliver it twice.
                if !error.is_timeout() {
                    self.deliver_locally(&delivery);
                }
                Err(self.redis.failed(error))
            }
        }
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.sinks.write().push(sink);
    }
}

async fn subscribe_forever(
    redis: RedisConnection,
    client: redis::Client,
    channel: String,
    sinks: Arc<RwLock<Vec<Arc<dyn EventSink>>>>,
    subscribed: Arc<AtomicBool>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                match pubsub.subscribe(&channel).await {
                    Ok(()) => {
                        backoff = Duration::from_millis(100);
                        if first {
                            tracing::info!(%channel, "subscribed to the event channel");
                        } else {
                            tracing::warn!(%channel, "resubscribed after a gap: asking every client here to sync");
                            redis.forget_checked();
                            for sink in sinks.read().iter() {
                                sink.resync();
                            }
                        }
                        subscribed.store(true, Ordering::Relaxed);
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            match message.get_payload::<String>().map_err(|e| e.to_string()).and_then(|payload| {
                                serde_json::from_str::<Delivery>(&payload).map_err(|e| e.to_string())
                            }) {
                                Ok(delivery) => {
                                    for sink in sinks.read().iter() {
                                        sink.deliver(&delivery);
                                    }
                                }
                                Err(error) => tracing::error!(%error, "unreadable event on the channel"),
                            }
                        }
                        subscribed.store(false, Ordering::Relaxed);
                        tracing::warn!(%channel, "lost the event subscription; reconnecting");
                    }
                    Err(error) => tracing::warn!(%error, "subscribing to the event channel failed"),
                }
            }
            Err(error) => tracing::warn!(%error, "connecting the event subscriber failed"),
        }
        // Any failure is a gap, even before the first subscription: sockets may already be
        // open (and their events published elsewhere) when this node first gets through.
        first = false;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
