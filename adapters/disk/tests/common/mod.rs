//! A disk blob store in a temporary directory, its endpoint served on a real socket, and a
//! plain HTTP client for its URLs.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::ports::{ClaimKey, ClaimStore, SignedRequest};
use chat_core::testkit::blobs::SignedRequests;
use chat_disk::{DiskBlobConfig, DiskBlobStore, router};
use tempfile::TempDir;

/// Claims that never lapse within a test: enough to see that a URL works once (the real
/// stores are chat-memory's and chat-redis's, which this crate may not depend on).
#[derive(Default)]
pub struct OnceClaims(Mutex<HashSet<String>>);

#[async_trait]
impl ClaimStore for OnceClaims {
    async fn claim(&self, key: &ClaimKey, _until: Timestamp, _now: Timestamp) -> Result<bool, PortError> {
        Ok(self.0.lock().unwrap().insert(key.as_str().to_owned()))
    }
}

/// A store and its endpoint on 127.0.0.1, living as long as this value.
pub struct Served {
    pub store: Arc<DiskBlobStore>,
    pub http: Http,
    pub directory: TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A store in a fresh directory, its router served on a port of its own.
pub async fn served() -> Served {
    let directory = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = DiskBlobConfig {
        root: directory.path().join("blobs"),
        public_base_url: format!("http://{}", listener.local_addr().unwrap()),
        signing_key: b"a test key of thirty-two bytes!!".to_vec(),
    };
    let store = Arc::new(DiskBlobStore::open(config, Arc::new(OnceClaims::default())).unwrap());
    let app = router(store.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Served { store, http: Http(reqwest::Client::new()), directory, server }
}

/// A phone's HTTP client: sends a signed request as given.
pub struct Http(pub reqwest::Client);

impl Http {
    /// The PUT of `request` with `body` and the request's headers, before sending.
    pub fn put_request(&self, request: &SignedRequest, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        let mut builder = self.0.put(&request.url).body(body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        builder
    }
}

#[async_trait]
impl SignedRequests for Http {
    async fn put(&self, request: &SignedRequest, body: Vec<u8>) -> (u16, Option<String>) {
        let response = self.put_request(request, body).send().await.unwrap();
        let etag = response.headers().get("etag").map(|value| value.to_str().unwrap().to_owned());
        (response.status().as_u16(), etag)
    }

    async fn get(&self, request: &SignedRequest, range: Option<(u64, u64)>) -> (u16, Vec<u8>) {
        let mut builder = self.0.get(&request.url);
        if let Some((first, last)) = range {
            builder = builder.header("range", format!("bytes={first}-{last}"));
        }
        let response = builder.send().await.unwrap();
        (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
    }
}
