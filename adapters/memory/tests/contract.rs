//! The store contract of `chat_core::testkit`, run against the in-memory store.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_core::testkit::contract;
use chat_memory::MemoryStore;

#[tokio::test]
async fn memory_store_passes_the_store_contract() {
    contract::run_all(&MemoryStore::new()).await;
}

#[tokio::test]
async fn memory_presence_passes_the_presence_contract() {
    chat_core::testkit::presence::run_all(&chat_memory::MemoryPresence::new()).await;
}

#[tokio::test]
async fn memory_rate_limiter_passes_the_rate_limit_contract() {
    chat_core::testkit::rate_limit::run_all(&chat_memory::MemoryRateLimiter::new()).await;
}

#[tokio::test]
async fn memory_store_passes_the_social_contract() {
    chat_core::testkit::social::run_all(&MemoryStore::new()).await;
}
