//! The authorization matrix of the social graph: every rule, in both directions, over HTTP
//! and the WebSocket, on both stores.

use reqwest::{Method, StatusCode};
use serde_json::json;

use chat_core::app::Limits;
use chat_core::domain::rate_limit::Quota;
use chat_http::HttpConfig;

use crate::support::{Store, TestServer, User};

on_every_store!(
    a_block_hides_each_from_the_other_everywhere,
    privacy_settings_are_enforced_by_the_server,
    friend_requests_flow_and_are_announced
);

/// Makes `user` findable by phone with the given number.
async fn discoverable(server: &TestServer, user: &User, phone: &str) {
    let me = json!({"phone": phone});
    assert_eq!(server.request(Method::PATCH, "/api/v1/me", Some(user), Some(me)).await.0, StatusCode::OK);
    let settings = json!({"discoverable_by_phone": true, "who_sees_presence": "everyone"});
    assert_eq!(
        server.request(Method::PATCH, "/api/v1/me/settings", Some(user), Some(settings)).await.0,
        StatusCode::OK
    );
}

async fn a_block_hides_each_from_the_other_everywhere(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh.tran").await;
    server.befriend(&an, &binh).await;
    let direct = server.direct(&an, &binh).await;
    assert_eq!(server.send_text(&an, &direct, "trước khi chặn").await.0, StatusCode::CREATED);
    discoverable(&server, &an, "0912000001").await;
    discoverable(&server, &binh, "0912000002").await;
    let (status, _) = server.request(Method::PUT, &format!("/api/v1/blocks/{}", binh.id), Some(&an), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, blocks) = server.get("/api/v1/blocks", &an).await;
    assert_eq!(blocks["blocks"][0]["user_id"], binh.id.as_str());

    for (me, other, other_phone) in [(&an, &binh, "0912000002"), (&binh, &an, "0912000001")] {
        let who = &me.username;
        assert_eq!(
            server.get(&format!("/api/v1/users/{}", other.id), me).await.0,
            StatusCode::NOT_FOUND,
            "{who}: profile"
        );
        let (_, found) = server.get(&format!("/api/v1/users/search?q={}", other.username), me).await;
        assert_eq!(found["users"], json!([]), "{who}: search");
        assert_eq!(
            server.get(&format!("/api/v1/users/by-phone?phone={other_phone}"), me).await.0,
            StatusCode::NOT_FOUND,
            "{who}: phone"
        );
        let (_, synced) = server.post("/api/v1/contacts/sync", Some(me), json!({"phones": [other_phone]})).await;
        assert_eq!(synced["matches"], json!([]), "{who}: contact sync");
        let (status, _) = server.post("/api/v1/friend-requests", Some(me), json!({"user_id": other.id})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who}: friend request");
        let (status, _) =
            server.post("/api/v1/conversations", Some(me), json!({"kind": "direct", "user_id": other.id})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who}: new direct conversation");
        let group = json!({"kind": "group", "title": "Nhóm", "member_ids": [other.id]});
        assert_eq!(
            server.post("/api/v1/conversations", Some(me), group).await.0,
            StatusCode::NOT_FOUND,
            "{who}: group add"
        );
        let (_, presence) = server.get(&format!("/api/v1/presence?user_ids={}", other.id), me).await;
        assert_eq!(presence["presence"], json!([]), "{who}: presence");
        let (_, friends) = server.get("/api/v1/friends", me).await;
        assert_eq!(friends["friends"], json!([]), "{who}: a block ends the friendship");

        // The existing direct conversation is read-only for both, over HTTP and the socket.
        let (status, body) = server.send_text(me, &direct, "còn đó không?").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("blocked")),
            "{who}: HTTP send"
        );
        let mut socket = server.connect(me).await;
        let mut theirs = server.connect(other).await;
        socket
            .send(json!({"type": "message.send", "id": 1, "conversation_id": direct, "client_msg_id": uuid::Uuid::now_v7(), "body": "x"}))
            .await;
        assert_eq!(socket.next_of("error").await["code"], "blocked", "{who}: socket send");
        socket.send(json!({"type": "typing", "conversation_id": direct})).await;
        server.post(&format!("/api/v1/conversations/{direct}/read"), Some(me), json!({"seq": 1})).await;
        theirs.assert_nothing_pending_of(&["typing", "receipt", "message.new"]).await;
    }
    let (_, history) = server.get(&format!("/api/v1/conversations/{direct}/messages"), &an).await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1), "nothing was stored after the block");

    // Unblocking opens the way again (the friendship does not come back by itself).
    let (status, _) = server.request(Method::DELETE, &format!("/api/v1/blocks/{}", binh.id), Some(&an), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.send_text(&binh, &direct, "hết giận chưa?").await.0, StatusCode::CREATED);
    assert_eq!(server.get(&format!("/api/v1/users/{}", an.id), &binh).await.0, StatusCode::OK);
    let (status, _) = server.request(Method::DELETE, &format!("/api/v1/blocks/{}", binh.id), Some(&an), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn privacy_settings_are_enforced_by_the_server(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh.tran").await;
    let direct = server.direct(&an, &binh).await;

    // Who may message me: friends only.
    let friends_only = json!({"who_can_message": "friends"});
    server.request(Method::PATCH, "/api/v1/me/settings", Some(&binh), Some(friends_only)).await;
    let (status, body) = server.send_text(&an, &direct, "xin chào").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_allowed_to_message")));
    assert_eq!(
        server.send_text(&binh, &direct, "mình nhắn được").await.0,
        StatusCode::CREATED,
        "the setting binds others, not me"
    );
    // Nor can a stranger open a conversation they could never write in.
    let chi = server.register("chi.pham").await;
    let (status, body) =
        server.post("/api/v1/conversations", Some(&chi), json!({"kind": "direct", "user_id": binh.id})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_allowed_to_message")));

    // Who may add me to groups: friends by default.
    let group = json!({"kind": "group", "title": "Nhóm", "member_ids": [binh.id]});
    let (status, body) = server.post("/api/v1/conversations", Some(&an), group.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_allowed_to_add")));
    server.befriend(&an, &binh).await;
    assert_eq!(server.send_text(&an, &direct, "giờ là bạn rồi").await.0, StatusCode::CREATED);
    assert_eq!(server.post("/api/v1/conversations", Some(&an), group).await.0, StatusCode::CREATED);

    // Discoverable by phone: off by default.
    let phone = json!({"phone": "0987 654 321"});
    server.request(Method::PATCH, "/api/v1/me", Some(&binh), Some(phone)).await;
    assert_eq!(server.get("/api/v1/users/by-phone?phone=+84987654321", &an).await.0, StatusCode::NOT_FOUND);
    let on = json!({"discoverable_by_phone": true});
    server.request(Method::PATCH, "/api/v1/me/settings", Some(&binh), Some(on)).await;
    let (status, found) = server.get("/api/v1/users/by-phone?phone=0987654321", &an).await;
    assert_eq!((status, found["id"].as_str()), (StatusCode::OK, Some(binh.id.as_str())));
    let (_, synced) =
        server.post("/api/v1/contacts/sync", Some(&an), json!({"phones": ["0987.654.321", "not a number"]})).await;
    assert_eq!(synced["matches"], json!([{"phone": "0987.654.321", "user": found}]));
    let too_many: Vec<String> = (0..1001).map(|n| format!("+8490{n:07}")).collect();
    let (status, _) = server.post("/api/v1/contacts/sync", Some(&an), json!({"phones": too_many})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Read receipts ("Đã xem") are mutual: with them off, Binh sends none and sees none.
    let mut an_socket = server.connect(&an).await;
    let mut binh_socket = server.connect(&binh).await;
    let off = json!({"send_read_receipts": false});
    server.request(Method::PATCH, "/api/v1/me/settings", Some(&binh), Some(off)).await;
    server.post(&format!("/api/v1/conversations/{direct}/read"), Some(&binh), json!({"seq": 3})).await;
    an_socket.assert_nothing_pending_of(&["receipt"]).await;
    server.send_text(&binh, &direct, "đọc đi").await;
    server.post(&format!("/api/v1/conversations/{direct}/read"), Some(&an), json!({"seq": 4})).await;
    binh_socket.assert_nothing_pending_of(&["receipt"]).await;
    let (_, details) = server.get(&format!("/api/v1/conversations/{direct}"), &binh).await;
    let an_view =
        details["members"].as_array().unwrap().iter().find(|m| m["user_id"] == an.id.as_str()).unwrap().clone();
    assert_eq!(an_view["read_seq"], serde_json::Value::Null, "nor in the member list");
}

async fn friend_requests_flow_and_are_announced(store: Store) {
    // Many sign-ups from one address: lift the per-IP registration limit for this test.
    let limits = Limits { register_per_ip: Quota::per_minute(1000), ..Limits::default() };
    let server = TestServer::start_with(store, limits, HttpConfig::default()).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh.tran").await;
    let chi = server.register("chi.pham").await;
    let mut binh_socket = server.connect(&binh).await;
    let mut an_socket = server.connect(&an).await;

    let (status, sent) =
        server.post("/api/v1/friend-requests", Some(&an), json!({"user_id": binh.id, "message": "Kết bạn nhé"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = server.post("/api/v1/friend-requests", Some(&an), json!({"user_id": binh.id})).await;
    assert_eq!(
        (status, again["request"]["id"].clone()),
        (StatusCode::OK, sent["request"]["id"].clone()),
        "asking twice is one request"
    );
    let incoming = binh_socket.next_of("friend.request").await;
    assert_eq!(
        (incoming["request"]["id"].clone(), incoming["from"]["username"].as_str()),
        (sent["request"]["id"].clone(), Some("an.le"))
    );
    let (_, listed) = server.get("/api/v1/friend-requests?direction=incoming", &binh).await;
    assert_eq!(listed["requests"][0]["message"], "Kết bạn nhé");
    let id = sent["request"]["id"].as_str().unwrap();
    // Only the recipient answers; to anyone else the request does not exist.
    let (status, _) = server.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(&chi), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(&an), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the sender cannot accept their own request");
    let (status, accepted) = server.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(&binh), json!({})).await;
    assert_eq!((status, accepted["became_friends"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(an_socket.next_of("friend.accepted").await["friend"]["username"], "binh.tran");
    let (status, body) = server.post(&format!("/api/v1/friend-requests/{id}/decline"), Some(&binh), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("request_not_pending")));
    let (_, friends) = server.get("/api/v1/friends", &an).await;
    assert_eq!(friends["friends"][0]["profile"]["username"], "binh.tran");
    assert_eq!(friends["friends"][0]["presence"]["online"], true, "friends see each other's presence");

    // Asking someone who asked you makes you friends; cancelling is announced.
    server.post("/api/v1/friend-requests", Some(&chi), json!({"user_id": an.id})).await;
    let (status, crossed) = server.post("/api/v1/friend-requests", Some(&an), json!({"user_id": chi.id})).await;
    assert_eq!((status, crossed["became_friends"].as_bool()), (StatusCode::OK, Some(true)));
    let (status, body) = server.post("/api/v1/friend-requests", Some(&an), json!({"user_id": chi.id})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_friends")));
    assert_eq!(
        server.request(Method::DELETE, &format!("/api/v1/friends/{}", chi.id), Some(&an), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, again) = server.post("/api/v1/friend-requests", Some(&an), json!({"user_id": chi.id})).await;
    let again_id = again["request"]["id"].as_str().unwrap();
    let mut chi_socket = server.connect(&chi).await;
    server.post(&format!("/api/v1/friend-requests/{again_id}/cancel"), Some(&an), json!({})).await;
    assert_eq!(chi_socket.next_of("friend.request_cancelled").await["request"]["status"], "cancelled");

    // At most 30 requests a day.
    let mut refused = None;
    for n in 0..31 {
        let stranger = server.register(&format!("nguoi.la.{n}")).await;
        let (status, body) = server.post("/api/v1/friend-requests", Some(&binh), json!({"user_id": stranger.id})).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((n, body["error"]["code"].clone()));
            break;
        }
    }
    // Binh has sent none before (An asked Binh), so exactly the 31st is refused.
    assert_eq!(refused, Some((30, json!("rate_limited"))));
}
