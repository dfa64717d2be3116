//! What the S3 server itself refuses of a presigned PUT: the signature binds the key, the
//! time, the content type and the length. Each refusal is checked against the real server
//! (s3s-fs, started by `scripts/test`), and nothing is stored by a refused PUT; the same
//! request sent as signed is then accepted, so the refusal is the tampering's doing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::domain::ids::{MediaId, UserId};
use chat_core::domain::media::BlobKey;
use chat_core::domain::{Duration, Utc};
use chat_core::ports::{BlobStore, SignedRequest};
use chat_core::testkit::blobs::SignedRequests as _;
use chat_s3::testing::TestS3;
use common::PlainHttp;

const BODY: &[u8] = b"\x89PNG\r\n\x1a\n a small picture";

fn fresh_key() -> BlobKey {
    BlobKey::incoming(UserId(uuid::Uuid::now_v7()), MediaId(uuid::Uuid::now_v7()))
}

fn signed_put(s3: &TestS3, key: &BlobKey) -> SignedRequest {
    s3.store.presign_put(key, "image/png", BODY.len() as u64, Utc::now(), Duration::minutes(5)).unwrap()
}

/// The refused PUT stored nothing; the request as signed still works.
async fn assert_refused_then_accepted_as_signed(
    s3: &TestS3,
    key: &BlobKey,
    request: &SignedRequest,
    refused: (u16, String),
) {
    let (status, body) = refused;
    assert_eq!(status, 403, "the server refuses it: {body}");
    assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"), "refused for its signature: {body}");
    assert_eq!(s3.store.head(key).await.unwrap(), None, "a refused PUT stores nothing");
    let (status, _) = PlainHttp::new().put(request, BODY.to_vec()).await;
    assert_eq!(status, 200, "the request as signed is accepted");
    assert_eq!(s3.store.head(key).await.unwrap().unwrap().size, BODY.len() as u64);
}

#[tokio::test]
async fn the_presigned_put_names_the_headers_it_binds_and_works_as_given() {
    let s3 = TestS3::create().await;
    let key = fresh_key();
    let request = signed_put(&s3, &key);
    let mut names: Vec<_> = request.headers.iter().map(|(name, _)| name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["content-length", "content-type"]);
    assert!(request.url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"), "{}", request.url);
    let (status, etag) = PlainHttp::new().put(&request, BODY.to_vec()).await;
    assert_eq!(status, 200);
    let info = s3.store.head(&key).await.unwrap().unwrap();
    assert_eq!(info.etag, etag.unwrap().trim_matches('"'));
    s3.cleanup().await;
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let s3 = TestS3::create().await;
    let key = fresh_key();
    let request = signed_put(&s3, &key);
    let (start, _) = request.url.split_once("X-Amz-Signature=").unwrap();
    let signature = &request.url[start.len() + "X-Amz-Signature=".len()..];
    let flipped: String =
        signature.chars().enumerate().map(|(i, c)| if i == 0 { if c == '0' { '1' } else { '0' } } else { c }).collect();
    let tampered = format!("{start}X-Amz-Signature={flipped}");
    let refused = PlainHttp::new().put_as(&tampered, &request.headers, BODY.to_vec()).await;
    assert_refused_then_accepted_as_signed(&s3, &key, &request, refused).await;
    s3.cleanup().await;
}

#[tokio::test]
async fn an_expired_url_is_refused() {
    let s3 = TestS3::create().await;
    let key = fresh_key();
    // Signed an hour ago for a minute: it stopped working 59 minutes ago.
    let an_hour_ago = Utc::now() - Duration::hours(1);
    let request =
        s3.store.presign_put(&key, "image/png", BODY.len() as u64, an_hour_ago, Duration::minutes(1)).unwrap();
    assert!(request.expires_at < Utc::now());
    let (status, body) = PlainHttp::new().put_as(&request.url, &request.headers, BODY.to_vec()).await;
    assert_eq!(status, 403, "the server refuses an expired URL: {body}");
    assert!(body.contains("<Code>AccessDenied</Code>") && body.contains("expired"), "refused as expired: {body}");
    assert_eq!(s3.store.head(&key).await.unwrap(), None, "a refused PUT stores nothing");
    // The same PUT signed now works, so the time was the reason.
    let (status, _) = PlainHttp::new().put(&signed_put(&s3, &key), BODY.to_vec()).await;
    assert_eq!(status, 200);
    s3.cleanup().await;
}

#[tokio::test]
async fn another_content_type_is_refused() {
    let s3 = TestS3::create().await;
    let key = fresh_key();
    let request = signed_put(&s3, &key);
    let headers: Vec<_> = request
        .headers
        .iter()
        .map(|(name, value)| {
            if name == "content-type" { (name.clone(), "text/html".to_owned()) } else { (name.clone(), value.clone()) }
        })
        .collect();
    let refused = PlainHttp::new().put_as(&request.url, &headers, BODY.to_vec()).await;
    assert_refused_then_accepted_as_signed(&s3, &key, &request, refused).await;
    s3.cleanup().await;
}

#[tokio::test]
async fn another_length_is_refused() {
    let s3 = TestS3::create().await;
    let key = fresh_key();
    let request = signed_put(&s3, &key);
    // The client sends a longer body with its true length (HTTP leaves no other way).
    let headers: Vec<_> = request.headers.iter().filter(|(name, _)| name != "content-length").cloned().collect();
    let longer = [BODY, b"and then some"].concat();
    let refused = PlainHttp::new().put_as(&request.url, &headers, longer).await;
    assert_refused_then_accepted_as_signed(&s3, &key, &request, refused).await;
    s3.cleanup().await;
}

#[tokio::test]
async fn a_url_signed_for_another_key_is_refused() {
    let s3 = TestS3::create().await;
    let (signed_for, used_for) = (fresh_key(), fresh_key());
    let request = signed_put(&s3, &signed_for);
    let other_path = request.url.replace(signed_for.as_str(), used_for.as_str());
    assert_ne!(other_path, request.url);
    let refused = PlainHttp::new().put_as(&other_path, &request.headers, BODY.to_vec()).await;
    assert_eq!(s3.store.head(&used_for).await.unwrap(), None, "nothing under the other key");
    assert_refused_then_accepted_as_signed(&s3, &signed_for, &request, refused).await;
    s3.cleanup().await;
}
