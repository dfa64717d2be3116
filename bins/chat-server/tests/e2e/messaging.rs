//! Sending, delivery to every session, sync, idempotency, rate limits, edit/recall window.

use chat_core::app::Limits;
use chat_core::domain::Duration;
use chat_http::HttpConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Store, TestServer, User};

on_every_store!(
    a_message_reaches_every_session_of_every_member,
    reconnect_and_sync_returns_exactly_the_missed_messages,
    a_retried_client_msg_id_returns_the_original,
    the_61st_message_in_a_minute_is_refused_and_not_stored,
    edit_and_recall_close_after_24_hours,
    recall_leaves_a_tombstone_and_reactions_are_one_per_user,
    unread_counts_follow_read_marks,
    edits_and_recalls_made_while_offline_are_replayed_by_sync
);

async fn a_message_reaches_every_session_of_every_member(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let an_phone = server.login(&an).await;
    let conversation = server.direct(&an, &binh).await;

    let mut an_laptop_socket = server.connect(&an).await;
    let mut an_phone_socket = server.connect(&an_phone).await;
    let mut binh_socket = server.connect(&binh).await;

    an_laptop_socket
        .send(json!({"type": "message.send", "id": 7, "conversation_id": conversation,
                     "client_msg_id": uuid::Uuid::now_v7(), "body": "Chào Bình"}))
        .await;
    let ack = an_laptop_socket.next_of("ack").await;
    assert_eq!(ack["id"], 7);
    assert_eq!(ack["duplicate"], false);
    assert_eq!(ack["message"]["seq"], 1);
    let id = ack["message"]["id"].clone();

    for socket in [&mut an_phone_socket, &mut binh_socket] {
        let event = socket.next_of("message.new").await;
        assert_eq!(event["message"]["id"], id);
        assert_eq!(event["message"]["body"], "Chào Bình");
    }
    // The sending socket got the ack, not a second copy.
    an_laptop_socket.assert_nothing_pending().await;

    // A send over HTTP fans out the same way; the sending session has its response and
    // gets no copy, the sender's other devices do.
    let binh_tablet = server.login(&binh).await;
    let mut binh_tablet_socket = server.connect(&binh_tablet).await;
    let (status, sent) = server.send_text(&binh, &conversation, "Chào An").await;
    assert_eq!(status, StatusCode::CREATED);
    for socket in [&mut an_laptop_socket, &mut an_phone_socket, &mut binh_tablet_socket] {
        let event = socket.next_of("message.new").await;
        assert_eq!(event["message"]["id"], sent["message"]["id"]);
        assert_eq!(event["message"]["seq"], 2);
    }
    binh_socket.assert_nothing_pending().await;
}

async fn reconnect_and_sync_returns_exactly_the_missed_messages(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;

    let mut binh_socket = server.connect(&binh).await;
    for text in ["một", "hai"] {
        server.send_text(&an, &conversation, text).await;
        binh_socket.next_of("message.new").await;
    }
    drop(binh_socket);
    for text in ["ba", "bốn", "năm"] {
        assert_eq!(server.send_text(&an, &conversation, text).await.0, StatusCode::CREATED);
    }

    let mut binh_socket = server.connect(&binh).await;
    binh_socket.send(json!({"type": "sync", "id": "s1", "since": {conversation.clone(): 2}})).await;
    let mut replayed = Vec::new();
    let ack = loop {
        let frame = binh_socket.next().await;
        match frame["type"].as_str() {
            Some("message.new") => replayed.push((frame["message"]["seq"].as_u64(), frame["message"]["body"].clone())),
            Some("ack") => break frame,
            _ => panic!("unexpected frame {frame}"),
        }
    };
    assert_eq!(replayed, vec![(Some(3), json!("ba")), (Some(4), json!("bốn")), (Some(5), json!("năm"))]);
    assert_eq!(ack["id"], "s1");
    assert_eq!(
        ack["conversations"],
        json!([{"conversation_id": conversation, "last_seq": 5, "last_change_seq": 0, "truncated": false}])
    );
}

async fn a_retried_client_msg_id_returns_the_original(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let payload = json!({"client_msg_id": uuid::Uuid::now_v7(), "body": "chỉ một lần"});

    let (first_status, first) = server.post(&path, Some(&an), payload.clone()).await;
    let (retry_status, retry) = server.post(&path, Some(&an), payload.clone()).await;
    assert_eq!((first_status, retry_status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["message"], retry["message"]);

    let mut socket = server.connect(&an).await;
    let mut frame = payload.clone();
    frame["type"] = json!("message.send");
    frame["conversation_id"] = json!(conversation);
    socket.send(frame).await;
    let ack = socket.next().await;
    assert_eq!(ack["duplicate"], true);
    assert_eq!(ack["message"]["id"], first["message"]["id"]);

    let (_, history) = server.get(&path, &an).await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
}

async fn the_61st_message_in_a_minute_is_refused_and_not_stored(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    for n in 1..=60 {
        let (status, body) = server.send_text(&an, &conversation, &format!("tin {n}")).await;
        assert_eq!(status, StatusCode::CREATED, "message {n}: {body}");
    }
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth(&an.token)
        .json(&json!({"client_msg_id": uuid::Uuid::now_v7(), "body": "tin 61"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["retry_after_ms"], 1000);

    // Over the socket: an error frame with retry_after_ms, and the socket stays usable.
    let mut socket = server.connect(&an).await;
    socket
        .send(json!({"type": "message.send", "id": 1, "conversation_id": conversation, "client_msg_id": uuid::Uuid::now_v7(), "body": "tin 61"}))
        .await;
    let error = socket.next().await;
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str(), error["id"].as_i64()),
        (Some("error"), Some("rate_limited"), Some(1))
    );
    assert_eq!(error["retry_after_ms"], 1000);

    let (_, history) = server.get(&format!("{path}?limit=200"), &an).await;
    let seqs: Vec<u64> = history["messages"].as_array().unwrap().iter().filter_map(|m| m["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<u64>>(), "nothing of the refused sends was stored");

    // One second later, one more fits.
    server.clock.advance(Duration::seconds(1));
    assert_eq!(server.send_text(&an, &conversation, "tin 61").await.0, StatusCode::CREATED);
}

async fn edit_and_recall_close_after_24_hours(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let (_, first) = server.send_text(&an, &conversation, "gửi nhầm").await;
    let (_, second) = server.send_text(&an, &conversation, "bản nháp").await;
    let first_path = format!("/api/v1/messages/{}", first["message"]["id"].as_str().unwrap());
    let second_path = format!("/api/v1/messages/{}", second["message"]["id"].as_str().unwrap());

    // Binh may not edit An's message.
    let (status, body) =
        server.request(reqwest::Method::PATCH, &first_path, Some(&binh), Some(json!({"body": "x"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_sender")));

    server.clock.advance(Duration::hours(23));
    let an = server.login(&an).await; // the old access token expired meanwhile
    let (status, edited) =
        server.request(reqwest::Method::PATCH, &first_path, Some(&an), Some(json!({"body": "đã sửa"}))).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["message"]["body"], "đã sửa");
    assert!(edited["message"]["edited_at"].is_string());

    server.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let an = server.login(&an).await;
    let binh = server.login(&binh).await;
    let (status, body) =
        server.request(reqwest::Method::PATCH, &first_path, Some(&an), Some(json!({"body": "muộn"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("edit_window_closed")));
    let recall = format!("{second_path}?for=everyone");
    let (status, body) = server.request(reqwest::Method::DELETE, &recall, Some(&an), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("edit_window_closed")));

    // Delete-for-me has no window and hides only from the one who deleted.
    let (status, _) = server.request(reqwest::Method::DELETE, &second_path, Some(&an), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let history = format!("/api/v1/conversations/{conversation}/messages");
    let (_, mine) = server.get(&history, &an).await;
    let (_, theirs) = server.get(&history, &binh).await;
    assert_eq!(mine["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(theirs["messages"].as_array().map(Vec::len), Some(2));
}

async fn recall_leaves_a_tombstone_and_reactions_are_one_per_user(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let mut binh_socket = server.connect(&binh).await;
    let (_, sent) = server.send_text(&an, &conversation, "thu hồi tôi").await;
    binh_socket.next_of("message.new").await;
    let path = format!("/api/v1/messages/{}", sent["message"]["id"].as_str().unwrap());

    for emoji in ["👍", "❤️"] {
        let (status, reacted) = server
            .request(reqwest::Method::PUT, &format!("{path}/reactions"), Some(&binh), Some(json!({"emoji": emoji})))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reacted["message"]["reactions"], json!([{"user_id": binh.id, "emoji": emoji}]));
    }
    let (status, recalled) =
        server.request(reqwest::Method::DELETE, &format!("{path}?for=everyone"), Some(&an), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(recalled["message"]["body"], serde_json::Value::Null);
    assert!(recalled["message"]["recalled_at"].is_string());
    // Binh's other devices would see both reactions go by; here the one socket sees the last
    // change, the recall, with the body gone.
    let update = loop {
        let frame = binh_socket.next_of("message.updated").await;
        if frame["change"] == "recalled" {
            break frame;
        }
    };
    assert_eq!(update["message"]["body"], serde_json::Value::Null);
    let (status, body) = server
        .request(reqwest::Method::PUT, &format!("{path}/reactions"), Some(&binh), Some(json!({"emoji": "😮"})))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::GONE, Some("message_recalled")));
}

async fn unread_counts_follow_read_marks(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let mut an_socket = server.connect(&an).await;
    for n in 1..=3 {
        server.send_text(&an, &conversation, &format!("tin {n}")).await;
    }
    let unread = |page: &serde_json::Value| page["conversations"][0]["unread_count"].as_u64();
    assert_eq!(unread(&server.get("/api/v1/conversations", &binh).await.1), Some(3));
    assert_eq!(unread(&server.get("/api/v1/conversations", &an).await.1), Some(0));

    let read = format!("/api/v1/conversations/{conversation}/read");
    let (_, mark) = server.post(&read, Some(&binh), json!({"seq": 2})).await;
    assert_eq!(mark["seq"], 2);
    let receipt = an_socket.next_of("receipt").await;
    assert_eq!(
        (receipt["kind"].as_str(), receipt["seq"].as_u64(), receipt["user_id"].as_str()),
        (Some("read"), Some(2), Some(binh.id.as_str()))
    );
    assert_eq!(unread(&server.get("/api/v1/conversations", &binh).await.1), Some(1));

    // Marks never pass the last message, and never go back.
    assert_eq!(server.post(&read, Some(&binh), json!({"seq": 999})).await.1["seq"], 3);
    assert_eq!(server.post(&read, Some(&binh), json!({"seq": 1})).await.1["seq"], 3);
    assert_eq!(unread(&server.get("/api/v1/conversations", &binh).await.1), Some(0));
}

on_every_store!(presence_follows_friendship_and_privacy_settings);

async fn presence_follows_friendship_and_privacy_settings(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let contact = server.register("dong.nghiep").await;
    let stranger = server.register("nguoi.la").await;
    server.befriend(&an, &binh).await;
    server.direct(&an, &contact).await;
    let mut binh_socket = server.connect(&binh).await;
    let mut contact_socket = server.connect(&contact).await;

    let an_socket = server.connect(&an).await;
    let online = binh_socket.next_of("presence").await;
    assert_eq!(online, json!({"type": "presence", "user_id": an.id, "online": true, "last_seen": null}));
    let query = format!("/api/v1/presence?user_ids={},{}", an.id, stranger.id);
    let (status, seen) = server.get(&query, &binh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        seen["presence"],
        json!([{"user_id": an.id, "online": true, "last_seen": null}]),
        "the stranger is left out"
    );
    // By default only friends see presence: a conversation contact does not, nor a stranger.
    for outsider in [&contact, &stranger] {
        let (_, hidden) = server.get(&format!("/api/v1/presence?user_ids={}", an.id), outsider).await;
        assert_eq!(hidden["presence"], json!([]));
    }
    contact_socket.assert_nothing_pending_of(&["presence"]).await;

    // A second device changes nothing; closing the last one announces the user offline.
    let an_phone = server.login(&an).await;
    let phone_socket = server.connect(&an_phone).await;
    drop(phone_socket);
    drop(an_socket);
    let offline = binh_socket.next_of("presence").await;
    assert_eq!((offline["user_id"].as_str(), offline["online"].as_bool()), (Some(an.id.as_str()), Some(false)));
    assert!(offline["last_seen"].is_string());

    // "Nobody" hides it from friends too.
    let nobody = json!({"who_sees_presence": "nobody"});
    server.request(reqwest::Method::PATCH, "/api/v1/me/settings", Some(&an), Some(nobody)).await;
    let (_, hidden) = server.get(&format!("/api/v1/presence?user_ids={}", an.id), &binh).await;
    assert_eq!(hidden["presence"], json!([]));
}

on_every_store!(heartbeats_keep_a_socket_online_past_the_presence_ttl);

async fn heartbeats_keep_a_socket_online_past_the_presence_ttl(store: Store) {
    // Heartbeats are renewed in batches; a short flush keeps the test quick. The test never
    // waits for the wall clock: a flush shows itself by announcing a user it brought back.
    let config = HttpConfig { heartbeat_flush_interval: std::time::Duration::from_millis(20), ..HttpConfig::default() };
    let server = TestServer::start_with(store, Limits::default(), config).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let chau = server.register("chau").await;
    let dung = server.register("dung").await;
    for friend in [&an, &chau, &dung] {
        server.befriend(friend, &binh).await;
    }
    // Dũng's socket opens at 0 s, An's and Châu's at 20 s: online until 40 s and 60 s (TTL 40 s).
    let mut dung_socket = server.connect(&dung).await;
    server.clock.advance(Duration::seconds(20));
    let mut an_socket = server.connect(&an).await;
    let _chau_socket = server.connect(&chau).await;
    // Bình connects last, so no presence event of the connections above reaches him.
    let mut binh_socket = server.connect(&binh).await;

    // 45 s in, An beats, then Dũng, whose session lapsed at 40 s (no sweeper runs here).
    // Both are answered at once; Bình hearing that Dũng came back online shows that the
    // batch holding An's earlier heartbeat has been flushed, at 45 s.
    server.clock.advance(Duration::seconds(25));
    an_socket.send(json!({"type": "heartbeat", "id": 1})).await;
    assert_eq!(an_socket.next_of("heartbeat.ack").await["id"], 1, "answered at once");
    dung_socket.send(json!({"type": "heartbeat", "id": 2})).await;
    assert_eq!(dung_socket.next_of("heartbeat.ack").await["id"], 2);
    let back = binh_socket.next_of("presence").await;
    assert_eq!((back["user_id"].as_str(), back["online"].as_bool()), (Some(dung.id.as_str()), Some(true)), "{back}");

    // 70 s in: past the TTL of An's socket as opened (60 s), inside the renewed one (85 s).
    server.clock.advance(Duration::seconds(25));
    let online = |presence: &Value, user: &User| {
        presence["presence"].as_array().unwrap().iter().any(|p| p["user_id"] == user.id && p["online"] == true)
    };
    let (_, seen) = server.get(&format!("/api/v1/presence?user_ids={},{}", an.id, chau.id), &binh).await;
    assert!(online(&seen, &an), "An's heartbeat renewed the session: {seen}");
    assert!(!online(&seen, &chau), "Châu sent none and expired: {seen}");
}

async fn edits_and_recalls_made_while_offline_are_replayed_by_sync(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let (_, first) = server.send_text(&an, &conversation, "gửi nhầm người").await;
    let (_, second) = server.send_text(&an, &conversation, "hẹn 7 giờ").await;
    // Binh's phone has both messages, then goes offline.
    let message = |sent: &serde_json::Value| sent["message"]["id"].as_str().unwrap().to_owned();
    let (first, second) = (message(&first), message(&second));
    server
        .request(
            reqwest::Method::PATCH,
            &format!("/api/v1/messages/{second}"),
            Some(&an),
            Some(json!({"body": "hẹn 8 giờ"})),
        )
        .await;
    server.request(reqwest::Method::DELETE, &format!("/api/v1/messages/{first}?for=everyone"), Some(&an), None).await;
    server.send_text(&an, &conversation, "nhớ nhé").await;

    let mut socket = server.connect(&binh).await;
    let since = json!({"type": "sync", "id": "s", "since": {conversation.clone(): 2}, "changes_since": {conversation.clone(): 0}});
    socket.send(since).await;
    let mut frames = Vec::new();
    let ack = loop {
        let frame = socket.next().await;
        if frame["type"] == "ack" {
            break frame;
        }
        frames.push((
            frame["type"].clone(),
            frame["change"].clone(),
            frame["message"]["id"].clone(),
            frame["message"]["body"].clone(),
        ));
    };
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(frames[0].0, "message.new");
    assert_eq!(frames[1], (json!("message.updated"), json!("edited"), json!(second), json!("hẹn 8 giờ")));
    assert_eq!(frames[2], (json!("message.updated"), json!("recalled"), json!(first), serde_json::Value::Null));
    assert_eq!(ack["conversations"][0]["last_change_seq"], 2);
}
