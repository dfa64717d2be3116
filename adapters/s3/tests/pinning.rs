//! The pinning copy on a real S3 server, beyond the contract: the ETag really pins the bytes
//! that were checked, and the store's own readiness check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::domain::ids::{MediaId, UserId};
use chat_core::domain::media::BlobKey;
use chat_core::domain::{Duration, Utc};
use chat_core::ports::{BlobStore, CopyOutcome, DownloadAs, HealthCheck};
use chat_core::testkit::blobs::SignedRequests as _;
use chat_s3::testing::TestS3;
use chat_s3::{S3BlobStore, S3Config};
use common::PlainHttp;

async fn put(s3: &TestS3, key: &BlobKey, body: &[u8]) {
    let request = s3.store.presign_put(key, "image/jpeg", body.len() as u64, Utc::now(), Duration::minutes(5)).unwrap();
    assert_eq!(PlainHttp::new().put(&request, body.to_vec()).await.0, 200);
}

#[tokio::test]
async fn the_checked_etag_pins_the_checked_bytes() {
    let s3 = TestS3::create().await;
    let owner = UserId(uuid::Uuid::now_v7());
    let media = MediaId(uuid::Uuid::now_v7());
    let (incoming, original) = (BlobKey::incoming(owner, media), BlobKey::original(owner, media));

    put(&s3, &incoming, b"the checked bytes").await;
    let checked = s3.store.head(&incoming).await.unwrap().unwrap();
    // The client PUTs again to its upload URL after the server checked the first bytes.
    put(&s3, &incoming, b"other bytes, unchecked").await;
    let rewritten = s3.store.head(&incoming).await.unwrap().unwrap();
    assert_ne!(checked.etag, rewritten.etag, "a rewrite changes the ETag");

    assert_eq!(s3.store.copy_if_match(&incoming, &original, &checked.etag).await.unwrap(), CopyOutcome::SourceChanged);
    assert_eq!(s3.store.head(&original).await.unwrap(), None, "nothing pinned");

    // With the ETag of what is there now, the copy goes through and is what was there.
    let CopyOutcome::Copied(pinned) = s3.store.copy_if_match(&incoming, &original, &rewritten.etag).await.unwrap()
    else {
        panic!("the current ETag copies");
    };
    assert_eq!(pinned.size, rewritten.size);
    assert_eq!(s3.store.read_prefix(&original, 100).await.unwrap().unwrap(), b"other bytes, unchecked");
    // Either ETag form (quoted as in headers, bare as the port hands it out) is taken.
    let quoted = format!("\"{}\"", rewritten.etag);
    assert!(matches!(s3.store.copy_if_match(&incoming, &original, &quoted).await.unwrap(), CopyOutcome::Copied(_)));
    s3.cleanup().await;
}

#[tokio::test]
async fn an_empty_object_has_an_empty_prefix() {
    let s3 = TestS3::create().await;
    let key = BlobKey::incoming(UserId(uuid::Uuid::now_v7()), MediaId(uuid::Uuid::now_v7()));
    put(&s3, &key, b"").await;
    assert_eq!(s3.store.read_prefix(&key, 16).await.unwrap(), Some(vec![]));
    assert_eq!(s3.store.read_prefix(&key, 0).await.unwrap(), Some(vec![]));
    s3.cleanup().await;
}

#[tokio::test]
async fn a_download_answers_with_the_type_and_disposition_asked_for() {
    let s3 = TestS3::create().await;
    let key = BlobKey::incoming(UserId(uuid::Uuid::now_v7()), MediaId(uuid::Uuid::now_v7()));
    put(&s3, &key, b"%PDF-1.7").await;
    let download =
        DownloadAs { content_type: "application/pdf".into(), filename: "Báo cáo.pdf".into(), attachment: true };
    let request = s3.store.presign_get(&key, &download, Utc::now(), Duration::minutes(5)).unwrap();
    let answer = reqwest::get(&request.url).await.unwrap();
    assert_eq!(answer.status(), 200);
    let header = |name: &str| answer.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("content-type").as_deref(), Some("application/pdf"));
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"B_o c_o.pdf\"; filename*=UTF-8''B%C3%A1o%20c%C3%A1o.pdf")
    );
    s3.cleanup().await;
}

#[tokio::test]
async fn the_health_check_sees_the_bucket_and_reports_a_missing_one() {
    let s3 = TestS3::create().await;
    s3.store.check().await.unwrap();
    let missing =
        S3BlobStore::new(S3Config { bucket: "chat-test-no-such-bucket".into(), ..s3.config.clone() }).unwrap();
    assert!(missing.check().await.is_err());
    let nobody =
        S3BlobStore::new(S3Config { endpoint: Some("http://127.0.0.1:9".into()), ..s3.config.clone() }).unwrap();
    assert!(matches!(nobody.check().await, Err(chat_core::domain::error::PortError::Unavailable(_))));
    s3.cleanup().await;
}
