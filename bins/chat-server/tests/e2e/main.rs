//! End-to-end tests: a real server on an ephemeral port, real HTTP and WebSocket clients.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Declares each scenario `async fn name(store: Store)` as two tests, `name::memory` and
/// `name::postgres`, so every behaviour is checked against both stores.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$name(crate::support::Store::Memory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::support::Store::Postgres).await;
            }
        }
    )*};
}

mod accounts;
mod architecture;
mod calls;
mod calls_ice;
mod devices;
mod edge;
mod gateway;
mod groups;
mod media;
mod media_support;
mod messaging;
mod multinode;
mod openapi;
mod process;
mod profile_cache;
mod push;
mod search;
mod social;
mod social_properties;
mod support;
mod validation;
