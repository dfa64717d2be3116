//! The WebSocket gateway's edges: auth, bad frames, size limit, origins, slow consumers,
//! shutdown, and what non-members get.

use chat_core::app::Limits;
use chat_core::domain::rate_limit::Quota;
use chat_http::{HttpConfig, close_code};
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{Ending, Socket, Store, TestServer};

on_every_store!(
    a_frame_over_64_kib_closes_with_1009,
    bad_frames_get_an_error_and_the_socket_stays_usable,
    authentication_is_required_and_checked,
    logging_out_closes_the_sessions_sockets,
    only_configured_origins_may_connect,
    non_members_get_404_everywhere,
    a_slow_consumer_is_closed_without_holding_up_others,
    shutdown_flushes_and_closes_sockets_with_1001,
    typing_is_throttled_per_conversation
);

fn ws_url(server: &TestServer) -> String {
    format!("{}/ws", server.base.replacen("http", "ws", 1))
}

async fn a_frame_over_64_kib_closes_with_1009(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let mut socket = server.connect(&an).await;
    let huge = json!({"type": "heartbeat", "padding": "x".repeat(65 * 1024)});
    socket.stream.send(Message::text(huge.to_string())).await.unwrap();
    assert_eq!(socket.ending().await, Ending::Closed(Some(close_code::MESSAGE_TOO_BIG)));
}

async fn bad_frames_get_an_error_and_the_socket_stays_usable(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let mut socket = server.connect(&an).await;

    socket.stream.send(Message::text("{not json")).await.unwrap();
    assert_eq!(socket.next().await["code"], "invalid_json");
    socket.send(json!({"type": "dance", "id": "d"})).await;
    let error = socket.next().await;
    assert_eq!((error["code"].as_str(), error["id"].as_str()), (Some("unknown_type"), Some("d")));
    socket.send(json!({"type": "message.send", "conversation_id": "not-a-uuid"})).await;
    assert_eq!(socket.next().await["code"], "invalid_frame");

    socket.send(json!({"type": "heartbeat", "id": 42})).await;
    let ack = socket.next().await;
    assert_eq!((ack["type"].as_str(), ack["id"].as_i64()), (Some("heartbeat.ack"), Some(42)));

    // A close the client starts is answered with a close, not a dropped connection.
    socket.stream.close(None).await.unwrap();
    assert!(matches!(socket.ending().await, Ending::Closed(_)));
}

async fn authentication_is_required_and_checked(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;

    let (stream, _) = tokio_tungstenite::connect_async(ws_url(&server)).await.unwrap();
    let mut socket = Socket { stream };
    socket.send(json!({"type": "auth", "token": "forged"})).await;
    assert_eq!(socket.next().await["code"], "invalid_token");
    assert_eq!(socket.ending().await, Ending::Closed(Some(close_code::UNAUTHORIZED)));

    let (stream, _) = tokio_tungstenite::connect_async(ws_url(&server)).await.unwrap();
    let mut socket = Socket { stream };
    socket.send(json!({"type": "heartbeat"})).await;
    assert_eq!(socket.next().await["code"], "auth_required");

    let (stream, _) = tokio_tungstenite::connect_async(ws_url(&server)).await.unwrap();
    let mut socket = Socket { stream };
    socket.stream.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(socket.next().await["code"], "auth_required");
    assert_eq!(socket.ending().await, Ending::Closed(Some(close_code::UNAUTHORIZED)));

    // The token may come with the upgrade instead; a bad one is refused before upgrading.
    let url = format!("{}?token={}", ws_url(&server), an.token);
    let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut socket = Socket { stream };
    assert_eq!(socket.next().await["type"], "ready");
    let refused = tokio_tungstenite::connect_async(format!("{}?token=forged", ws_url(&server))).await;
    assert!(refused.is_err());
}

async fn logging_out_closes_the_sessions_sockets(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let an_phone = server.login(&an).await;
    let mut laptop = server.connect(&an).await;
    let mut phone = server.connect(&an_phone).await;

    let (status, _) = server.post("/api/v1/auth/logout", Some(&an), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(laptop.ending().await, Ending::Closed(Some(close_code::UNAUTHORIZED)));
    phone.assert_nothing_pending().await;
    assert_eq!(server.get("/api/v1/me", &an).await.0, StatusCode::UNAUTHORIZED);

    let (status, _) = server.post("/api/v1/auth/logout", Some(&an_phone), json!({"all": true})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(phone.ending().await, Ending::Closed(Some(close_code::UNAUTHORIZED)));
}

async fn only_configured_origins_may_connect(store: Store) {
    let config = HttpConfig { allowed_origins: vec!["https://chat.example.vn".into()], ..HttpConfig::default() };
    let server = TestServer::start_with(store, Limits::default(), config).await;
    let connect_from = |origin: &'static str| {
        let mut request = ws_url(&server).into_client_request().unwrap();
        request.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    assert!(connect_from("https://evil.example").await.is_err());
    assert!(connect_from("https://chat.example.vn").await.is_ok());
}

async fn non_members_get_404_everywhere(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let chi = server.register("chi").await;
    let conversation = server.direct(&an, &binh).await;
    let (_, sent) = server.send_text(&an, &conversation, "riêng tư").await;
    let message = sent["message"]["id"].as_str().unwrap();

    let reads =
        [format!("/api/v1/conversations/{conversation}"), format!("/api/v1/conversations/{conversation}/messages")];
    for path in reads {
        let (status, body) = server.get(&path, &chi).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _) = server.send_text(&chi, &conversation, "xen vào").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .request(reqwest::Method::PATCH, &format!("/api/v1/messages/{message}"), Some(&chi), Some(json!({"body": "x"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/messages/{message}/reactions"),
            Some(&chi),
            Some(json!({"emoji": "👍"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        server.post(&format!("/api/v1/conversations/{conversation}/read"), Some(&chi), json!({"seq": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Malformed ids look the same as unknown ones.
    assert_eq!(server.get("/api/v1/conversations/123", &chi).await.0, StatusCode::NOT_FOUND);

    let mut socket = server.connect(&chi).await;
    socket
        .send(json!({"type": "message.send", "id": 1, "conversation_id": conversation, "client_msg_id": uuid::Uuid::now_v7(), "body": "xen vào"}))
        .await;
    assert_eq!(socket.next().await["code"], "conversation_not_found");
    socket.send(json!({"type": "typing", "id": 2, "conversation_id": conversation})).await;
    assert_eq!(socket.next().await["code"], "conversation_not_found");
    socket.send(json!({"type": "sync", "id": 3, "since": {}})).await;
    assert_eq!(socket.next().await["conversations"], json!([]));

    let (_, history) = server.get(&format!("/api/v1/conversations/{conversation}/messages"), &an).await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1), "nothing from chi was stored");
}

async fn a_slow_consumer_is_closed_without_holding_up_others(store: Store) {
    let limits = Limits { chat: Quota::per_minute(100_000), ..Limits::default() };
    // The stalled socket's task blocks in a write until the test reads; give it time, so the
    // queue overflow, not the write timeout, is what ends it.
    let config =
        HttpConfig { outbound_queue: 8, write_timeout: std::time::Duration::from_secs(300), ..HttpConfig::default() };
    let server = TestServer::start_with(store, limits, config).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let mut reader = server.connect(&binh).await;
    let binh_phone = server.login(&binh).await;
    let mut stalled = server.connect(&binh_phone).await;

    // `stalled` never reads: once the kernel's socket buffers fill (a few MB on loopback),
    // its queue of 8 overflows. ~12 KB per message, 1,500 messages: ~18 MB.
    let body = "ệ".repeat(3900);
    for seq in 1..=1500u64 {
        let (status, _) = server.send_text(&an, &conversation, &body).await;
        assert_eq!(status, StatusCode::CREATED);
        // The reading device keeps up and is never cut off.
        assert_eq!(reader.next_of("message.new").await["message"]["seq"], seq);
    }
    let ending = stalled.ending().await;
    assert_eq!(ending, Ending::Closed(Some(close_code::SLOW_CONSUMER)));
}

async fn shutdown_flushes_and_closes_sockets_with_1001(store: Store) {
    let mut server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let mut socket = server.connect(&an).await;
    server.shutdown();
    assert_eq!(socket.ending().await, Ending::Closed(Some(close_code::GOING_AWAY)));
    server.stopped.take().unwrap().await.unwrap();
}

async fn typing_is_throttled_per_conversation(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let mut an_socket = server.connect(&an).await;
    let mut binh_socket = server.connect(&binh).await;
    // The clock stands still: of 15 indicators at once, the first 10 go through.
    for n in 0..15 {
        let mut frame = json!({"type": "typing", "conversation_id": conversation});
        if n == 14 {
            frame["id"] = json!("last");
        }
        an_socket.send(frame).await;
    }
    assert_eq!(an_socket.next_of("ack").await["id"], "last", "every indicator was handled");
    for _ in 0..10 {
        binh_socket.next_of("typing").await;
    }
    binh_socket.assert_nothing_pending_of(&["typing"]).await;
}
