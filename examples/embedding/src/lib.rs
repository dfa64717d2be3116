//! A small service that embeds `chat-core`: it builds [`Deps`] from the in-memory adapters,
//! plugs in one adapter of its own ([`RecordingEvents`], an [`EventBus`] that keeps every
//! delivery), and drives the use cases the way an HTTP handler or a job would.
//!
//! `main.rs` runs [`run`] and prints what happened; `tests/runs.rs` runs the same function and
//! checks it, so the example cannot silently rot.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chat_core::app::auth::{self, Register};
use chat_core::app::errors::{AuthError, ConversationError};
use chat_core::app::messages::{self, SendMessage};
use chat_core::app::presence::SocialPresence;
use chat_core::app::{Actor, Deps, Limits, conversations, sync};
use chat_core::domain::error::{DomainError, PortError};
use chat_core::domain::event::Delivery;
use chat_core::domain::ids::{ClientMsgId, UserId};
use chat_core::domain::job::JobPolicy;
use chat_core::domain::message::Message;
use chat_core::ports::{EventBus, EventSink};
use chat_disk::{DiskBlobConfig, DiskBlobStore};
use chat_memory::{MemoryClaims, MemoryJobQueue, MemoryPresence, MemoryRateLimiter, MemoryStore};
use chat_system::{Argon2Passwords, JwtTokens, SystemClock, UuidV7Ids};
use parking_lot::Mutex;

/// The embedding service's own adapter: an event bus that records every delivery (a real
/// service might forward them to its own message broker instead) and hands each to the
/// sinks subscribed on this process, as the in-memory bus does.
#[derive(Default)]
pub struct RecordingEvents {
    published: Mutex<Vec<Delivery>>,
    sinks: Mutex<Vec<Arc<dyn EventSink>>>,
}

impl RecordingEvents {
    /// Every delivery published so far, oldest first.
    pub fn published(&self) -> Vec<Delivery> {
        self.published.lock().clone()
    }
}

#[async_trait]
impl EventBus for RecordingEvents {
    async fn publish(&self, delivery: Delivery) -> Result<(), PortError> {
        // Sinks are copied out so none runs under the lock (a sink may publish in turn).
        let sinks = self.sinks.lock().clone();
        for sink in sinks {
            sink.deliver(&delivery);
        }
        self.published.lock().push(delivery);
        Ok(())
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.sinks.lock().push(sink);
    }
}

/// Every port backed by an in-memory or system adapter, except the event bus, which is ours.
///
/// One [`MemoryStore`] implements all the storage ports (users, sessions, conversations,
/// messages, social, media records), so it is shared behind each of them. Media bytes go to
/// `blob_dir` (chat-disk); a service that accepts uploads also mounts `chat_disk::router`.
pub fn embedded_deps(
    events: Arc<RecordingEvents>,
    jwt_secret: &[u8],
    blob_dir: &std::path::Path,
) -> Result<Deps, PortError> {
    let store = Arc::new(MemoryStore::new());
    let rate_limits = Arc::new(MemoryRateLimiter::new());
    let presence = Arc::new(MemoryPresence::new());
    let claims = Arc::new(MemoryClaims::new());
    let blob_config = DiskBlobConfig {
        root: blob_dir.to_owned(),
        public_base_url: "http://127.0.0.1:8080".to_owned(),
        signing_key: jwt_secret.to_vec(),
    };
    let blobs = DiskBlobStore::open(blob_config, claims.clone())
        .map_err(|error| PortError::Unavailable(format!("blob directory: {error}")))?;
    Ok(Deps {
        users: store.clone(),
        sessions: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        social: store.clone(),
        media: store.clone(),
        devices: store.clone(),
        blobs: Arc::new(blobs),
        claims,
        // Completed uploads queue here; a service that processes media runs the worker loop
        // (chat-server's `run_media_worker`, which renews each job's claim every
        // `lease_renewal_interval` of this policy) on it.
        jobs: Arc::new(MemoryJobQueue::new(JobPolicy::production())),
        push_jobs: None,
        calls: Arc::new(chat_memory::MemoryCalls::new()),
        // One process, one node: nothing else beats, so nothing is ever taken for dead.
        node: chat_core::domain::ids::NodeId(chat_core::ports::IdGen::new_id(&UuidV7Ids)),
        nodes: Arc::new(chat_memory::MemoryNodes::new()),
        rate_limits: rate_limits.clone(),
        events,
        presence: presence.clone(),
        // The core's own rule for who sees whose presence, over the same store.
        presence_audience: Arc::new(SocialPresence {
            users: store.clone(),
            social: store.clone(),
            conversations: store.clone(),
        }),
        // Two concurrent hashes are plenty for an example; a server sizes this to its cores.
        passwords: Arc::new(Argon2Passwords::new(2)?),
        tokens: Arc::new(JwtTokens::new(jwt_secret)),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        health: vec![store, rate_limits, presence],
        limits: Limits::default(),
    })
}

/// What the example did, for `main` to print and the test to check.
#[derive(Debug)]
pub struct Outcome {
    /// Minh, who received the message.
    pub recipient: UserId,
    /// The message Lan sent to Minh.
    pub sent: Message,
    /// The messages Minh's first sync returned (a fresh client knows no conversation yet).
    pub synced_by_recipient: Vec<Message>,
    /// The newest page of the conversation's history, as Minh reads it.
    pub history_of_recipient: Vec<Message>,
    /// The stable code of the error a direct conversation with oneself gets.
    pub self_chat_error_code: &'static str,
    /// Every delivery the core published on our bus.
    pub published: Vec<Delivery>,
}

/// Registers Lan and Minh, has Lan open a direct conversation with Minh and send a message,
/// then has Minh sync and read the history.
pub async fn run() -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    let events = Arc::new(RecordingEvents::default());
    let blob_dir = std::env::temp_dir().join(format!("chat-embedding-example-{}", uuid::Uuid::now_v7()));
    let deps = embedded_deps(events.clone(), b"an example secret of at least 32 bytes", &blob_dir)?;
    let outcome = converse(&deps, &events).await;
    // The example keeps no media: its blob directory goes with it.
    std::fs::remove_dir_all(&blob_dir).ok();
    outcome
}

/// What `run` does with the wired ports.
async fn converse(deps: &Deps, events: &RecordingEvents) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    let deps = deps.clone();

    let lan = register(&deps, "lan_example", "Lan").await?;
    let minh = register(&deps, "minh_example", "Minh").await?;

    let (direct, _created) = conversations::open_direct(&deps, lan, minh.user_id).await?;
    let conversation_id = direct.conversation.id;
    // The client's idempotency key: a retry with the same id stores nothing twice.
    let command = SendMessage::text(ClientMsgId(uuid::Uuid::now_v7()), "Chào Minh!");
    let sent = messages::send(&deps, lan, conversation_id, command).await?.message;

    // Minh's client has never synced: it sends empty cursors and gets everything.
    let synced = sync::sync(&deps, minh, &HashMap::new(), &HashMap::new()).await?;
    let history = messages::history(&deps, minh, conversation_id, None, None, None).await?;

    // Expected refusals are typed errors with a stable code, the same one HTTP clients see.
    let self_chat_error_code = match conversations::open_direct(&deps, lan, lan.user_id).await {
        Err(error @ ConversationError::CannotChatWithSelf) => error.code(),
        other => return Err(format!("a direct conversation with oneself was not refused: {other:?}").into()),
    };

    Ok(Outcome {
        recipient: minh.user_id,
        sent,
        synced_by_recipient: synced.messages,
        history_of_recipient: history,
        self_chat_error_code,
        published: events.published(),
    })
}

/// Registers a user and authenticates with the fresh access token, as a client would.
async fn register(deps: &Deps, username: &str, display_name: &str) -> Result<Actor, AuthError> {
    let command = Register {
        username: username.to_owned(),
        password: "a long enough password".to_owned(),
        display_name: display_name.to_owned(),
        phone: None,
        device_name: Some("example".to_owned()),
        client_ip: None,
    };
    let registered = auth::register(deps, command).await?;
    auth::authenticate(deps, &registered.tokens.access_token).await
}
