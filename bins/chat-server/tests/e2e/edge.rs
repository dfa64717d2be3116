//! The HTTP edge: the framework's own refusals in the error envelope, and the headers every
//! response (or every token response) carries.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{Store, TestServer};

/// Sends a request with raw headers; returns the status, the headers and the body as JSON
/// (`Null` when it is not JSON).
async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    headers: &[(String, String)],
) -> (StatusCode, header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", server.base));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_envelope(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "envelope with code {code}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {body}");
}

fn assert_nosniff(headers: &header::HeaderMap, what: &str) {
    assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.to_str().unwrap()), Some("nosniff"), "{what}");
}

#[tokio::test]
async fn a_method_the_route_does_not_take_is_405_in_the_envelope_with_allow() {
    let server = TestServer::start(Store::Memory).await;
    let (status, headers, body) = send(&server, Method::DELETE, "/health", &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&body, "method_not_allowed");
    assert!(headers.get(header::ALLOW).is_some(), "the Allow header is kept: {headers:?}");
    assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), "application/json");
    let (status, _, body) = send(&server, Method::PATCH, "/api/v1/auth/login", &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&body, "method_not_allowed");
}

#[tokio::test]
async fn too_many_or_too_large_header_fields_are_431_in_the_envelope() {
    let server = TestServer::start(Store::Memory).await;
    let many: Vec<(String, String)> = (0..150).map(|i| (format!("x-field-{i}"), "v".to_owned())).collect();
    let (status, headers, body) = send(&server, Method::GET, "/health", &many).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_envelope(&body, "headers_too_large");
    assert_nosniff(&headers, "a 431");
    // Over our 32 KiB, under hyper's 64 KiB read buffer (a head past that gets hyper's bare 431).
    let large = [("x-large".to_owned(), "a".repeat(48 * 1024))];
    let (status, _, body) = send(&server, Method::GET, "/health", &large).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_envelope(&body, "headers_too_large");
    let usual = [("x-usual".to_owned(), "a".repeat(1024))];
    assert_eq!(send(&server, Method::GET, "/health", &usual).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_refused_websocket_upgrade_is_in_the_envelope() {
    let server = TestServer::start(Store::Memory).await;
    let (status, _, body) = send(&server, Method::GET, "/ws", &[]).await;
    assert!(status.is_client_error(), "{status}");
    assert_envelope(&body, "bad_request");
}

#[tokio::test]
async fn every_response_says_nosniff() {
    let server = TestServer::start(Store::Memory).await;
    let (status, headers, _) = send(&server, Method::GET, "/health", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_nosniff(&headers, "/health");
    let (status, headers, body) = send(&server, Method::GET, "/api/v1/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_envelope(&body, "invalid_token");
    assert_nosniff(&headers, "an error");
    let (status, headers, _) = send(&server, Method::GET, "/no/such/route", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_nosniff(&headers, "an unknown route");
    let user = server.register("nosniff").await;
    let response =
        reqwest::Client::new().get(format!("{}/api/v1/me", server.base)).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_nosniff(response.headers(), "a JSON response");
    assert!(response.headers().get(header::CACHE_CONTROL).is_none(), "only token responses are no-store");
}

#[tokio::test]
async fn token_responses_are_not_stored() {
    let server = TestServer::start(Store::Memory).await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(format!("{}{path}", server.base)).json(&body).send();
    let credentials = json!({"username": "khong_luu", "password": "mật khẩu 123"});
    let mut register = credentials.clone();
    register["display_name"] = json!("Không lưu");
    let registered = post("/api/v1/auth/register", register).await.unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    assert_eq!(registered.headers().get(header::CACHE_CONTROL).unwrap(), "no-store", "register");
    let logged_in = post("/api/v1/auth/login", credentials).await.unwrap();
    assert_eq!(logged_in.status(), StatusCode::OK);
    assert_eq!(logged_in.headers().get(header::CACHE_CONTROL).unwrap(), "no-store", "login");
    let tokens: Value = logged_in.json().await.unwrap();
    let refreshed = post("/api/v1/auth/refresh", json!({"refresh_token": tokens["refresh_token"]})).await.unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(refreshed.headers().get(header::CACHE_CONTROL).unwrap(), "no-store", "refresh");
}

#[tokio::test]
async fn a_json_body_must_be_an_object() {
    let server = TestServer::start(Store::Memory).await;
    let an = server.register("an.edge").await;
    // serde reads a struct from an array of its fields; the API takes objects only.
    let (status, body) = server.request(Method::PATCH, "/api/v1/me", Some(&an), Some(json!(["Ân", null]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_envelope(&body, "invalid_request");
    let (status, me) = server.get("/api/v1/me", &an).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["display_name"], "an.edge", "nothing changed: {me}");
    // The same change as an object is taken.
    let (status, body) =
        server.request(Method::PATCH, "/api/v1/me", Some(&an), Some(json!({"display_name": "Ân"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send(&server, Method::POST, "/api/v1/auth/login", &[]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "no content type is still 415: {body}");
}
