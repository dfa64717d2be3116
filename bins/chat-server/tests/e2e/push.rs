//! Push notifications end to end (issue 16): real servers whose push worker sends through the
//! real FCM sender to a local fake FCM, which checks each message as Google would and keeps
//! those it accepted. The tests read what reached each device token.
//!
//! "Nothing was sent" is never concluded from a quiet moment: the push worker runs one job
//! at a time in queue order (`support::PUSH_WORKER_CONCURRENCY`), so once a later event's
//! push has arrived, every earlier job has finished, and what it did not send it never will.

use std::time::{Duration, Instant};

use chat_core::domain::ids::UserId;
use chat_core::ports::Clock as _;
use chat_fcm::testing::{Answer, FakeFcm};
use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::media_support::{send_media, upload};
use crate::support::{Cluster, PushSetup, Store, TestServer, User, fake_fcm};

on_every_store!(
    an_offline_recipient_is_notified_with_the_unread_badge,
    a_connected_recipient_is_notified_only_once_gone,
    a_muted_conversation_notifies_nothing_until_the_mute_ends,
    nothing_crosses_a_block_in_a_shared_group,
    texts_follow_the_device_locale_then_the_users,
    hidden_previews_and_disabled_notifications,
    friend_requests_and_acceptances_notify,
    a_token_fcm_calls_unregistered_is_removed,
    a_throttled_device_is_retried_after_retry_after_once,
    logout_removes_the_sessions_token,
);

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

async fn an_offline_recipient_is_notified_with_the_unread_badge(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let binh_tablet = server.login(&binh).await;
    device(&server, &an, "android", "an-phone", None).await;
    device(&server, &binh, "ios", "binh-iphone", None).await;
    device(&server, &binh_tablet, "android", "binh-android", None).await;
    let direct = server.direct(&an, &binh).await;

    let first = say(&server, &an, &direct, "Chào Bình").await;
    let iphone = push_of(&fake, "binh-iphone", &first).await;
    assert_eq!(iphone["notification"]["title"], "an.le", "{iphone}");
    assert_eq!(iphone["notification"]["body"], "Chào Bình");
    assert_eq!(iphone["data"]["type"], "message");
    assert_eq!(iphone["data"]["conversation_id"], direct.as_str());
    assert_eq!(iphone["data"]["sender_id"], an.id.as_str());
    assert_eq!(iphone["apns"]["payload"]["aps"]["badge"], 1);
    assert_eq!(iphone["apns"]["payload"]["aps"]["thread-id"], direct.as_str());
    assert_eq!(iphone["apns"]["headers"]["apns-collapse-id"], direct.as_str());
    assert!(iphone.get("android").is_none(), "only the device's platform block: {iphone}");
    let android = push_of(&fake, "binh-android", &first).await;
    assert_eq!(android["notification"]["body"], "Chào Bình");
    assert_eq!(android["android"]["collapse_key"], direct.as_str(), "{android}");
    assert_eq!(android["android"]["notification"]["tag"], direct.as_str());
    assert_eq!(android["android"]["notification"]["notification_count"], 1);

    // The badge counts every unread message of the user.
    let second = say(&server, &an, &direct, "Em ăn cơm chưa?").await;
    assert_eq!(push_of(&fake, "binh-iphone", &second).await["apns"]["payload"]["aps"]["badge"], 2);
    assert_eq!(push_of(&fake, "binh-android", &second).await["android"]["notification"]["notification_count"], 2);
    // Read on one device, the count starts again.
    let (status, _) =
        server.post(&format!("/api/v1/conversations/{direct}/read"), Some(&binh), json!({"seq": 2})).await;
    assert_eq!(status, StatusCode::OK);
    let third = say(&server, &an, &direct, "Trả lời đi").await;
    assert_eq!(push_of(&fake, "binh-iphone", &third).await["apns"]["payload"]["aps"]["badge"], 1);

    // Binh's answer reaches An: every job before it has run, and none notified the sender.
    let answer = say(&server, &binh, &direct, "Ăn rồi").await;
    let to_an = push_of(&fake, "an-phone", &answer).await;
    assert_eq!(to_an["notification"]["title"], "binh");
    assert_eq!(message_ids_to(&fake, "an-phone"), [answer]);
    assert_eq!(message_ids_to(&fake, "binh-iphone"), [first.clone(), second.clone(), third]);
}

async fn a_connected_recipient_is_notified_only_once_gone(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    device(&server, &binh, "android", "binh-phone", None).await;
    device(&server, &chi, "android", "chi-phone", None).await;
    let (with_binh, with_chi) = (server.direct(&an, &binh).await, server.direct(&an, &chi).await);

    let mut socket = server.connect(&binh).await;
    let while_online = say(&server, &an, &with_binh, "Bình đang online").await;
    assert_eq!(socket.next_of("message.new").await["message"]["id"], while_online.as_str());
    let marker = say(&server, &an, &with_chi, "Chi offline").await;
    push_of(&fake, "chi-phone", &marker).await;
    assert_eq!(message_ids_to(&fake, "binh-phone"), Vec::<String>::new(), "the app showed it already");

    socket.stream.close(None).await.unwrap();
    wait_offline(&server, &binh).await;
    let after = say(&server, &an, &with_binh, "Bình đi rồi").await;
    push_of(&fake, "binh-phone", &after).await;
    assert_eq!(message_ids_to(&fake, "binh-phone"), [after]);
}

async fn a_muted_conversation_notifies_nothing_until_the_mute_ends(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    device(&server, &binh, "android", "binh-phone", None).await;
    let (with_an, with_chi) = (server.direct(&an, &binh).await, server.direct(&chi, &binh).await);
    let mute = format!("/api/v1/conversations/{with_an}/mute");

    let (status, body) = server.request(Method::PUT, &mute, Some(&binh), Some(json!({}))).await;
    assert!(status.is_success(), "{body}");
    let muted = say(&server, &an, &with_an, "bị tắt tiếng").await;
    let marker = say(&server, &chi, &with_chi, "không tắt tiếng").await;
    push_of(&fake, "binh-phone", &marker).await;
    assert_eq!(message_ids_to(&fake, "binh-phone"), std::slice::from_ref(&marker));

    let (status, _) = server.request(Method::DELETE, &mute, Some(&binh), None).await;
    assert!(status.is_success());
    let unmuted = say(&server, &an, &with_an, "bật lại rồi").await;
    push_of(&fake, "binh-phone", &unmuted).await;

    // Muted for a minute: silent within it, heard after it (by the server's clock).
    let until = server.clock.now() + chat_core::domain::Duration::seconds(60);
    let (status, body) = server.request(Method::PUT, &mute, Some(&binh), Some(json!({"until": until}))).await;
    assert!(status.is_success(), "{body}");
    let within = say(&server, &an, &with_an, "trong một phút").await;
    let second_marker = say(&server, &chi, &with_chi, "vẫn nghe").await;
    push_of(&fake, "binh-phone", &second_marker).await;
    server.clock.advance(chat_core::domain::Duration::seconds(120));
    let past = say(&server, &an, &with_an, "hết giờ tắt tiếng").await;
    push_of(&fake, "binh-phone", &past).await;
    assert_eq!(message_ids_to(&fake, "binh-phone"), [marker, unmuted, second_marker, past]);
    assert!(![muted, within].iter().any(|id| message_ids_to(&fake, "binh-phone").contains(id)));
}

async fn nothing_crosses_a_block_in_a_shared_group(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    server.befriend(&an, &binh).await;
    server.befriend(&an, &chi).await;
    let team = group(&server, &an, &[&binh, &chi], "Đội bóng").await;
    for (user, token) in [(&an, "an-phone"), (&binh, "binh-phone"), (&chi, "chi-phone")] {
        device(&server, user, "android", token, None).await;
    }
    // The block leaves both in the group (social.rs checks that it closes their direct one).
    let (status, _) = server.request(Method::PUT, &format!("/api/v1/blocks/{}", chi.id), Some(&binh), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // An sees each before writing: a member who writes has read what came before, and is
    // no longer notified of it.
    let from_chi = say(&server, &chi, &team, "Chi nhắn nhóm").await;
    push_of(&fake, "an-phone", &from_chi).await;
    let from_binh = say(&server, &binh, &team, "Bình nhắn nhóm").await;
    push_of(&fake, "an-phone", &from_binh).await;
    let from_an = say(&server, &an, &team, "An nhắn nhóm").await;
    push_of(&fake, "binh-phone", &from_an).await;
    push_of(&fake, "chi-phone", &from_an).await;
    assert_eq!(message_ids_to(&fake, "an-phone"), [from_chi, from_binh]);
    assert_eq!(
        message_ids_to(&fake, "binh-phone"),
        std::slice::from_ref(&from_an),
        "nothing from the one Binh blocked"
    );
    assert_eq!(message_ids_to(&fake, "chi-phone"), [from_an], "nothing from the one who blocked Chi");
}

async fn texts_follow_the_device_locale_then_the_users(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    server.befriend(&an, &binh).await;
    server.befriend(&an, &chi).await;
    let binh_tablet = server.login(&binh).await;
    device(&server, &binh, "android", "binh-en", Some("en")).await;
    device(&server, &binh_tablet, "ios", "binh-default", None).await;
    let direct = server.direct(&an, &binh).await;

    let photo = upload(&server, &an, "image", "IMG_0001.jpg", "image/jpeg", crate::media_support::photo(64, 48)).await;
    let (status, sent) = send_media(&server, &an, &direct, json!({"kind": "IMAGE", "media_ids": [photo]})).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let image = sent["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(push_of(&fake, "binh-en", &image).await["notification"]["body"], "📷 Photo");
    assert_eq!(push_of(&fake, "binh-default", &image).await["notification"]["body"], "📷 Ảnh");

    // A group message: the group's name over "Sender: text".
    let team = group(&server, &an, &[&binh, &chi], "Nhà mình").await;
    let dinner = say(&server, &an, &team, "Tối nay ăn gì?").await;
    let push = push_of(&fake, "binh-default", &dinner).await;
    assert_eq!(push["notification"]["title"], "Nhà mình", "{push}");
    assert_eq!(push["notification"]["body"], "an.le: Tối nay ăn gì?");
    assert_eq!(push["apns"]["payload"]["aps"]["thread-id"], team.as_str());

    // The user's own language: the device that named none follows it; the other keeps its own.
    settings(&server, &binh, json!({"locale": "en"})).await;
    let photo = upload(&server, &an, "image", "IMG_0002.jpg", "image/jpeg", crate::media_support::photo(64, 48)).await;
    let (_, sent) = send_media(&server, &an, &direct, json!({"kind": "IMAGE", "media_ids": [photo]})).await;
    let second = sent["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(push_of(&fake, "binh-default", &second).await["notification"]["body"], "📷 Photo");
    assert_eq!(push_of(&fake, "binh-en", &second).await["notification"]["body"], "📷 Photo");
}

async fn hidden_previews_and_disabled_notifications(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    server.befriend(&an, &binh).await;
    server.befriend(&an, &chi).await;
    device(&server, &binh, "android", "binh-phone", None).await;
    device(&server, &chi, "android", "chi-phone", None).await;
    let direct = server.direct(&an, &binh).await;
    let team = group(&server, &an, &[&binh, &chi], "Bí mật nhóm").await;

    settings(&server, &binh, json!({"notification_previews": false})).await;
    let secret = say(&server, &an, &direct, "mật khẩu wifi là hoa-sen-vàng").await;
    let push = push_of(&fake, "binh-phone", &secret).await;
    assert_eq!(
        (push["notification"]["title"].as_str(), push["notification"]["body"].as_str()),
        (Some("an.le"), Some("Bạn có tin nhắn mới"))
    );
    let in_group = say(&server, &an, &team, "họp lúc 9 giờ").await;
    let push = push_of(&fake, "binh-phone", &in_group).await;
    assert_eq!(push["notification"]["title"], "Bí mật nhóm");
    assert_eq!(push["notification"]["body"], "Bạn có tin nhắn mới", "no sender either: {push}");
    let everything = serde_json::to_string(&pushes_to(&fake, "binh-phone")).unwrap();
    assert!(!everything.contains("hoa-sen") && !everything.contains("9 giờ"), "{everything}");
    // Chi keeps previews.
    assert_eq!(push_of(&fake, "chi-phone", &in_group).await["notification"]["body"], "an.le: họp lúc 9 giờ");

    settings(&server, &binh, json!({"notifications_enabled": false})).await;
    let silent = say(&server, &an, &direct, "Bình không nghe").await;
    let marker = say(&server, &an, &team, "Chi vẫn nghe").await;
    push_of(&fake, "chi-phone", &marker).await;
    assert_eq!(message_ids_to(&fake, "binh-phone"), [secret, in_group], "nothing once notifications are off");
    assert!(!message_ids_to(&fake, "binh-phone").contains(&silent));
}

async fn friend_requests_and_acceptances_notify(store: Store) {
    let fake = fake_fcm().await;
    let server = TestServer::start_with_push(store, &fake).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    device(&server, &an, "android", "an-phone", Some("en")).await;
    device(&server, &binh, "ios", "binh-iphone", None).await;

    let (status, sent) = server.post("/api/v1/friend-requests", Some(&an), json!({"user_id": binh.id})).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let request_id = sent["request"]["id"].as_str().unwrap();
    let asked = friend_push(&fake, "binh-iphone", "friend_request").await;
    assert_eq!(asked["notification"]["title"], "an.le", "{asked}");
    assert_eq!(asked["notification"]["body"], "an.le đã gửi cho bạn lời mời kết bạn");
    assert_eq!(
        (asked["data"]["request_id"].as_str(), asked["data"]["user_id"].as_str()),
        (Some(request_id), Some(an.id.as_str()))
    );

    let (status, _) =
        server.post(&format!("/api/v1/friend-requests/{request_id}/accept"), Some(&binh), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let accepted = friend_push(&fake, "an-phone", "friend_accepted").await;
    assert_eq!(accepted["notification"]["title"], "binh", "{accepted}");
    assert_eq!(accepted["notification"]["body"], "binh accepted your friend request", "An's device is in English");
    assert_eq!(accepted["android"]["collapse_key"], "friends-friend_accepted");

    // The one who accepted hears nothing of it: Chi's later request is Binh's next push.
    let (status, _) = server.post("/api/v1/friend-requests", Some(&chi), json!({"user_id": binh.id})).await;
    assert_eq!(status, StatusCode::CREATED);
    wait_for(&fake, "binh-iphone", "Chi's request", |push| push["data"]["user_id"] == chi.id.as_str()).await;
    let kinds: Vec<Value> = pushes_to(&fake, "binh-iphone").iter().map(|push| push["data"]["type"].clone()).collect();
    assert_eq!(kinds, [json!("friend_request"), json!("friend_request")]);
    assert_eq!(pushes_to(&fake, "an-phone").len(), 1, "the asker's own request did not notify them");
}

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

/// Two nodes on one Postgres and one Redis; only node 1 runs a push worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_connected_to_another_node_is_not_notified() {
    let (database, redis) = (TestDatabase::create().await, TestRedis::create().await);
    let cluster = Cluster { database: &database, redis: &redis };
    let fake = fake_fcm().await;
    let node_1 = TestServer::start_node(&cluster, Some(PushSetup { fake: &fake, worker: true })).await;
    let node_2 = TestServer::start_node(&cluster, Some(PushSetup { fake: &fake, worker: false })).await;
    let (an, binh, chi) =
        (node_1.register("an.le").await, node_2.register("binh").await, node_1.register("chi.vu").await);
    device(&node_2, &binh, "android", "binh-phone", None).await;
    device(&node_1, &chi, "android", "chi-phone", None).await;
    let (with_binh, with_chi) = (node_1.direct(&an, &binh).await, node_1.direct(&an, &chi).await);

    let mut socket = node_2.connect(&binh).await;
    let while_online = say(&node_1, &an, &with_binh, "từ máy chủ 1").await;
    assert_eq!(socket.next_of("message.new").await["message"]["id"], while_online.as_str());
    let marker = say(&node_1, &an, &with_chi, "Chi offline").await;
    push_of(&fake, "chi-phone", &marker).await;
    assert!(message_ids_to(&fake, "binh-phone").is_empty(), "Binh is online on node 2");

    socket.stream.close(None).await.unwrap();
    wait_offline(&node_1, &binh).await;
    let after = say(&node_1, &an, &with_binh, "Bình đi rồi").await;
    push_of(&fake, "binh-phone", &after).await;
    assert_eq!(message_ids_to(&fake, "binh-phone"), [after]);
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
