//! The Redis profile cache in front of a real store: the `UserRepo` contract of
//! `chat_core::testkit` through the cache, in front of either store (`cached_memory_users::<check>`,
//! `cached_postgres_users::<check>`; here because an adapter may not depend on another, and
//! the cache needs a store behind it), then read-through and invalidation on every node.

use std::sync::Arc;

use chat_core::ports::UserRepo;
use chat_core::testkit;
use chat_core::testkit::user_repo_contract_tests;
use chat_postgres::testing::TestDatabase;
use chat_redis::CachedUsers;
use chat_redis::testing::TestRedis;

/// The cache, on a Redis key prefix of its own, in front of a new in-memory store.
async fn cached_memory_store() -> (TestRedis, CachedUsers) {
    let redis = TestRedis::create().await;
    let cached = CachedUsers::new(Arc::new(chat_memory::MemoryStore::new()), redis.connection().await, 600);
    (redis, cached)
}

/// The cache in front of a Postgres store on a new database.
async fn cached_postgres_store() -> (TestRedis, TestDatabase, CachedUsers) {
    let (redis, database) = (TestRedis::create().await, TestDatabase::create().await);
    let cached = CachedUsers::new(Arc::new(database.store(8).await), redis.connection().await, 600);
    (redis, database, cached)
}

user_repo_contract_tests! {
    mod cached_memory_users;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, cached) = cached_memory_store().await;
    check(&cached);
}

user_repo_contract_tests! {
    mod cached_postgres_users;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_redis, _database, cached) = cached_postgres_store().await;
    check(&cached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_cache_reads_through_and_is_invalidated_on_change() {
    let redis = TestRedis::create().await;
    let store = Arc::new(chat_memory::MemoryStore::new());
    let cached = CachedUsers::new(store.clone(), redis.connection().await, 600);
    let id = testkit::contract::user(store.as_ref(), "an").await;
    let first = cached.user(id).await.unwrap().unwrap();

    // Behind the cache's back, the store changes: the cache still answers the old profile...
    let mut renamed = first.clone();
    renamed.bio = "đã đổi".into();
    store.update_user(&renamed).await.unwrap().unwrap();
    assert_eq!(cached.user(id).await.unwrap().unwrap().bio, first.bio, "served from the cache");
    // ...and a change through the cache invalidates it, on every node.
    renamed.bio = "đổi qua cache".into();
    cached.update_user(&renamed).await.unwrap().unwrap();
    let other_node = CachedUsers::new(store.clone(), redis.connection().await, 600);
    assert_eq!(other_node.user(id).await.unwrap().unwrap().bio, "đổi qua cache");
}
