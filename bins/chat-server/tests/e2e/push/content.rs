//! What a notification says: the device's language then the user's, hidden previews,
//! notifications turned off, friend requests and their acceptance.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{device, friend_push, group, message_ids_to, push_of, pushes_to, say, settings, wait_for};
use crate::media_support::{send_media, upload};
use crate::support::{Store, TestServer, fake_fcm};

on_every_store!(
    texts_follow_the_device_locale_then_the_users,
    hidden_previews_and_disabled_notifications,
    friend_requests_and_acceptances_notify,
);

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
