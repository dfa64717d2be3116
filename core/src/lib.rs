//! `chat-core`: the rules of the chat product, its use cases and the ports they need.
//!
//! This crate does no IO. Storage, delivery, time, ids, hashing and tokens all come in through
//! the traits in [`ports`]; adapters implement them and binaries wire them together. Other
//! services embed the product the same way: build an [`app::Deps`] from the adapters they
//! choose and call the use-case functions in [`app`].
//!
//! # Embedding the core
//!
//! The walkthrough below follows a runnable example, the `chat-embedding-example` crate
//! (`examples/embedding/src/lib.rs` in the repository). `cargo run -p
//! chat-embedding-example` runs it, and `cargo test -p chat-embedding-example` checks what it
//! does, so it stays true. It is a workspace crate of its own, depending on `chat-core`,
//! `chat-memory`, `chat-system` and `tokio`, exactly as a service embedding the core would.
//!
//! ## 1. Build the `Deps`
//!
//! [`app::Deps`] is a plain struct with one `Arc<dyn Port>` per port, the readiness checks,
//! and the operator's [`app::Limits`]. It is cheap to clone, and every use case takes it by
//! reference. The ports, and the adapters this workspace has for them:
//!
//! | field | port | in memory (`chat-memory`) | production |
//! |---|---|---|---|
//! | `users` | [`ports::UserRepo`] | `MemoryStore` | `chat-postgres` `PgStore` (+ `chat-redis` `CachedUsers`) |
//! | `sessions` | [`ports::SessionRepo`] | `MemoryStore` | `PgStore` |
//! | `conversations` | [`ports::ConversationRepo`] | `MemoryStore` | `PgStore` |
//! | `messages` | [`ports::MessageRepo`] | `MemoryStore` | `PgStore` |
//! | `social` | [`ports::SocialRepo`] | `MemoryStore` | `PgStore` |
//! | `rate_limits` | [`ports::RateLimitStore`] | `MemoryRateLimiter` | `chat-redis` `RedisRateLimiter` |
//! | `events` | [`ports::EventBus`] | `MemoryEventBus` | `chat-redis` `RedisEventBus` |
//! | `presence` | [`ports::PresenceStore`] | `MemoryPresence` | `chat-redis` `RedisPresence` |
//! | `presence_audience` | [`ports::PresenceAudience`] | [`app::presence::SocialPresence`] (core's own rule over the stores) | same |
//! | `passwords` | [`ports::PasswordHasher`] | — | `chat-system` `Argon2Passwords` |
//! | `tokens` | [`ports::TokenIssuer`] | — | `chat-system` `JwtTokens` |
//! | `clock` | [`ports::Clock`] | `testkit::ManualClock` in tests | `chat-system` `SystemClock` |
//! | `ids` | [`ports::IdGen`] | — | `chat-system` `UuidV7Ids` |
//! | `health` | [`ports::HealthCheck`] (each adapter) | | |
//!
//! One `MemoryStore` (or `PgStore`) implements all five storage ports, so the same `Arc` goes
//! into each field. The example's `embedded_deps` fills every field this way.
//!
//! ## 2. Plug in an adapter of your own
//!
//! Any field can hold your own implementation of its trait. The example's own adapter is an
//! event bus that records every delivery (a real service might forward them to its broker):
//!
//! ```
//! use std::sync::{Arc, Mutex, PoisonError};
//!
//! use async_trait::async_trait;
//! use chat_core::domain::error::PortError;
//! use chat_core::domain::event::Delivery;
//! use chat_core::ports::{EventBus, EventSink};
//!
//! #[derive(Default)]
//! struct RecordingEvents {
//!     published: Mutex<Vec<Delivery>>,
//!     sinks: Mutex<Vec<Arc<dyn EventSink>>>,
//! }
//!
//! #[async_trait]
//! impl EventBus for RecordingEvents {
//!     async fn publish(&self, delivery: Delivery) -> Result<(), PortError> {
//!         let sinks = self.sinks.lock().unwrap_or_else(PoisonError::into_inner).clone();
//!         for sink in sinks {
//!             sink.deliver(&delivery);
//!         }
//!         self.published.lock().unwrap_or_else(PoisonError::into_inner).push(delivery);
//!         Ok(())
//!     }
//!
//!     fn subscribe(&self, sink: Arc<dyn EventSink>) {
//!         self.sinks.lock().unwrap_or_else(PoisonError::into_inner).push(sink);
//!     }
//! }
//!
//! // `Deps { events: Arc::new(RecordingEvents::default()), .. }` then routes every event here.
//! let events: Arc<dyn EventBus> = Arc::new(RecordingEvents::default());
//! # let _ = events;
//! ```
//!
//! A port speaks domain types only and reports failures as
//! [`PortError`](domain::error::PortError): `Unavailable` when a retry may succeed, `Internal`
//! otherwise. What an adapter must guarantee is written on each trait and checked by the
//! contract suites in `testkit` (feature `testkit`), which every adapter of this workspace
//! runs; run them against yours too.
//!
//! ## 3. Call the use cases
//!
//! The use cases are async functions in the modules of [`app`], each taking `&Deps` and, when a
//! user acts, an [`app::Actor`] (the user and their session). The example calls, in order:
//!
//! - [`app::auth::register`] (or [`app::auth::login`]): an account and a session, with tokens;
//! - [`app::auth::authenticate`]: turns an access token into the [`app::Actor`];
//! - [`app::conversations::open_direct`]: the direct conversation of two users;
//! - [`app::messages::send`]: stores a message and publishes `message.new` to the members;
//! - [`app::sync::sync`] and [`app::messages::history`]: what the recipient reads.
//!
//! They run on any async runtime; the core spawns nothing. Events are published after the
//! write is stored and are best-effort: a client that missed one catches up with `sync`.
//!
//! ## 4. Errors and their stable codes
//!
//! Each area of use cases has its own error enum in [`app::errors`] (`AuthError`,
//! `ConversationError`, `MessageError`, `ProfileError`, `SocialError`). All implement
//! [`DomainError`](domain::error::DomainError): [`code`](domain::error::DomainError::code) is a
//! stable snake_case string (`username_taken`, `cannot_chat_with_self`, `rate_limited`, …)
//! that callers may branch on, the same one HTTP clients receive, and
//! [`kind`](domain::error::DomainError::kind) says what sort of failure it is (the HTTP
//! adapter maps it to a status). A failed port becomes `Unavailable` (retry later) or
//! `Internal`, whose detail (the error's `source()`, in the port's words) is for your log;
//! show callers only the code. The example matches `ConversationError::CannotChatWithSelf` and
//! reads its code.

#![warn(missing_docs)]

pub mod app;
pub mod domain;
pub mod ports;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
