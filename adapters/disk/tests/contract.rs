//! The `BlobStore` contract of `chat_core::testkit` on a local directory, one test per check,
//! through the store's own endpoint on a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::testkit::{blob_store_contract_tests, strict_multipart_contract_tests};
use common::served;

blob_store_contract_tests! {
    mod disk_blob_store;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let served = served().await;
    check((&*served.store, &served.http));
}

strict_multipart_contract_tests! {
    mod disk_strict_multipart;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let served = served().await;
    check((&*served.store, &served.http));
}
