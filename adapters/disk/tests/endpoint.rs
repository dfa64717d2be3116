//! The blob endpoint's refusals, each on a real socket: a refused upload answers with its
//! code and leaves neither an object nor a temporary file; and what a download serves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::convert::Infallible;

use chat_core::domain::ids::{MediaId, UserId};
use chat_core::domain::media::BlobKey;
use chat_core::ports::{BlobStore, DownloadAs, SignedRequest};
use chrono::{Duration, Utc};
use common::{Served, served};
use uuid::Uuid;

const SIZE: usize = 1000;

fn fresh_key() -> BlobKey {
    BlobKey::incoming(UserId(Uuid::now_v7()), MediaId(Uuid::now_v7()))
}

fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A PUT URL for `SIZE` bytes of image/jpeg, valid for five minutes.
fn put_url(served: &Served, key: &BlobKey) -> SignedRequest {
    served.store.presign_put(key, "image/jpeg", SIZE as u64, Utc::now(), Duration::minutes(5)).unwrap()
}

/// The refusal's status and error code.
async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    let code = body["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}")).to_owned();
    assert!(body["error"]["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
    (status, code)
}

/// Nothing of a refused upload stays: no object, no temporary file.
async fn assert_no_trace(served: &Served, key: &BlobKey) {
    assert_eq!(served.store.head(key).await.unwrap(), None, "a refused upload left an object");
    let leftovers: Vec<_> = std::fs::read_dir(served.store.temp_dir()).unwrap().collect();
    assert!(leftovers.is_empty(), "a refused upload left temporary files: {leftovers:?}");
}

/// A body sent in chunks without a Content-Length, as a phone streaming a file does.
fn chunked(len: usize) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, Infallible>> = body(len).chunks(300).map(|chunk| Ok(chunk.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn a_tampered_token_is_403_invalid_signature() {
    let served = served().await;
    let key = fresh_key();
    let mut request = put_url(&served, &key);
    // Change one character of the payload, far from either end.
    let at = request.url.find("/blobs/").unwrap() + 7 + 20;
    let changed = if &request.url[at..=at] == "A" { "B" } else { "A" };
    request.url.replace_range(at..=at, changed);
    let response = served.http.put_request(&request, body(SIZE)).send().await.unwrap();
    assert_eq!(refusal(response).await, (403, "invalid_signature".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn an_expired_token_is_403_url_expired() {
    let served = served().await;
    let key = fresh_key();
    let signed_at = Utc::now() - Duration::minutes(10);
    let request = served.store.presign_put(&key, "image/jpeg", SIZE as u64, signed_at, Duration::minutes(5)).unwrap();
    let response = served.http.put_request(&request, body(SIZE)).send().await.unwrap();
    assert_eq!(refusal(response).await, (403, "url_expired".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn another_content_type_is_400_content_type_mismatch() {
    let served = served().await;
    let key = fresh_key();
    let request = put_url(&served, &key);
    let response =
        served.http.0.put(&request.url).header("content-type", "text/html").body(body(SIZE)).send().await.unwrap();
    assert_eq!(refusal(response).await, (400, "content_type_mismatch".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn a_longer_content_length_is_413_too_large() {
    let served = served().await;
    let key = fresh_key();
    let response = served.http.put_request(&put_url(&served, &key), body(SIZE + 1)).send().await.unwrap();
    assert_eq!(refusal(response).await, (413, "too_large".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn a_shorter_content_length_is_400_size_mismatch() {
    let served = served().await;
    let key = fresh_key();
    let response = served.http.put_request(&put_url(&served, &key), body(SIZE - 1)).send().await.unwrap();
    assert_eq!(refusal(response).await, (400, "size_mismatch".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn a_chunked_body_longer_than_declared_is_413_too_large() {
    let served = served().await;
    let key = fresh_key();
    let response = served.http.put_request(&put_url(&served, &key), chunked(SIZE + 500)).send().await.unwrap();
    assert_eq!(refusal(response).await, (413, "too_large".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn a_short_chunked_body_is_400_size_mismatch() {
    let served = served().await;
    let key = fresh_key();
    let response = served.http.put_request(&put_url(&served, &key), chunked(SIZE - 10)).send().await.unwrap();
    assert_eq!(refusal(response).await, (400, "size_mismatch".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn an_upload_url_works_once() {
    let served = served().await;
    let key = fresh_key();
    let request = put_url(&served, &key);
    let first = served.http.put_request(&request, body(SIZE)).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    let again = served.http.put_request(&request, vec![7; SIZE]).send().await.unwrap();
    assert_eq!(refusal(again).await, (403, "url_used".into()));
    let stored = served.store.head(&key).await.unwrap().unwrap();
    assert_eq!(stored.etag, etag, "the second use changed nothing");
    assert_eq!(served.store.read_prefix(&key, SIZE).await.unwrap().unwrap(), body(SIZE));
}

#[tokio::test]
async fn a_download_url_does_not_upload() {
    let served = served().await;
    let key = fresh_key();
    let download = DownloadAs { content_type: "image/jpeg".into(), filename: "a.jpg".into(), attachment: false };
    let request = served.store.presign_get(&key, &download, Utc::now(), Duration::minutes(5)).unwrap();
    let response =
        served.http.0.put(&request.url).header("content-type", "image/jpeg").body(body(SIZE)).send().await.unwrap();
    assert_eq!(refusal(response).await, (403, "invalid_signature".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn a_part_of_an_abandoned_upload_is_404_no_such_upload() {
    let served = served().await;
    let key = fresh_key();
    let upload = served.store.create_multipart(&key, "video/mp4").await.unwrap();
    served.store.abort_multipart(&key, &upload).await.unwrap();
    let request = served.store.presign_part(&key, &upload, 1, SIZE as u64, Utc::now(), Duration::minutes(5)).unwrap();
    let response = served.http.put_request(&request, body(SIZE)).send().await.unwrap();
    assert_eq!(refusal(response).await, (404, "no_such_upload".into()));
    assert_no_trace(&served, &key).await;
}

#[tokio::test]
async fn a_range_request_is_206_with_the_slice_and_the_signed_presentation() {
    let served = served().await;
    let key = fresh_key();
    let response = served.http.put_request(&put_url(&served, &key), body(SIZE)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let download =
        DownloadAs { content_type: "application/pdf".into(), filename: "Hợp đồng.pdf".into(), attachment: true };
    let request = served.store.presign_get(&key, &download, Utc::now(), Duration::minutes(5)).unwrap();

    let response = served.http.0.get(&request.url).header("range", "bytes=100-199").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 206);
    let headers = response.headers().clone();
    assert_eq!(headers["content-range"], "bytes 100-199/1000");
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"H_p __ng.pdf\"; filename*=UTF-8''H%E1%BB%A3p%20%C4%91%E1%BB%93ng.pdf"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "private, max-age=300");
    assert_eq!(response.bytes().await.unwrap().to_vec(), body(SIZE)[100..200]);
}

#[tokio::test]
async fn a_download_of_a_missing_object_is_404_and_a_tampered_one_403() {
    let served = served().await;
    let key = fresh_key();
    let download = DownloadAs { content_type: "image/jpeg".into(), filename: "a.jpg".into(), attachment: false };
    let request = served.store.presign_get(&key, &download, Utc::now(), Duration::minutes(5)).unwrap();
    let response = served.http.0.get(&request.url).send().await.unwrap();
    assert_eq!(refusal(response).await, (404, "not_found".into()));
    let tampered = format!("{}x", request.url);
    let response = served.http.0.get(&tampered).send().await.unwrap();
    assert_eq!(refusal(response).await, (403, "invalid_signature".into()));
}

/// Waits (up to ten seconds) until `condition` holds, looking every few milliseconds.
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("waited ten seconds for {what}");
}

#[tokio::test]
async fn an_upload_that_breaks_off_leaves_nothing() {
    let served = served().await;
    let key = fresh_key();
    let request = put_url(&served, &key);
    let (break_off, broken) = tokio::sync::oneshot::channel::<()>();
    let chunks = futures_util::stream::unfold((0, Some(broken)), |(sent, broken)| async move {
        match (sent, broken) {
            (0, broken) => Some((Ok(vec![1u8; 100]), (1, broken))),
            (_, Some(broken)) => {
                broken.await.unwrap();
                Some((Err(std::io::Error::other("the network went away")), (2, None)))
            }
            (_, None) => None,
        }
    });
    let upload = served.http.put_request(&request, reqwest::Body::wrap_stream(chunks)).send();
    let upload = tokio::spawn(upload);

    let temp_dir = served.store.temp_dir();
    let files_in_temp = move || std::fs::read_dir(&temp_dir).unwrap().count();
    until("the upload to reach the disk", {
        let files_in_temp = files_in_temp.clone();
        move || files_in_temp() > 0
    })
    .await;
    break_off.send(()).unwrap();
    assert!(upload.await.unwrap().is_err(), "the client saw its upload fail");
    until("the partial file to be removed", move || files_in_temp() == 0).await;
    assert_eq!(served.store.head(&key).await.unwrap(), None);
}
