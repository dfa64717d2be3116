//! Registration, login, token refresh (rotation and reuse), profiles and settings.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Store, TestServer};

on_every_store!(
    registration_validates_and_refuses_duplicates,
    login_checks_the_password_and_is_rate_limited,
    refresh_tokens_rotate_and_a_replayed_one_revokes_the_session,
    profile_and_settings_round_trip,
    operations_endpoints_answer
);

async fn registration_validates_and_refuses_duplicates(store: Store) {
    let server = TestServer::start(store).await;
    server.register("an.nguyen").await;
    let cases = [
        (
            json!({"username": "an.nguyen", "password": "12345678", "display_name": "An"}),
            StatusCode::CONFLICT,
            "username_taken",
        ),
        (
            json!({"username": "AN.NGUYEN", "password": "12345678", "display_name": "An"}),
            StatusCode::CONFLICT,
            "username_taken",
        ),
        (
            json!({"username": "x", "password": "12345678", "display_name": "An"}),
            StatusCode::BAD_REQUEST,
            "invalid_username",
        ),
        (
            json!({"username": "binh", "password": "short", "display_name": "Bình"}),
            StatusCode::BAD_REQUEST,
            "weak_password",
        ),
        (
            json!({"username": "binh", "password": "12345678", "display_name": " "}),
            StatusCode::BAD_REQUEST,
            "invalid_display_name",
        ),
        (
            json!({"username": "binh", "password": "12345678", "display_name": "Bình", "phone": "12345"}),
            StatusCode::BAD_REQUEST,
            "invalid_phone",
        ),
        (json!({"username": "binh"}), StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = server.post("/api/v1/auth/register", None, body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body}");
    }
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/register", server.base))
        .body("{broken")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"]["code"], "invalid_json");
}

async fn login_checks_the_password_and_is_rate_limited(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let wrong = json!({"username": "an.le", "password": "not the password"});
    let (status, body) = server.post("/api/v1/auth/login", None, wrong.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    let unknown = json!({"username": "nobody", "password": "whatever1"});
    let (status, body) = server.post("/api/v1/auth/login", None, unknown).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));

    server.login(&an).await;
    // 10 attempts per account per 15 minutes: 2 used above (the unknown name has its own
    // budget), 8 more pass, the 11th is refused.
    for _ in 0..8 {
        assert_eq!(server.post("/api/v1/auth/login", None, wrong.clone()).await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = server.post("/api/v1/auth/login", None, wrong).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
}

async fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_session(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let (status, rotated) = server.post("/api/v1/auth/refresh", None, json!({"refresh_token": an.refresh_token})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["refresh_token"], an.refresh_token.as_str());

    // The old token again: a replay. The whole session is revoked, new tokens included.
    let (status, body) = server.post("/api/v1/auth/refresh", None, json!({"refresh_token": an.refresh_token})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("refresh_token_reused")));
    let (status, _) =
        server.post("/api/v1/auth/refresh", None, json!({"refresh_token": rotated["refresh_token"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server.get("/api/v1/me", &an).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("session_revoked")));
}

async fn profile_and_settings_round_trip(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let binh = server.register("binh").await;
    let patch = json!({"display_name": "Nguyễn Văn An", "bio": "Hà Nội", "phone": "+84912345678"});
    let (status, me) = server.request(reqwest::Method::PATCH, "/api/v1/me", Some(&an), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["display_name"].as_str(), me["phone"].as_str()), (Some("Nguyễn Văn An"), Some("+84912345678")));

    // Another account may not take the same phone.
    let taken = json!({"phone": "+84 912 345 678"});
    let (status, body) = server.request(reqwest::Method::PATCH, "/api/v1/me", Some(&binh), Some(taken)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("phone_taken")));

    // Others see the public profile only: no phone, no settings.
    let (status, profile) = server.get(&format!("/api/v1/users/{}", an.id), &binh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["display_name"], "Nguyễn Văn An");
    assert!(profile.get("phone").is_none() && profile.get("settings").is_none());

    let (_, defaults) = server.get("/api/v1/me/settings", &an).await;
    assert_eq!(
        (defaults["who_sees_presence"].as_str(), defaults["discoverable_by_phone"].as_bool()),
        (Some("friends"), Some(false))
    );
    let change = json!({"send_read_receipts": false, "locale": "en"});
    let (status, settings) =
        server.request(reqwest::Method::PATCH, "/api/v1/me/settings", Some(&an), Some(change)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((settings["send_read_receipts"].as_bool(), settings["locale"].as_str()), (Some(false), Some("en")));
    let unknown = json!({"who_can_see_my_diary": "everyone"});
    let (status, _) = server.request(reqwest::Method::PATCH, "/api/v1/me/settings", Some(&an), Some(unknown)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn operations_endpoints_answer(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let (status, ready) = server.get("/ready", &an).await;
    assert_eq!(
        (status, ready["components"]["store"]["adapter"].as_str()),
        (StatusCode::OK, Some(store.adapter_name()))
    );
    let (status, openapi) = server.get("/openapi.json", &an).await;
    assert_eq!(status, StatusCode::OK);
    for path in ["/api/v1/auth/register", "/api/v1/conversations/{id}/messages", "/api/v1/messages/{id}/reactions"] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chat_http_requests_total"), "{metrics}");
}
