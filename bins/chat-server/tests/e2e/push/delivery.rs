//! What becomes of each send and each job: a token FCM calls gone is removed, a throttled
//! device is retried once after its `Retry-After`, a logout stops its session's pushes, and a
//! job queued while no worker runs waits for the next.

use std::time::{Duration, Instant};

use chat_fcm::testing::Answer;
use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use reqwest::StatusCode;
use serde_json::json;

use super::{PUSH_WAIT, device, message_ids_to, push_of, pushes_to, say};
use crate::support::{Cluster, PushSetup, Store, TestServer, fake_fcm};

on_every_store!(
    a_token_fcm_calls_unregistered_is_removed,
    a_throttled_device_is_retried_after_retry_after_once,
    logout_removes_the_sessions_token,
);

async fn a_token_fcm_calls_unregistered_is_removed(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let binh_new_phone = server.login(&binh).await;
    let old = device(&server, &binh, "android", "binh-uninstalled", None).await;
    let new = device(&server, &binh_new_phone, "android", "binh-new", None).await;
    fake.script("binh-uninstalled", [Answer::Unregistered]);
    let direct = server.direct(&an, &binh).await;

    let first = say(&server, &an, &direct, "còn dùng máy cũ không?").await;
    push_of(&fake, "binh-new", &first).await;
    let deadline = Instant::now() + PUSH_WAIT;
    loop {
        let (_, listed) = server.get("/api/v1/devices", &binh_new_phone).await;
        let ids: Vec<&str> = listed["devices"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
        if ids == [new.as_str()] {
            break;
        }
        assert!(ids.contains(&old.as_str()) && Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_millis(20)).await; // polling the API, not synchronising
    }
    let second = say(&server, &an, &direct, "máy mới").await;
    push_of(&fake, "binh-new", &second).await;
    assert_eq!(fake.sends(), 3, "one refused and two accepted sends; none to the removed token after");
    assert!(pushes_to(&fake, "binh-uninstalled").is_empty());
}

async fn a_throttled_device_is_retried_after_retry_after_once(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let binh_tablet = server.login(&binh).await;
    device(&server, &binh, "android", "binh-phone", None).await;
    device(&server, &binh_tablet, "android", "binh-tablet", None).await;
    // Three seconds: longer than the retry a device gets when FCM names no time (2 s), so a
    // retry that ignored the header would come too soon.
    fake.script("binh-phone", [Answer::QuotaExceeded(Some("3".into()))]);
    let direct = server.direct(&an, &binh).await;

    let sent_at = Instant::now();
    let message = say(&server, &an, &direct, "gửi lại sau").await;
    push_of(&fake, "binh-tablet", &message).await;
    push_of(&fake, "binh-phone", &message).await;
    assert!(sent_at.elapsed() >= Duration::from_secs(3), "retried after {:?}", sent_at.elapsed());

    // Once the queue is empty no job is left to send anything more.
    let queue = server.deps.push_jobs.clone().unwrap();
    let deadline = Instant::now() + PUSH_WAIT;
    loop {
        let stats = queue.stats().await.unwrap();
        if stats.ready + stats.in_flight + stats.delayed == 0 {
            assert_eq!(stats.dead, 0);
            break;
        }
        assert!(Instant::now() < deadline, "the push queue never emptied: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await; // polling the queue, not synchronising
    }
    assert_eq!(message_ids_to(&fake, "binh-phone"), std::slice::from_ref(&message), "exactly once");
    assert_eq!(message_ids_to(&fake, "binh-tablet"), [message], "the served device was not sent it again");
    assert_eq!(fake.sends(), 3);
}

async fn logout_removes_the_sessions_token(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let binh_tablet = server.login(&binh).await;
    device(&server, &binh, "android", "binh-phone", None).await;
    device(&server, &binh_tablet, "android", "binh-tablet", None).await;
    let direct = server.direct(&an, &binh).await;
    let before = say(&server, &an, &direct, "hai máy").await;
    push_of(&fake, "binh-tablet", &before).await;

    let (status, _) = server.post("/api/v1/auth/logout", Some(&binh_tablet), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = say(&server, &an, &direct, "sau khi đăng xuất").await;
    let marker = say(&server, &an, &direct, "còn máy điện thoại").await;
    push_of(&fake, "binh-phone", &marker).await;
    assert_eq!(message_ids_to(&fake, "binh-tablet"), std::slice::from_ref(&before));
    assert_eq!(message_ids_to(&fake, "binh-phone"), [before, after, marker]);
}

/// A push queued while no worker runs waits in Redis for the next worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_queued_while_no_worker_runs_is_sent_by_the_next() {
    let (database, redis) = (TestDatabase::create().await, TestRedis::create().await);
    let cluster = Cluster { database: &database, redis: &redis };
    let fake = fake_fcm().await;
    let mut without_worker = TestServer::start_node(&cluster, Some(PushSetup { fake: &fake, worker: false })).await;
    let (an, binh) = (without_worker.register("an.le").await, without_worker.register("binh").await);
    device(&without_worker, &binh, "ios", "binh-iphone", None).await;
    let direct = without_worker.direct(&an, &binh).await;
    let message = say(&without_worker, &an, &direct, "chờ người gửi").await;
    let queued = without_worker.deps.push_jobs.clone().unwrap().stats().await.unwrap();
    assert_eq!((queued.ready, queued.in_flight), (1, 0), "{queued:?}");
    without_worker.shutdown();
    without_worker.stopped.take().unwrap().await.unwrap();
    drop(without_worker);
    assert!(fake.delivered().is_empty());

    let _with_worker = TestServer::start_node(&cluster, Some(PushSetup { fake: &fake, worker: true })).await;
    let push = push_of(&fake, "binh-iphone", &message).await;
    assert_eq!(push["notification"]["body"], "chờ người gửi");
    assert_eq!(fake.sends(), 1);
}
