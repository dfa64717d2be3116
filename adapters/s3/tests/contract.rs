//! The blob-store contract on a real S3 server (s3s-fs, started by `scripts/test`), a fresh
//! bucket per check.
//!
//! `strict_multipart_contract_tests!` is not run here: s3s-fs 0.14 lists parts without their
//! ETags, keeps listing uploads that were completed or aborted, and never compares part ETags
//! at completion, where S3 does all three. How the adapter reads S3's refusals of a
//! completion (400 InvalidPart, 404 NoSuchUpload) is checked by a unit test in
//! `multipart.rs`; the local-disk store runs the strict suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_s3::testing::TestS3;
use common::PlainHttp;

chat_core::testkit::blob_store_contract_tests! {
    mod s3_blob_store;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (s3, http) = (TestS3::create().await, PlainHttp::new());
    check((&s3.store, &http));
}
