//! Every contract suite of `chat_core::testkit` against the in-memory adapters, one test per
//! check: `memory_store::<check>`, `memory_users::<check>`, `memory_social::<check>`,
//! `memory_media::<check>`, `memory_devices::<check>`, `memory_claims::<check>`,
//! `memory_jobs::<check>`, `memory_calls::<check>`, `memory_presence::<check>`,
//! `memory_rate_limit::<check>` and `memory_event_bus::<check>`.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_core::testkit::{
    call_store_contract_tests, claim_store_contract_tests, device_repo_contract_tests, event_bus_contract_tests,
    job_queue_contract_tests, media_repo_contract_tests, message_search_contract_tests, node_registry_contract_tests,
    presence_contract_tests, rate_limit_contract_tests, social_contract_tests, store_contract_tests,
    user_repo_contract_tests,
};
use chat_memory::{
    MemoryCalls, MemoryClaims, MemoryEventBus, MemoryJobQueue, MemoryNodes, MemoryPresence, MemoryRateLimiter,
    MemoryStore,
};

store_contract_tests! {
    mod memory_store;
    #[tokio::test]
    let store = MemoryStore::new();
    check(&store);
}

message_search_contract_tests! {
    mod memory_search;
    #[tokio::test]
    let store = MemoryStore::new();
    check(&store);
}

user_repo_contract_tests! {
    mod memory_users;
    #[tokio::test]
    let store = MemoryStore::new();
    check(&store);
}

social_contract_tests! {
    mod memory_social;
    #[tokio::test]
    let store = MemoryStore::new();
    check(&store);
}

media_repo_contract_tests! {
    mod memory_media;
    #[tokio::test]
    let store = MemoryStore::new();
    check(&store);
}

device_repo_contract_tests! {
    mod memory_devices;
    #[tokio::test]
    let store = MemoryStore::new();
    check(&store);
}

claim_store_contract_tests! {
    mod memory_claims;
    #[tokio::test]
    let claims = MemoryClaims::new();
    check(&claims);
}

call_store_contract_tests! {
    mod memory_calls;
    #[tokio::test]
    let calls = MemoryCalls::new();
    check(&calls);
}

node_registry_contract_tests! {
    mod memory_nodes;
    #[tokio::test]
    let nodes = MemoryNodes::new();
    check(&nodes);
}

presence_contract_tests! {
    mod memory_presence;
    #[tokio::test]
    let presence = MemoryPresence::new();
    check(&presence);
}

rate_limit_contract_tests! {
    mod memory_rate_limit;
    #[tokio::test]
    let limiter = MemoryRateLimiter::new();
    check(&limiter);
}

// In one process the bus is one: both "nodes" are the same bus.
event_bus_contract_tests! {
    mod memory_event_bus;
    #[tokio::test]
    let bus = MemoryEventBus::new();
    check([&bus, &bus]);
}

job_queue_contract_tests! {
    mod memory_jobs;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let queue = MemoryJobQueue::new(chat_core::testkit::jobs::contract_policy());
    check(&queue);
}
