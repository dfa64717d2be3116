//! The gateway's table of live sockets on this node, and fan-out of events to them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use chat_core::domain::event::{Delivery, Event};
use chat_core::domain::ids::{SessionId, UserId};
use chat_core::ports::EventSink;
use parking_lot::RwLock;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Close codes the gateway uses (4xxx are application-defined).
pub mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The socket's outbound queue overflowed; the client should reconnect and `sync`.
    pub const SLOW_CONSUMER: u16 = 4008;
    pub const UNAUTHORIZED: u16 = 4401;
    /// A dependency is down (e.g. the session store): reconnect after a pause.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// Nothing (not even a heartbeat) arrived within the idle timeout.
    pub const IDLE: u16 = 4000;
}

/// One socket as the registry sees it.
struct Connection {
    id: u64,
    session_id: SessionId,
    outbound: mpsc::Sender<Utf8Bytes>,
    kill: Arc<Kill>,
}

/// Asks a socket's task to close with a given code.
pub struct Kill {
    pub token: CancellationToken,
    pub code: AtomicU16,
}

impl Kill {
    fn fire(&self, code: u16) {
        // The first reason wins.
        let _ = self.code.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
        self.token.cancel();
    }
}

/// What a socket task holds: its queue of events and its kill switch.
pub struct Registration {
    pub id: u64,
    pub events: mpsc::Receiver<Utf8Bytes>,
    pub kill: Arc<Kill>,
}

pub struct Gateway {
    connections: RwLock<HashMap<UserId, Vec<Connection>>>,
    next_id: AtomicU64,
    queue_capacity: usize,
    /// Cancelled at shutdown: every socket flushes its queue and closes with 1001.
    pub shutdown: CancellationToken,
    /// Tracks socket tasks so shutdown can wait for them.
    pub tasks: TaskTracker,
}

impl Gateway {
    pub fn new(queue_capacity: usize) -> Self {
        Gateway {
            connections: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(1),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    pub fn register(&self, user_id: UserId, session_id: SessionId) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (outbound, events) = mpsc::channel(self.queue_capacity);
        let kill = Arc::new(Kill { token: CancellationToken::new(), code: AtomicU16::new(0) });
        let connection = Connection { id, session_id, outbound, kill: kill.clone() };
        self.connections.write().entry(user_id).or_default().push(connection);
        metrics::gauge!("chat_ws_connections").increment(1.0);
        Registration { id, events, kill }
    }

    pub fn unregister(&self, user_id: UserId, id: u64) {
        let mut connections = self.connections.write();
        if let Some(list) = connections.get_mut(&user_id) {
            list.retain(|connection| connection.id != id);
            if list.is_empty() {
                connections.remove(&user_id);
            }
        }
        metrics::gauge!("chat_ws_connections").decrement(1.0);
    }

    /// How many sockets are open on this node.
    pub fn connection_count(&self) -> usize {
        self.connections.read().values().map(Vec::len).sum()
    }
}

/// Sent to every socket when events may have been lost: the client should `sync`.
const SYNC_REQUIRED: &str = r#"{"type":"sync.required"}"#;

impl Gateway {
    /// Queues a frame for a socket; a full queue marks a slow consumer and closes it.
    fn offer(connection: &Connection, frame: Utf8Bytes) {
        match connection.outbound.try_send(frame) {
            Ok(()) => metrics::counter!("chat_ws_events_delivered_total").increment(1),
            Err(mpsc::error::TrySendError::Full(_)) => {
                // A slow consumer must never hold up the others: drop it, it will resume
                // with `sync` and lose nothing.
                metrics::counter!("chat_ws_slow_consumers_closed_total").increment(1);
                connection.kill.fire(close_code::SLOW_CONSUMER);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

impl EventSink for Gateway {
    fn resync(&self) {
        let frame = Utf8Bytes::from_static(SYNC_REQUIRED);
        for connection in self.connections.read().values().flatten() {
            Gateway::offer(connection, frame.clone());
        }
    }

    fn deliver(&self, delivery: &Delivery) {
        if let Event::SessionsRevoked { session_ids } = &delivery.event {
            let connections = self.connections.read();
            let sockets = delivery.recipients.iter().filter_map(|user| connections.get(user)).flatten();
            for connection in sockets.filter(|c| session_ids.contains(&c.session_id)) {
                connection.kill.fire(close_code::UNAUTHORIZED);
            }
            return;
        }
        // Serialise once, share the bytes with every socket.
        let frame = match serde_json::to_string(&delivery.event) {
            Ok(json) => Utf8Bytes::from(json),
            Err(error) => {
                tracing::error!(%error, "event not serialisable");
                return;
            }
        };
        let connections = self.connections.read();
        let sockets = delivery.recipients.iter().filter_map(|user| connections.get(user)).flatten();
        for connection in sockets.filter(|c| Some(c.session_id) != delivery.except_session) {
            Gateway::offer(connection, frame.clone());
        }
    }
}
