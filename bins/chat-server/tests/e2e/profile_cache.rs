//! The Redis profile cache in front of a real store: read-through, and invalidated on change
//! on every node.

use std::sync::Arc;

use chat_core::ports::UserRepo;
use chat_core::testkit;
use chat_redis::CachedUsers;
use chat_redis::testing::TestRedis;

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
