//! A phone's side of media: asking for an upload, PUTting the bytes where it is told, and
//! following a content redirect, with nothing but a plain HTTP client.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, User};

/// A real JPEG photo of `width` x `height` (a gradient), which the media worker processes.
pub fn photo(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Jpeg).unwrap();
    bytes.into_inner()
}

/// Plain text of `size` bytes: a file the worker scans and serves as uploaded.
pub fn text(size: usize) -> Vec<u8> {
    (0..size).map(|i| b"xin chao "[i % 9]).collect()
}

/// Waits (up to 60 s) until the media's status is `status`, as its owner sees it.
pub async fn wait_for_status(server: &TestServer, owner: &User, id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, record) = server.get(&format!("/api/v1/media/{id}"), owner).await;
        if record["media"]["status"] == status {
            return record["media"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "{id} never became {status}: {record}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A JPEG as far as the completion check can tell (its magic bytes), padded to `size`; the
/// worker refuses it later as `corrupt`.
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

/// A short clip made by ffmpeg from its test sources (`-f lavfi`), in `extension`'s
/// container: what a phone would send, and what the worker must turn into a playable MP4.
pub fn clip(arguments: &[&str], extension: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("clip.{extension}"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(arguments)
        .arg(&out)
        .status()
        .expect("ffmpeg runs (scripts/test installs it)");
    assert!(status.success(), "ffmpeg could not make the test clip");
    std::fs::read(out).unwrap()
}
