//! A plain HTTP client for presigned requests, as a phone would use them: the URL and the
//! headers the request names, nothing else (no S3 credentials).

#![allow(dead_code)]

use async_trait::async_trait;
use chat_core::ports::{SignedMethod, SignedRequest};
use chat_core::testkit::blobs::SignedRequests;

pub struct PlainHttp(reqwest::Client);

impl PlainHttp {
    pub fn new() -> PlainHttp {
        PlainHttp(reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap())
    }

    /// Sends `request` to `url` (another URL than the signed one, for tampering) with
    /// `headers` (replacing the signed ones) and `body`: the status and S3's error body.
    pub async fn put_as(&self, url: &str, headers: &[(String, String)], body: Vec<u8>) -> (u16, String) {
        let mut builder = self.0.put(url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let answer = builder.body(body).send().await.expect("the S3 server answers");
        (answer.status().as_u16(), answer.text().await.unwrap_or_default())
    }
}

#[async_trait]
impl SignedRequests for PlainHttp {
    async fn put(&self, request: &SignedRequest, body: Vec<u8>) -> (u16, Option<String>) {
        assert_eq!(request.method, SignedMethod::Put);
        let mut builder = self.0.put(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let answer = builder.body(body).send().await.expect("the S3 server answers");
        let etag = answer.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (answer.status().as_u16(), etag)
    }

    async fn get(&self, request: &SignedRequest, range: Option<(u64, u64)>) -> (u16, Vec<u8>) {
        assert_eq!(request.method, SignedMethod::Get);
        let mut builder = self.0.get(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some((first, last)) = range {
            builder = builder.header("range", format!("bytes={first}-{last}"));
        }
        let answer = builder.send().await.expect("the S3 server answers");
        let status = answer.status().as_u16();
        (status, answer.bytes().await.expect("the body").to_vec())
    }
}
