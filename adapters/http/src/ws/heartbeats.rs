//! Heartbeats, gathered: a socket's heartbeat is answered at once, but its presence is
//! renewed with everyone else's of the last moment in one store call. One call per
//! heartbeat cost a Redis round trip each (about 650 a second for 19,500 sockets) and most
//! of an idle node's CPU. The delay (at most `every`) is far inside the presence TTL.

use std::sync::Arc;
use std::time::Duration;

use chat_core::app::{Deps, presence};
use chat_core::domain::ids::{ConnectionId, UserId};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

pub struct Heartbeats {
    pending: Mutex<Vec<(UserId, ConnectionId)>>,
    /// Whether a flusher runs; without a Tokio runtime at start there is none, and each
    /// heartbeat renews presence by itself.
    batched: bool,
}

impl Heartbeats {
    /// Starts the flusher on the current Tokio runtime, if there is one; it stops (after a
    /// last flush) when `stop` is cancelled.
    pub fn start(deps: Arc<Deps>, every: Duration, stop: CancellationToken) -> Arc<Heartbeats> {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let heartbeats = Arc::new(Heartbeats { pending: Mutex::new(Vec::new()), batched: runtime.is_some() });
        if let Some(runtime) = runtime {
            let batch = heartbeats.clone();
            runtime.spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    let stopping = tokio::select! {
                        () = stop.cancelled() => true,
                        _ = ticks.tick() => false,
                    };
                    batch.flush(&deps).await;
                    if stopping {
                        return;
                    }
                }
            });
        }
        heartbeats
    }

    /// Renews the presence of `user`'s `connection`: soon, with the others, or now when there
    /// is no flusher.
    pub async fn beat(&self, deps: &Deps, user: UserId, connection: ConnectionId) {
        if self.batched {
            self.pending.lock().push((user, connection));
        } else if let Err(error) = presence::heartbeat(deps, user, connection).await {
            tracing::warn!(%error, "presence heartbeat not recorded");
        }
    }

    async fn flush(&self, deps: &Deps) {
        let sockets = std::mem::take(&mut *self.pending.lock());
        if sockets.is_empty() {
            return;
        }
        metrics::histogram!("chat_presence_heartbeat_batch").record(sockets.len() as f64);
        if let Err(error) = presence::heartbeats(deps, &sockets).await {
            // The connections expire unless a later heartbeat gets through; clients beat again
            // well within the TTL.
            tracing::warn!(%error, sockets = sockets.len(), "presence heartbeats not recorded");
        }
    }
}
