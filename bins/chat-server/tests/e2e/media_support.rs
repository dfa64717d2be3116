//! A phone's side of media: asking for an upload, PUTting the bytes where it is told, and
//! following a content redirect, with nothing but a plain HTTP client.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, User};

/// A JPEG as far as the completion check can tell (its magic bytes), padded to `size`.
pub fn jpeg(size: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
    bytes.extend((0..size.saturating_sub(bytes.len())).map(|i| (i % 251) as u8));
    bytes
}

/// An MP4 as far as the completion check can tell, padded to `size`.
pub fn mp4(size: usize) -> Vec<u8> {
    let mut bytes = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41".to_vec();
    bytes.extend((0..size.saturating_sub(bytes.len())).map(|i| (i % 241) as u8));
    bytes
}

/// A client that does not follow redirects, to look at them.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `POST /media/uploads`.
pub async fn request_upload(
    server: &TestServer,
    user: &User,
    kind: &str,
    filename: &str,
    content_type: &str,
    size: usize,
) -> (StatusCode, Value) {
    let body = json!({"kind": kind, "filename": filename, "content_type": content_type, "size": size});
    server.post("/api/v1/media/uploads", Some(user), body).await
}

/// PUTs `bytes` as a presigned request (`{"method", "url", "headers"}`) says; the status and
/// the ETag answered.
pub async fn put(signed: &Value, bytes: Vec<u8>) -> (StatusCode, Option<String>) {
    assert_eq!(signed["method"], "PUT", "{signed}");
    let mut request = plain_client().request(Method::PUT, signed["url"].as_str().unwrap());
    for (name, value) in signed["headers"].as_object().unwrap() {
        // The HTTP client sets the length itself, from the body.
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
    }
    let response = request.body(bytes).send().await.unwrap();
    let etag = response.headers().get("etag").and_then(|value| value.to_str().ok()).map(str::to_owned);
    (response.status(), etag)
}

/// Requests an upload of `bytes`, PUTs them in one go, completes, and returns the media id.
pub async fn upload(
    server: &TestServer,
    user: &User,
    kind: &str,
    filename: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let (status, grant) = request_upload(server, user, kind, filename, content_type, bytes.len()).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let id = grant["media"]["id"].as_str().unwrap().to_owned();
    let (status, _) = put(&grant["upload"], bytes).await;
    assert!(status.is_success(), "PUT answered {status}");
    let (status, completed) = complete(server, user, &id, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{completed}");
    assert_eq!(completed["media"]["status"], "uploaded");
    id
}

/// `POST /media/{id}/complete`.
pub async fn complete(server: &TestServer, user: &User, id: &str, body: Value) -> (StatusCode, Value) {
    server.post(&format!("/api/v1/media/{id}/complete"), Some(user), body).await
}

/// `GET /media/{id}/content`: the redirect's status and target.
pub async fn content_location(server: &TestServer, user: &User, path_and_query: &str) -> (StatusCode, Option<String>) {
    let response =
        plain_client().get(format!("{}{path_and_query}", server.base)).bearer_auth(&user.token).send().await.unwrap();
    let location = response.headers().get("location").and_then(|value| value.to_str().ok()).map(str::to_owned);
    (response.status(), location)
}

/// Sends a media message over HTTP.
pub async fn send_media(server: &TestServer, user: &User, conversation: &str, body: Value) -> (StatusCode, Value) {
    let mut payload = body;
    payload["client_msg_id"] = json!(uuid::Uuid::now_v7());
    server.post(&format!("/api/v1/conversations/{conversation}/messages"), Some(user), payload).await
}
