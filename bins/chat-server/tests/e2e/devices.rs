//! Push registrations over HTTP, on both stores: register, list, remove, a token moving to the
//! newest login, and logout taking the session's devices with it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Store, TestServer, User};

on_every_store!(devices_follow_their_sessions, bad_registrations_are_refused);

async fn register(server: &TestServer, user: &User, token: &str) -> Value {
    let body = json!({"platform": "android", "token": token, "locale": "en"});
    let (status, device) = server.post("/api/v1/devices", Some(user), body).await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    device["device"].clone()
}

async fn device_ids(server: &TestServer, user: &User) -> Vec<String> {
    let (status, list) = server.get("/api/v1/devices", user).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["devices"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

async fn devices_follow_their_sessions(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let an_tablet = server.login(&an).await;
    let binh = server.register("binh").await;

    let phone = register(&server, &an, "fcm-token-phone").await;
    assert_eq!((phone["platform"].as_str(), phone["locale"].as_str()), (Some("android"), Some("en")));
    assert_eq!(phone["current"], true);
    let tablet = register(&server, &an_tablet, "fcm-token-tablet").await;
    assert_eq!(device_ids(&server, &an).await, [phone["id"].as_str().unwrap(), tablet["id"].as_str().unwrap()]);

    // Someone else's device looks like no device at all.
    let path = format!("/api/v1/devices/{}", phone["id"].as_str().unwrap());
    let (status, body) = server.request(Method::DELETE, &path, Some(&binh), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("device_not_found")));

    // Binh logs in on An's old phone: the token is his now, and An no longer gets its pushes.
    let moved = register(&server, &binh, "fcm-token-phone").await;
    assert_eq!(moved["id"], phone["id"], "one registration per token");
    assert_eq!(device_ids(&server, &an).await, [tablet["id"].as_str().unwrap()]);
    assert_eq!(device_ids(&server, &binh).await.len(), 1);

    // Logging out of the tablet removes its registration.
    let (status, _) = server.post("/api/v1/auth/logout", Some(&an_tablet), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(device_ids(&server, &an).await.is_empty());

    // A device is removed by its owner.
    let (status, _) = server.request(Method::DELETE, &path, Some(&binh), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(device_ids(&server, &binh).await.is_empty());
}

async fn bad_registrations_are_refused(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    for (body, code) in [
        (json!({"platform": "android", "token": ""}), "invalid_push_token"),
        (json!({"platform": "android", "token": "a b"}), "invalid_push_token"),
        (json!({"platform": "android", "token": "x".repeat(4097)}), "invalid_push_token"),
    ] {
        let (status, refused) = server.post("/api/v1/devices", Some(&an), body).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)));
    }
    let (status, _) = server.post("/api/v1/devices", Some(&an), json!({"platform": "symbian", "token": "t"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(device_ids(&server, &an).await.is_empty(), "nothing half-registered");
}
