//! An S3 for tests (feature `testing`): the local s3s-fs that `scripts/test` starts
//! (`S3_TEST_ENDPOINT`, `S3_TEST_ACCESS_KEY`, `S3_TEST_SECRET_KEY`, defaulting to what
//! `scripts/services.sh` uses), a fresh bucket per test, emptied and deleted afterwards.
//! Without a reachable server the test fails, naming the command that brings it up: a test
//! that needs S3 never passes without it.

#![allow(clippy::expect_used, clippy::panic)]

use chat_core::domain::{Duration, Utc};
use chat_core::ports::BlobStore as _;
use rusty_s3::S3Action as _;

use crate::{S3BlobStore, S3Config, Timeouts};

/// The test server's endpoint.
pub fn endpoint() -> String {
    std::env::var("S3_TEST_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned())
}

/// A bucket of its own on the test server, with a store on it.
pub struct TestS3 {
    /// The configuration of `store` (to build another store on the same bucket).
    pub config: S3Config,
    /// The store on the bucket.
    pub store: S3BlobStore,
    cleaned: bool,
}

impl TestS3 {
    /// Creates a bucket with a unique name. Panics, naming what is missing, when the server
    /// is not reachable or refuses.
    pub async fn create() -> TestS3 {
        let config = S3Config {
            endpoint: Some(endpoint()),
            region: "us-east-1".into(),
            bucket: format!("chat-test-{}", uuid::Uuid::now_v7().simple()),
            access_key: std::env::var("S3_TEST_ACCESS_KEY").unwrap_or_else(|_| "chat-test".into()),
            secret_key: std::env::var("S3_TEST_SECRET_KEY").unwrap_or_else(|_| "chat-test-secret".into()),
            path_style: true,
            cdn: None,
            timeouts: Timeouts::default(),
        };
        let store = S3BlobStore::new(config.clone()).expect("a valid test configuration");
        let url = store.bucket.create_bucket(&store.credentials).sign(std::time::Duration::from_secs(60));
        match store.http.put(url.as_str()).header("content-length", "0").send().await {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => panic!(
                "the test S3 server at {} refused to create a bucket ({}): {}. Is S3_TEST_ACCESS_KEY / \
                 S3_TEST_SECRET_KEY the server's? `scripts/test` starts s3s-fs with matching keys.",
                endpoint(),
                answer.status(),
                answer.text().await.unwrap_or_default()
            ),
            Err(error) => panic!(
                "no S3 server is reachable at {} ({error}). Run the suite with `scripts/test`, which starts \
                 (or installs) s3s-fs, or set S3_TEST_ENDPOINT to a running S3-compatible server.",
                endpoint()
            ),
        }
        TestS3 { config, store, cleaned: false }
    }

    /// Deletes every object and the bucket, and says whether that worked (best effort: a
    /// test's outcome never depends on it).
    pub async fn cleanup(mut self) -> bool {
        self.cleaned = true;
        empty_and_delete(&self.store).await
    }
}

async fn empty_and_delete(store: &S3BlobStore) -> bool {
    let far_future = Utc::now() + Duration::days(3650);
    let Ok(objects) = store.list_older_than("", far_future, usize::MAX).await else { return false };
    for object in objects {
        let _ = store.delete(&object.key).await;
    }
    let url = store.bucket.delete_bucket(&store.credentials).sign(std::time::Duration::from_secs(60));
    matches!(store.http.delete(url.as_str()).send().await, Ok(answer) if answer.status().is_success())
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // Drop cannot await, and the test's runtime may be gone: a runtime of its own on a
        // thread of its own.
        let Ok(store) = S3BlobStore::new(self.config.clone()) else { return };
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(empty_and_delete(&store)).then_some(())
        })
        .join();
    }
}
