//! Input the rules refuse the same way on every store: control characters (NUL above all,
//! which Postgres cannot store), invisible-only messages, page sizes out of range, and phone
//! numbers read with libphonenumber's metadata.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Store, TestServer, User};

on_every_store!(
    nul_bodies_are_refused_over_http_and_the_socket_without_storing_or_burning_quota,
    nul_in_profile_search_titles_and_requests_is_refused,
    a_body_of_zero_width_characters_is_empty,
    page_sizes_out_of_range_are_refused_and_a_missing_one_is_the_default,
    landlines_in_local_form_register_and_are_stored_in_e164
);

/// The status and error code of an answer.
fn refusal(answer: (StatusCode, Value)) -> (StatusCode, Option<String>) {
    (answer.0, answer.1["error"]["code"].as_str().map(str::to_owned))
}

fn bad_request(code: &str) -> (StatusCode, Option<String>) {
    (StatusCode::BAD_REQUEST, Some(code.to_owned()))
}

async fn history(server: &TestServer, user: &User, conversation: &str) -> Vec<Value> {
    let (status, page) = server.get(&format!("/api/v1/conversations/{conversation}/messages"), user).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["messages"].as_array().unwrap().clone()
}

async fn nul_bodies_are_refused_over_http_and_the_socket_without_storing_or_burning_quota(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    let mut socket = server.connect(&an).await;

    // 61 refused sends, more than the 60 a minute the limiter lets through: had any of them
    // counted, the valid message after them would be answered 429.
    for n in 0..31 {
        let answer = server.send_text(&an, &conversation, &format!("tin\u{0} {n}")).await;
        assert_eq!(refusal(answer), bad_request("invalid_characters"), "HTTP send {n}");
    }
    for n in 0..30 {
        socket
            .send(json!({"type": "message.send", "id": n, "conversation_id": conversation,
                         "client_msg_id": uuid::Uuid::now_v7(), "body": format!("\u{0}{n}")}))
            .await;
        let error = socket.next_of("error").await;
        assert_eq!((&error["id"], &error["code"]), (&json!(n), &json!("invalid_characters")), "{error}");
    }
    // Other C0 and C1 controls go the same way; tabs and new lines are text.
    for body in ["a\u{7}b", "a\u{1B}[2Jb", "a\u{85}b"] {
        assert_eq!(refusal(server.send_text(&an, &conversation, body).await), bad_request("invalid_characters"));
    }
    assert!(history(&server, &an, &conversation).await.is_empty(), "nothing refused was stored");

    let (status, sent) = server.send_text(&an, &conversation, "dòng 1\r\n\tdòng 2").await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["message"]["body"], "dòng 1\r\n\tdòng 2");
    assert_eq!(sent["message"]["seq"], 1);

    // An edit is held to the same rule, and the stored body stays as it was.
    let id = sent["message"]["id"].as_str().unwrap();
    let edit = json!({"body": "sửa\u{0}"});
    let answer = server.request(Method::PATCH, &format!("/api/v1/messages/{id}"), Some(&an), Some(edit)).await;
    assert_eq!(refusal(answer), bad_request("invalid_characters"));
    let messages = history(&server, &an, &conversation).await;
    assert_eq!(messages.len(), 1);
    assert_eq!((&messages[0]["body"], &messages[0]["edited_at"]), (&json!("dòng 1\r\n\tdòng 2"), &Value::Null));
}

async fn nul_in_profile_search_titles_and_requests_is_refused(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;

    let patch = |body: Value| server.request(Method::PATCH, "/api/v1/me", Some(&an), Some(body));
    assert_eq!(refusal(patch(json!({"bio": "Hà\u{0}Nội"})).await), bad_request("invalid_characters"));
    assert_eq!(refusal(patch(json!({"display_name": "An\u{0}"})).await), bad_request("invalid_characters"));
    assert_eq!(refusal(patch(json!({"display_name": "\u{200B}\u{FEFF}"})).await), bad_request("invalid_display_name"));
    let (status, me) = patch(json!({"bio": "Hà Nội\nSài Gòn"})).await;
    assert_eq!((status, &me["bio"]), (StatusCode::OK, &json!("Hà Nội\nSài Gòn")), "a bio keeps its lines");
    assert_eq!(me["display_name"], "an.le", "the refused names changed nothing");

    assert_eq!(refusal(server.get("/api/v1/users/search?q=bi%00nh", &an).await), bad_request("invalid_characters"));
    let (status, found) = server.get("/api/v1/users/search?q=binh", &an).await;
    assert_eq!((status, found["users"][0]["id"].as_str()), (StatusCode::OK, Some(binh.id.as_str())));

    let group = json!({"kind": "group", "title": "Nhóm\u{0}", "member_ids": []});
    assert_eq!(
        refusal(server.post("/api/v1/conversations", Some(&an), group).await),
        bad_request("invalid_characters")
    );

    let request = json!({"user_id": binh.id, "message": "Chào\u{0}"});
    assert_eq!(
        refusal(server.post("/api/v1/friend-requests", Some(&an), request).await),
        bad_request("invalid_characters")
    );
    let (_, pending) = server.get("/api/v1/friend-requests", &binh).await;
    assert_eq!(pending["requests"], json!([]), "the refused request was not stored: {pending}");

    let register = json!({"username": "chi", "password": "mật khẩu 123", "display_name": "Chi\u{0}"});
    assert_eq!(refusal(server.post("/api/v1/auth/register", None, register).await), bad_request("invalid_characters"));
}

async fn a_body_of_zero_width_characters_is_empty(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    for body in ["\u{200B}", "\u{200B}\u{200C}\u{200D}", " \u{2060}\u{FEFF} \n"] {
        assert_eq!(refusal(server.send_text(&an, &conversation, body).await), bad_request("empty_message"), "{body:?}");
    }
    let mut socket = server.connect(&an).await;
    socket
        .send(json!({"type": "message.send", "id": "zw", "conversation_id": conversation,
                     "client_msg_id": uuid::Uuid::now_v7(), "body": "\u{200B}\u{FEFF}"}))
        .await;
    let error = socket.next_of("error").await;
    assert_eq!((&error["id"], &error["code"]), (&json!("zw"), &json!("empty_message")), "{error}");
    assert!(history(&server, &an, &conversation).await.is_empty());
    // A zero-width joiner inside visible text is text (it joins emoji).
    let (status, _) = server.send_text(&an, &conversation, "👨\u{200D}👩").await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn page_sizes_out_of_range_are_refused_and_a_missing_one_is_the_default(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let conversation = server.direct(&an, &binh).await;
    server.send_text(&an, &conversation, "một").await;

    for limit in [0, 101] {
        let (status, body) = server.get(&format!("/api/v1/conversations?limit={limit}"), &an).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_limit")),
            "{limit}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains("between 1 and 100"), "{body}");
    }
    for path in ["/api/v1/conversations", "/api/v1/conversations?limit=1", "/api/v1/conversations?limit=100"] {
        let (status, page) = server.get(path, &an).await;
        assert_eq!((status, page["conversations"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{path}");
    }

    let messages = format!("/api/v1/conversations/{conversation}/messages");
    for limit in [0, 201] {
        let (status, body) = server.get(&format!("{messages}?limit={limit}"), &an).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_limit")),
            "{limit}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains("between 1 and 200"), "{body}");
    }
    for path in [messages.clone(), format!("{messages}?limit=200"), format!("{messages}?limit=1&after_seq=0")] {
        let (status, page) = server.get(&path, &an).await;
        assert_eq!((status, page["messages"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{path}");
    }
}

async fn landlines_in_local_form_register_and_are_stored_in_e164(store: Store) {
    let server = TestServer::start(store).await;
    let register = |username: &str, phone: &str| {
        let body = json!({"username": username, "password": "mật khẩu 123", "display_name": username, "phone": phone});
        server.post("/api/v1/auth/register", None, body)
    };
    let (status, registered) = register("hanoi.office", "024 3825 1234").await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let office = User {
        id: registered["user"]["id"].as_str().unwrap().to_owned(),
        username: "hanoi.office".to_owned(),
        token: registered["access_token"].as_str().unwrap().to_owned(),
        refresh_token: registered["refresh_token"].as_str().unwrap().to_owned(),
    };
    let (_, me) = server.get("/api/v1/me", &office).await;
    assert_eq!(me["phone"], "+842438251234");

    // The same number in international form is the same number.
    assert_eq!(
        refusal(register("other.office", "+84 24 3825 1234").await),
        (StatusCode::CONFLICT, Some("phone_taken".into()))
    );
    // Wrong length for Vietnam, an unassigned range, a NUL: refused with the phone's code.
    for phone in ["024 3825 123", "024 1825 1234", "0992 345 678", "0912\u{0}345678"] {
        assert_eq!(refusal(register("other.office", phone).await), bad_request("invalid_phone"), "{phone:?}");
    }
    let (status, mobile) = register("saigon.mobile", "0912 345 678").await;
    assert_eq!(status, StatusCode::CREATED, "{mobile}");
    let binh = server.register("binh").await;
    let (status, _) = server
        .request(Method::PATCH, "/api/v1/me/settings", Some(&office), Some(json!({"discoverable_by_phone": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, found) = server.get("/api/v1/users/by-phone?phone=024%203825%201234", &binh).await;
    assert_eq!((status, found["id"].as_str()), (StatusCode::OK, Some(office.id.as_str())), "{found}");
    // Contact sync still skips what does not parse instead of refusing the whole book.
    let book = json!({"phones": ["(024) 3825-1234", "024 1825 1234", "not a number", "0912\u{0}345678"]});
    let (status, synced) = server.post("/api/v1/contacts/sync", Some(&binh), book).await;
    assert_eq!(status, StatusCode::OK, "{synced}");
    assert_eq!(synced["matches"].as_array().map(Vec::len), Some(1), "{synced}");
    assert_eq!(synced["matches"][0]["phone"], "(024) 3825-1234");
}
