//! The gateway's table of live sockets on this node, and fan-out of events to them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use chat_core::domain::event::{Delivery, Event};
use chat_core::domain::ids::{SessionId, UserId};
use chat_core::ports::EventSink;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
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
    outbox: Arc<Outbox>,
    kill: Arc<Kill>,
}

/// A socket's bounded queue of frames to send. A `VecDeque` that grows only when frames
/// wait, so an idle socket's queue holds no buffer: tokio's bounded channel, used before,
/// allocated a block of 32 slots (about 1.1 KiB) for every socket at once, a sixth of what
/// an idle socket cost.
pub struct Outbox {
    frames: Mutex<VecDeque<Utf8Bytes>>,
    ready: Notify,
    capacity: usize,
}

/// The queue already holds `capacity` frames.
struct Full;

impl Outbox {
    fn new(capacity: usize) -> Self {
        Outbox { frames: Mutex::new(VecDeque::new()), ready: Notify::new(), capacity }
    }

    fn offer(&self, frame: Utf8Bytes) -> Result<(), Full> {
        let mut frames = self.frames.lock();
        if frames.len() >= self.capacity {
            return Err(Full);
        }
        frames.push_back(frame);
        drop(frames);
        // Stores a permit when the task is not waiting yet, so no frame waits unseen.
        self.ready.notify_one();
        Ok(())
    }

    /// The next frame, waiting for one. Cancel-safe: a frame is taken only when returned.
    pub async fn next(&self) -> Utf8Bytes {
        loop {
            if let Some(frame) = self.try_next() {
                return frame;
            }
            self.ready.notified().await;
        }
    }

    /// The next frame if one is queued. A queue that a burst grew gives its buffer back
    /// once it is empty.
    pub fn try_next(&self) -> Option<Utf8Bytes> {
        let mut frames = self.frames.lock();
        let frame = frames.pop_front();
        if frames.is_empty() && frames.capacity() > 8 {
            frames.shrink_to_fit();
        }
        frame
    }
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
    pub events: Arc<Outbox>,
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
        let events = Arc::new(Outbox::new(self.queue_capacity));
        let kill = Arc::new(Kill { token: CancellationToken::new(), code: AtomicU16::new(0) });
        let connection = Connection { id, session_id, outbox: events.clone(), kill: kill.clone() };
        // Most users have one socket: a list of one, not the four slots a first push reserves.
        self.connections.write().entry(user_id).or_insert_with(|| Vec::with_capacity(1)).push(connection);
        metrics::gauge!("chat_ws_connections").increment(1.0);
        Registration { id, events, kill }
    }

    /// Removes a socket. `true` when it was the last on this node of its session (the device
    /// went away, as far as this node knows: a call waits for it to come back).
    pub fn unregister(&self, user_id: UserId, id: u64) -> bool {
        let mut connections = self.connections.write();
        let mut last_of_session = false;
        if let Some(list) = connections.get_mut(&user_id) {
            let session = list.iter().find(|connection| connection.id == id).map(|connection| connection.session_id);
            list.retain(|connection| connection.id != id);
            last_of_session = session.is_some_and(|session| list.iter().all(|c| c.session_id != session));
            if list.is_empty() {
                connections.remove(&user_id);
            }
        }
        metrics::gauge!("chat_ws_connections").decrement(1.0);
        last_of_session
    }

    /// Whether this node holds a socket of the user's session (a device of a call, say).
    pub fn has_session(&self, user_id: UserId, session_id: SessionId) -> bool {
        self.connections.read().get(&user_id).is_some_and(|list| list.iter().any(|c| c.session_id == session_id))
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
        match connection.outbox.offer(frame) {
            Ok(()) => metrics::counter!("chat_ws_events_delivered_total").increment(1),
            Err(Full) => {
                // A slow consumer must never hold up the others: drop it, it will resume
                // with `sync` and lose nothing.
                metrics::counter!("chat_ws_slow_consumers_closed_total").increment(1);
                connection.kill.fire(close_code::SLOW_CONSUMER);
            }
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
        let wanted = |c: &&Connection| {
            Some(c.session_id) != delivery.except_session
                && delivery.only_session.is_none_or(|only| only == c.session_id)
        };
        for connection in sockets.filter(wanted) {
            Gateway::offer(connection, frame.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_outbox_keeps_order_refuses_past_its_capacity_and_wakes_its_reader() {
        let outbox = Arc::new(Outbox::new(3));
        for n in 0..3 {
            assert!(outbox.offer(Utf8Bytes::from(format!("{n}"))).is_ok());
        }
        assert!(outbox.offer(Utf8Bytes::from_static("too many")).is_err(), "full at its capacity");
        assert_eq!(outbox.next().await.as_str(), "0");
        assert_eq!(outbox.try_next().map(|f| f.to_string()), Some("1".to_owned()));
        assert_eq!(outbox.next().await.as_str(), "2");
        assert!(outbox.try_next().is_none());

        // A reader waiting on an empty queue is woken by the next offer.
        let reader = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.next().await }
        });
        tokio::task::yield_now().await;
        assert!(outbox.offer(Utf8Bytes::from_static("later")).is_ok());
        assert_eq!(reader.await.unwrap().as_str(), "later");
    }

    #[test]
    fn an_outbox_gives_back_the_buffer_a_burst_grew() {
        let outbox = Outbox::new(256);
        for _ in 0..100 {
            assert!(outbox.offer(Utf8Bytes::from_static("frame")).is_ok());
        }
        while outbox.try_next().is_some() {}
        assert!(outbox.frames.lock().capacity() <= 8);
    }
}
