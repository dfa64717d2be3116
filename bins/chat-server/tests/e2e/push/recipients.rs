//! Who a push reaches: offline members with their badge, not a user connected on any node,
//! not through a mute or a block.

use chat_core::ports::Clock as _;
use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{device, group, message_ids_to, push_of, say, wait_offline};
use crate::support::{Cluster, PushSetup, Store, TestServer, fake_fcm};

on_every_store!(
    an_offline_recipient_is_notified_with_the_unread_badge,
    a_connected_recipient_is_notified_only_once_gone,
    a_muted_conversation_notifies_nothing_until_the_mute_ends,
    nothing_crosses_a_block_in_a_shared_group,
);

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
