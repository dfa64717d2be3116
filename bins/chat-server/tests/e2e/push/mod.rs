//! Push notifications end to end (issue 16): real servers whose push worker sends through the
//! real FCM sender to a local fake FCM, which checks each message as Google would and keeps
//! those it accepted. The tests read what reached each device token. By theme: who is
//! notified (`recipients`), what a notification says (`content`), and what becomes of each
//! send and job (`delivery`); the helpers they share are here.
//!
//! "Nothing was sent" is never concluded from a quiet moment: the push worker runs one job
//! at a time in queue order (`support::PUSH_WORKER_CONCURRENCY`), so once a later event's
//! push has arrived, every earlier job has finished, and what it did not send it never will.

mod content;
mod delivery;
mod recipients;

use std::time::{Duration, Instant};

use chat_core::domain::ids::UserId;
use chat_core::ports::Clock as _;
use chat_fcm::testing::FakeFcm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, User};

/// How long a push that must come may take (a retry included).
const PUSH_WAIT: Duration = Duration::from_secs(20);

/// Registers a device for the session of `user`; returns the registration's id.
async fn device(server: &TestServer, user: &User, platform: &str, token: &str, locale: Option<&str>) -> String {
    let mut body = json!({"platform": platform, "token": token});
    if let Some(locale) = locale {
        body["locale"] = json!(locale);
    }
    let (status, registered) = server.post("/api/v1/devices", Some(user), body).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    registered["device"]["id"].as_str().unwrap().to_owned()
}

/// Sends a text and returns the message's id.
async fn say(server: &TestServer, user: &User, conversation: &str, text: &str) -> String {
    let (status, sent) = server.send_text(user, conversation, text).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["message"]["id"].as_str().unwrap().to_owned()
}

/// What FCM accepted for `token`, in order.
fn pushes_to(fake: &FakeFcm, token: &str) -> Vec<Value> {
    fake.delivered().into_iter().filter(|message| message["token"] == token).collect()
}

/// The message ids of the message notifications that reached `token`, in order.
fn message_ids_to(fake: &FakeFcm, token: &str) -> Vec<String> {
    pushes_to(fake, token)
        .iter()
        .filter(|push| push["data"]["type"] == "message")
        .map(|push| push["data"]["message_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits for the first push to `token` that `wanted` picks, and returns it.
async fn wait_for(fake: &FakeFcm, token: &str, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PUSH_WAIT;
    loop {
        if let Some(push) = pushes_to(fake, token).into_iter().find(&wanted) {
            return push;
        }
        assert!(Instant::now() < deadline, "no push of {what} reached {token}: {:?}", pushes_to(fake, token));
        tokio::time::sleep(Duration::from_millis(20)).await; // polling the fake, not synchronising
    }
}

/// Waits for the notification of message `id` at `token`.
async fn push_of(fake: &FakeFcm, token: &str, id: &str) -> Value {
    wait_for(fake, token, &format!("message {id}"), |push| push["data"]["message_id"] == id).await
}

/// Waits for a friend notification of `kind` at `token`.
async fn friend_push(fake: &FakeFcm, token: &str, kind: &str) -> Value {
    wait_for(fake, token, kind, |push| push["data"]["type"] == kind).await
}

/// Waits until `user` shows offline to the presence store `server` reads.
async fn wait_offline(server: &TestServer, user: &User) {
    let id: UserId = user.id.parse().unwrap();
    let deadline = Instant::now() + PUSH_WAIT;
    loop {
        let status = server.deps.presence.status(&[id], server.clock.now()).await.unwrap();
        if status.iter().all(|(_, status)| !status.online) {
            return;
        }
        assert!(Instant::now() < deadline, "{} still online", user.username);
        tokio::time::sleep(Duration::from_millis(20)).await; // polling the store, not synchronising
    }
}

/// A group `title` of `owner` and `members` (who must be the owner's friends).
async fn group(server: &TestServer, owner: &User, members: &[&User], title: &str) -> String {
    let ids: Vec<&str> = members.iter().map(|member| member.id.as_str()).collect();
    let (status, created) = server
        .post("/api/v1/conversations", Some(owner), json!({"kind": "group", "title": title, "member_ids": ids}))
        .await;
    assert!(status.is_success(), "{created}");
    created["conversation"]["id"].as_str().unwrap().to_owned()
}

async fn settings(server: &TestServer, user: &User, patch: Value) {
    let (status, body) = server.request(Method::PATCH, "/api/v1/me/settings", Some(user), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
