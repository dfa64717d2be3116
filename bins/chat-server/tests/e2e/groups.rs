//! Groups: roles, membership changes with SYSTEM messages, mute, pin, list order.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Store, TestServer};

on_every_store!(
    group_membership_follows_roles_and_is_announced,
    direct_conversations_are_one_per_pair,
    the_list_puts_pinned_first_then_latest_activity_and_pages
);

async fn group_membership_follows_roles_and_is_announced(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let chi = server.register("chi").await;
    let dung = server.register("dung").await;
    let mut chi_socket = server.connect(&chi).await;
    // Adding someone to a group takes their consent by default: friends only.
    for friend in [&binh, &chi, &dung] {
        server.befriend(&an, friend).await;
    }

    let create = json!({"kind": "group", "title": "Gia đình", "member_ids": [binh.id, chi.id, chi.id]});
    let (status, group) = server.post("/api/v1/conversations", Some(&an), create).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(group["conversation"]["member_count"], 3);
    let id = group["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(chi_socket.next_of("conversation.updated").await["change"], "created");
    let system = chi_socket.next_of("message.new").await;
    assert_eq!(
        (system["message"]["kind"].as_str(), system["message"]["system"]["event"].as_str()),
        (Some("SYSTEM"), Some("group_created"))
    );

    // A plain member may not add or remove.
    let members = format!("/api/v1/conversations/{id}/members");
    let (status, body) = server.post(&members, Some(&binh), json!({"user_ids": [dung.id]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_permitted")));
    let (status, _) = server.request(Method::DELETE, &format!("{members}/{}", chi.id), Some(&binh), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, grown) = server.post(&members, Some(&an), json!({"user_ids": [dung.id]})).await;
    assert_eq!((status, grown["conversation"]["member_count"].as_u64()), (StatusCode::OK, Some(4)));
    let (status, body) = server.post(&members, Some(&an), json!({"user_ids": [dung.id]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_member")));

    // The owner removes Chi: Chi is told, and can no longer read.
    let (status, _) = server.request(Method::DELETE, &format!("{members}/{}", chi.id), Some(&an), None).await;
    assert_eq!(status, StatusCode::OK);
    loop {
        let update = chi_socket.next_of("conversation.updated").await;
        if update["change"] == "removed" {
            break;
        }
    }
    assert_eq!(server.get(&format!("/api/v1/conversations/{id}/messages"), &chi).await.0, StatusCode::NOT_FOUND);

    // The owner leaves: ownership passes on, and the history tells the story in seq order.
    let (status, _) = server.request(Method::DELETE, &format!("{members}/{}", an.id), Some(&an), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, details) = server.get(&format!("/api/v1/conversations/{id}"), &binh).await;
    assert_eq!(details["membership"]["role"], "owner");
    let (_, history) = server.get(&format!("/api/v1/conversations/{id}/messages"), &binh).await;
    let events: Vec<&str> =
        history["messages"].as_array().unwrap().iter().filter_map(|m| m["system"]["event"].as_str()).collect();
    assert_eq!(events, ["group_created", "members_added", "member_removed", "member_left"]);
    let renamed = server
        .request(Method::PATCH, &format!("/api/v1/conversations/{id}"), Some(&binh), Some(json!({"title": "Nhà mình"})))
        .await;
    assert_eq!(renamed.1["conversation"]["title"], "Nhà mình");
}

async fn direct_conversations_are_one_per_pair(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let (first_status, first) =
        server.post("/api/v1/conversations", Some(&an), json!({"kind": "direct", "user_id": binh.id})).await;
    let (again_status, again) =
        server.post("/api/v1/conversations", Some(&binh), json!({"kind": "direct", "user_id": an.id})).await;
    assert_eq!((first_status, again_status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["conversation"]["id"], again["conversation"]["id"]);
    let (status, body) =
        server.post("/api/v1/conversations", Some(&an), json!({"kind": "direct", "user_id": an.id})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("cannot_chat_with_self")));
    let stranger = uuid::Uuid::now_v7();
    let (status, _) =
        server.post("/api/v1/conversations", Some(&an), json!({"kind": "direct", "user_id": stranger})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_list_puts_pinned_first_then_latest_activity_and_pages(store: Store) {
    let server = TestServer::start(store).await;
    let me = server.register("toi").await;
    let mut conversations = Vec::new();
    for name in ["ban1", "ban2", "ban3", "ban4"] {
        let other = server.register(name).await;
        conversations.push(server.direct(&me, &other).await);
    }
    // Activity order: a3 newest, then a1, a4, a2.
    for index in [1, 3, 0, 2] {
        server.clock.advance(chat_core::domain::Duration::seconds(1));
        server.send_text(&me, &conversations[index], "hi").await;
    }
    let (status, pinned) =
        server.request(Method::PUT, &format!("/api/v1/conversations/{}/pin", conversations[1]), Some(&me), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(pinned["membership"]["pinned_at"].is_string());
    let (_, muted) =
        server.request(Method::PUT, &format!("/api/v1/conversations/{}/mute", conversations[0]), Some(&me), None).await;
    assert_eq!(muted["membership"]["mute"], json!({"kind": "forever"}));

    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["conversation"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, first) = server.get("/api/v1/conversations?limit=2", &me).await;
    assert_eq!(ids(&first), [conversations[1].clone(), conversations[2].clone(), conversations[0].clone()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = server.get(&format!("/api/v1/conversations?limit=2&cursor={cursor}"), &me).await;
    assert_eq!(ids(&second), [conversations[3].clone()]);
    assert_eq!(second["next_cursor"], serde_json::Value::Null);
    assert_eq!(first["conversations"][0]["peer"]["username"], "ban2");
}
