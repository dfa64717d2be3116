//! The event-bus contract, on two nodes of one bus: a delivery published on either node
//! reaches every subscribed sink on every node exactly once and unchanged, one node's
//! deliveries arrive in the order it published them, and a sink subscribed later gets what is
//! published from then on. An in-process bus is its own second node.
//!
//! A bus may need a moment after it starts before deliveries cross nodes (Redis subscribes in
//! the background; a client that misses events in that gap is told to sync). So each check
//! first sends greetings across until each node has heard the other, waiting on deliveries,
//! never sleeping. The testkit has no runtime, so a wait's deadline is kept by a thread of its
//! own; waits poll nothing and work on any executor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::task::Poll;
use std::time::Duration as StdDuration;

use futures_util::task::AtomicWaker;

use crate::domain::event::{Delivery, Event, ReceiptKind, TypingState};
use crate::domain::ids::{ConversationId, FriendRequestId, SessionId, UserId};
use crate::domain::social::{FriendRequest, RequestStatus};
use crate::ports::{EventBus, EventSink};

use super::contract::{new_id, now};

/// How long a check waits for all it expects: far longer than a healthy bus ever takes.
const PATIENCE: StdDuration = StdDuration::from_secs(20);

/// How long a greeting may take to cross before the next is sent.
const GREETING_INTERVAL: StdDuration = StdDuration::from_millis(50);

/// A delivery published on either node reaches every sink on both nodes exactly once, equal
/// to what was published (recipients, the session left out, the event with its times and
/// text).
pub async fn a_delivery_reaches_every_sink_on_every_node_once_unchanged(nodes: [&dyn EventBus; 2]) {
    connected(nodes).await;
    let deadline = Deadline::after(PATIENCE);
    let sinks = [Probe::on(nodes[0]), Probe::on(nodes[0]), Probe::on(nodes[1])];
    // Each next one goes out when every sink has the one before, so that a copy coming back
    // the long way (through another node) would arrive before it and be seen.
    let deliveries = [(0, cancelled_request()), (1, presence()), (0, revoked_sessions()), (1, receipt())];
    for (step, (node, delivery)) in deliveries.into_iter().enumerate() {
        nodes[node].publish(delivery.clone()).await.unwrap();
        for (sink, probe) in sinks.iter().enumerate() {
            let got = probe.next(&deadline, &format!("delivery {step} at sink {sink}")).await;
            assert_eq!(got, delivery, "delivery {step} at sink {sink}: once, unchanged, in turn");
        }
    }
}

/// Deliveries published one after another on one node arrive at every sink, on that node and
/// the other, in the order they were published.
pub async fn one_nodes_deliveries_arrive_in_the_order_they_were_published(nodes: [&dyn EventBus; 2]) {
    connected(nodes).await;
    let deadline = Deadline::after(PATIENCE);
    let sinks = [Probe::on(nodes[0]), Probe::on(nodes[1])];
    let conversation = ConversationId(new_id());
    let published: Vec<Delivery> = (0..30).map(|n| typing(conversation, n)).collect();
    for delivery in &published {
        nodes[0].publish(delivery.clone()).await.unwrap();
    }
    for (sink, probe) in sinks.iter().enumerate() {
        for (n, delivery) in published.iter().enumerate() {
            let got = probe.next(&deadline, &format!("delivery {n} at sink {sink}")).await;
            assert_eq!(&got, delivery, "sink {sink}, position {n}");
        }
    }
}

/// Subscribing adds a sink beside the others: it gets what is published after it joined,
/// and the sinks already there keep getting everything.
pub async fn a_sink_subscribed_later_gets_what_is_published_after(nodes: [&dyn EventBus; 2]) {
    connected(nodes).await;
    let deadline = Deadline::after(PATIENCE);
    let early = Probe::on(nodes[1]);
    let before = receipt();
    nodes[0].publish(before.clone()).await.unwrap();
    assert_eq!(early.next(&deadline, "the first delivery").await, before);
    let late = Probe::on(nodes[1]);
    let after = presence();
    nodes[0].publish(after.clone()).await.unwrap();
    assert_eq!(late.next(&deadline, "the delivery after joining").await, after, "nothing from before it joined");
    assert_eq!(early.next(&deadline, "the second delivery").await, after);
}

/// Waits until a delivery published on each node reaches the other.
async fn connected(nodes: [&dyn EventBus; 2]) {
    let deadline = Deadline::after(PATIENCE);
    for (from, to) in [(0, 1), (1, 0)] {
        let probe = Probe::on(nodes[to]);
        let conversation = ConversationId(new_id());
        let mut sent = 0;
        // Greet until one greeting arrives: the receiving node is subscribed from then on.
        let mut heard = loop {
            sent += 1;
            nodes[from].publish(typing(conversation, sent)).await.unwrap();
            if let Some(greeting) = probe.try_next(&Deadline::after(GREETING_INTERVAL), &deadline).await {
                break greeting;
            }
            assert!(!deadline.expired(), "node {to} never heard node {from}");
        };
        // Greetings sent before that one were lost or have arrived; the later ones are on
        // their way. Take them all, so that none reaches a check's sinks.
        let last = typing(conversation, sent);
        while heard != last {
            heard = probe.next(&deadline, &format!("greeting {sent} from node {from} at node {to}")).await;
        }
        probe.close();
    }
}

/// A sink that queues what it gets for the check to take in turn.
struct Probe {
    queue: Mutex<VecDeque<Delivery>>,
    arrived: AtomicWaker,
    closed: AtomicBool,
}

impl Probe {
    fn on(bus: &dyn EventBus) -> Arc<Probe> {
        let probe = Arc::new(Probe {
            queue: Mutex::new(VecDeque::new()),
            arrived: AtomicWaker::new(),
            closed: AtomicBool::new(false),
        });
        bus.subscribe(probe.clone());
        probe
    }

    /// Stops queueing (a bus cannot unsubscribe a sink).
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The next delivery; fails the check, saying what it waited for, past the deadline.
    async fn next(&self, deadline: &Deadline, what: &str) -> Delivery {
        match self.try_next(deadline, deadline).await {
            Some(delivery) => delivery,
            None => panic!("no delivery within {PATIENCE:?}: {what}"),
        }
    }

    /// The next delivery, or `None` when either deadline passes first.
    async fn try_next(&self, soon: &Deadline, latest: &Deadline) -> Option<Delivery> {
        std::future::poll_fn(|cx| {
            // Register first, then look: a delivery or expiry in between still wakes us.
            self.arrived.register(cx.waker());
            soon.state.woken.register(cx.waker());
            latest.state.woken.register(cx.waker());
            if let Some(delivery) = self.queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front() {
                return Poll::Ready(Some(delivery));
            }
            if soon.expired() || latest.expired() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }
}

impl EventSink for Probe {
    fn deliver(&self, delivery: &Delivery) {
        if !self.closed.load(Ordering::SeqCst) {
            self.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(delivery.clone());
            self.arrived.wake();
        }
    }
}

/// A point in time that wakes its waiter when it passes, kept by a timer thread that ends
/// early when the deadline is dropped.
struct Deadline {
    state: Arc<DeadlineState>,
    _cancel: mpsc::Sender<()>,
}

struct DeadlineState {
    expired: AtomicBool,
    woken: AtomicWaker,
}

impl Deadline {
    fn after(duration: StdDuration) -> Deadline {
        let state = Arc::new(DeadlineState { expired: AtomicBool::new(false), woken: AtomicWaker::new() });
        let (cancel, cancelled) = mpsc::channel::<()>();
        let timer = state.clone();
        std::thread::spawn(move || {
            // Returns at once when the deadline is dropped (the sender goes away).
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(duration) {
                timer.expired.store(true, Ordering::SeqCst);
                timer.woken.wake();
            }
        });
        Deadline { state, _cancel: cancel }
    }

    fn expired(&self) -> bool {
        self.state.expired.load(Ordering::SeqCst)
    }
}

fn typing(conversation_id: ConversationId, n: u128) -> Delivery {
    let event =
        Event::Typing { conversation_id, user_id: UserId(uuid::Uuid::from_u128(n)), state: TypingState::Started };
    // Built again from the same two values, it is equal: a check can name the one it awaits.
    Delivery { recipients: vec![UserId(conversation_id.0)], except_session: None, only_session: None, event }
}

fn receipt() -> Delivery {
    let event = Event::Receipt {
        conversation_id: ConversationId(new_id()),
        user_id: UserId(new_id()),
        kind: ReceiptKind::Read,
        seq: 42,
    };
    Delivery {
        recipients: vec![UserId(new_id()), UserId(new_id())],
        except_session: Some(SessionId(new_id())),
        only_session: None,
        event,
    }
}

fn presence() -> Delivery {
    let event = Event::Presence { user_id: UserId(new_id()), online: false, last_seen: Some(now()) };
    Delivery { recipients: (0..5).map(|_| UserId(new_id())).collect(), except_session: None, only_session: None, event }
}

fn revoked_sessions() -> Delivery {
    let event = Event::SessionsRevoked { session_ids: vec![SessionId(new_id()), SessionId(new_id())] };
    Delivery { recipients: vec![UserId(new_id())], except_session: None, only_session: None, event }
}

fn cancelled_request() -> Delivery {
    let request = FriendRequest {
        id: FriendRequestId(new_id()),
        from_user: UserId(new_id()),
        to_user: UserId(new_id()),
        message: "Chào bạn, mình là Thắng 👋 \"ở\" Hà Nội".into(),
        status: RequestStatus::Cancelled,
        created_at: now(),
        answered_at: Some(now()),
    };
    let recipients = vec![request.from_user, request.to_user];
    Delivery {
        recipients,
        except_session: Some(SessionId(new_id())),
        only_session: None,
        event: Event::FriendRequestCancelled { request },
    }
}
