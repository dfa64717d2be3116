//! The v1 message each notification becomes, as the fake received it after checking it
//! against the schema; and that the fake's checks do refuse what FCM would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use chat_core::domain::push::{Platform, Priority, PushOutcome};
use chat_core::ports::PushSender as _;
use chat_fcm::testing::{FakeFcm, PROJECT_ID};
use common::{call, message, setup};
use serde_json::{Value, json};

async fn delivered(notification: chat_core::domain::push::PushNotification) -> Value {
    let setup = setup().await;
    assert_eq!(setup.sender.send(&notification).await, Ok(PushOutcome::Sent));
    setup.fake.delivered().pop().unwrap()
}

const THREAD: &str = "0190f1e2-7a6b-7c3d-9e8f-0a1b2c3d4e5f";

fn shown_notification() -> Value {
    json!({"title": "Nguyễn Văn An", "body": "📷 Ảnh", "image": "https://cdn.example.com/avatars/an.jpg"})
}

fn message_data() -> Value {
    json!({"conversation_id": THREAD, "message_id": "0190f1e2-8000-7000-8000-000000000001", "type": "message"})
}

#[tokio::test]
async fn an_android_message() {
    assert_eq!(
        delivered(message("tok-a", Platform::Android)).await,
        json!({
            "token": "tok-a",
            "notification": shown_notification(),
            "data": message_data(),
            "android": {
                "priority": "HIGH", "ttl": "86400s", "collapse_key": THREAD,
                "notification": {"tag": THREAD, "notification_count": 4}
            }
        })
    );
}

#[tokio::test]
async fn an_ios_message() {
    let setup = setup().await;
    let now = chat_core::ports::Clock::now(&*setup.clock).timestamp();
    assert_eq!(setup.sender.send(&message("tok-i", Platform::Ios)).await, Ok(PushOutcome::Sent));
    assert_eq!(
        setup.fake.delivered().pop().unwrap(),
        json!({
            "token": "tok-i",
            "notification": shown_notification(),
            "data": message_data(),
            "apns": {
                "headers": {
                    "apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": THREAD,
                    "apns-expiration": (now + 86_400).to_string()
                },
                "payload": {"aps": {"thread-id": THREAD, "badge": 4, "sound": "default"}}
            }
        })
    );
}

#[tokio::test]
async fn a_web_message_of_normal_priority_without_ttl() {
    let mut notification = message("tok-w", Platform::Web);
    notification.priority = Priority::Normal;
    notification.ttl = None;
    assert_eq!(
        delivered(notification).await,
        json!({
            "token": "tok-w",
            "notification": shown_notification(),
            "data": message_data(),
            "webpush": {"headers": {"Urgency": "normal"}}
        })
    );
}

#[tokio::test]
async fn a_call_is_data_only_with_a_short_life() {
    let data = json!({"call_id": "c-1", "type": "call"});
    assert_eq!(
        delivered(call("tok-a", Platform::Android)).await,
        json!({"token": "tok-a", "data": data, "android": {"priority": "HIGH", "ttl": "30s", "collapse_key": THREAD}})
    );
    let ios = delivered(call("tok-i", Platform::Ios)).await;
    assert!(ios.get("notification").is_none());
    assert_eq!(ios["apns"]["payload"], json!({"aps": {"content-available": 1}}));
    assert_eq!(ios["apns"]["headers"]["apns-push-type"], "background");
    assert_eq!(ios["apns"]["headers"]["apns-priority"], "5");
    assert_eq!(
        delivered(call("tok-w", Platform::Web)).await,
        json!({"token": "tok-w", "data": data, "webpush": {"headers": {"Urgency": "high", "TTL": "30"}}})
    );
}

/// Posts `body` to the fake's `messages:send` as a client would, with a valid token.
async fn post_raw(fake: &FakeFcm, body: Value, bearer: bool) -> (u16, Value) {
    let http = reqwest::Client::builder().http2_prior_knowledge().timeout(Duration::from_secs(10)).build().unwrap();
    let mut request = http.post(format!("{}/v1/projects/{PROJECT_ID}/messages:send", fake.base_url())).json(&body);
    if bearer {
        request = request.bearer_auth(fake.issue_access_token());
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn the_fake_refuses_what_fcm_refuses() {
    let setup = setup().await;
    let fake = &setup.fake;
    let good = json!({"message": {"token": "t", "notification": {"title": "x"}}});
    assert_eq!(post_raw(fake, good.clone(), true).await.0, 200);
    assert_eq!(post_raw(fake, good, false).await.0, 401);
    for (bad, what) in [
        (json!({"message": {"token": "t", "priority": "high"}}), "unknown field `priority`"),
        (json!({"message": {"token": "t"}, "extra": 1}), "unknown field `extra`"),
        (json!({"message": {"token": "t", "android": {"priority": "high"}}}), "unknown variant `high`"),
        (json!({"message": {"token": "t", "android": {"ttl": "30"}}}), "message.android.ttl"),
        (json!({"message": {"token": "t", "android": {"notification": {"badge": 1}}}}), "unknown field `badge`"),
        (json!({"message": {"token": "t", "data": {"n": 1}}}), "invalid type"),
        (json!({"message": {"token": "t", "data": {"from": "x"}}}), "reserved"),
        (json!({"message": {"token": "t", "topic": "news"}}), "Exactly one"),
        (json!({"message": {"token": "t", "webpush": {"headers": {"Urgency": "urgent"}}}}), "Urgency"),
        (
            json!({"message": {"token": "t", "apns": {"headers": {"apns-push-type": "background", "apns-priority": "10"},
                "payload": {"aps": {"content-available": 1}}}}}),
            "background push",
        ),
        (json!({"message": {"token": "t", "apns": {"payload": {"aps": {"badge": "4"}}}}}), "badge"),
    ] {
        let (status, answer) = post_raw(fake, bad.clone(), true).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
        let said = answer["error"]["details"][0]["fieldViolations"][0].to_string();
        assert!(said.contains(what), "{bad}: {said}");
    }
    assert_eq!(fake.delivered().len(), 1);
}
