//! A fake FCM for tests (feature `testing`): FCM cannot be reached from here, so this local
//! server checks what Google checks and answers what Google answers.
//!
//! - It speaks HTTP/2 without TLS (h2c, prior knowledge) and counts connections, so a test
//!   can see that concurrent sends share one.
//! - Its OAuth token endpoint (`/token`, the `token_uri` of the service-account file it
//!   writes) verifies the assertion's RS256 signature against the account's public key, and
//!   its claims (`iss`, `scope`, `aud`, `iat`, `exp`) and grant type, against the test's
//!   clock; it issues bearer tokens that expire by that clock, and counts grants.
//! - Its `messages:send` checks the bearer token, then the message against the v1 schema
//!   (unknown fields refused at every level, the platform blocks' values, reserved data
//!   keys; see `testing/checks.rs`), then plays the answers a test scripted for the device
//!   token: 200, 404 `UNREGISTERED`, 400 `INVALID_ARGUMENT`, 401, 403, 429, 500, 503 (with
//!   `Retry-After`), or no answer at all. Unscripted tokens get 200.
//!
//! The service account's key is a checked-in, test-only key (`fixtures/README.md`).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod checks;
mod send;
mod server;
mod token;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chat_core::domain::Timestamp;
use chat_core::ports::Clock;
use parking_lot::Mutex;

use crate::FcmConfig;

/// The private key of the fake's service account (test-only; see `fixtures/README.md`).
pub const TEST_KEY_PEM: &str = include_str!("../fixtures/test-only-service-account-key.pem");
/// Another test-only key, which the fake does not trust.
pub const UNTRUSTED_KEY_PEM: &str = include_str!("../fixtures/test-only-other-key.pem");
/// The fake's Firebase project.
pub const PROJECT_ID: &str = "chat-fake-project";
/// The fake's service account.
pub const CLIENT_EMAIL: &str = "push-sender@chat-fake-project.iam.gserviceaccount.com";
const KEY_ID: &str = "test-key-1";

/// One scripted answer of `messages:send`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the message's name.
    Sent,
    /// 404 `NOT_FOUND`, `FcmError` `UNREGISTERED`: the app was uninstalled.
    Unregistered,
    /// 400 `INVALID_ARGUMENT`, `FcmError` `INVALID_ARGUMENT`: not a valid registration token.
    InvalidToken,
    /// 400 `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming a field of the message.
    BadField,
    /// 403 `PERMISSION_DENIED`, `FcmError` `SENDER_ID_MISMATCH`: the token is another project's.
    SenderIdMismatch,
    /// 401 `UNAUTHENTICATED`: as if the access token had expired.
    Unauthenticated,
    /// 401, `FcmError` `THIRD_PARTY_AUTH_ERROR`: the project's APNs or web push credentials.
    ThirdPartyAuthError,
    /// 429 `RESOURCE_EXHAUSTED`, `FcmError` `QUOTA_EXCEEDED`, with this `Retry-After` if any.
    QuotaExceeded(Option<String>),
    /// 500 `INTERNAL`, with this `Retry-After` if any.
    Internal(Option<String>),
    /// 503 `UNAVAILABLE`, with this `Retry-After` if any.
    Unavailable(Option<String>),
    /// No answer, ever (until the fake stops): the client must time out.
    Stall,
}

/// A running fake FCM; stops when dropped.
pub struct FakeFcm {
    state: Arc<State>,
    address: SocketAddr,
    directory: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

/// What the server's handlers share.
pub(crate) struct State {
    clock: Arc<dyn Clock>,
    token_uri: String,
    public_key: jsonwebtoken::DecodingKey,
    token_lifetime_secs: AtomicU64,
    token_endpoint_down: AtomicBool,
    token_requests: AtomicUsize,
    grants: AtomicUsize,
    connections: AtomicUsize,
    sends: AtomicUsize,
    issued: AtomicU64,
    /// Access token → when it expires.
    access_tokens: Mutex<HashMap<String, Timestamp>>,
    scripts: Mutex<HashMap<String, VecDeque<Answer>>>,
    delivered: Mutex<Vec<serde_json::Value>>,
    /// Turns true when the fake stops: releases stalled answers.
    stopped: tokio::sync::watch::Sender<bool>,
}

impl FakeFcm {
    /// Starts a fake on a free port of 127.0.0.1, judging times by `clock`, and writes its
    /// service-account file.
    pub async fn start(clock: Arc<dyn Clock>) -> FakeFcm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
        let address = listener.local_addr().expect("the bound address");
        let state = Arc::new(State {
            clock,
            token_uri: format!("http://{address}/token"),
            public_key: token::public_key(TEST_KEY_PEM),
            token_lifetime_secs: AtomicU64::new(3600),
            token_endpoint_down: AtomicBool::new(false),
            token_requests: AtomicUsize::new(0),
            grants: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            sends: AtomicUsize::new(0),
            issued: AtomicU64::new(0),
            access_tokens: Mutex::new(HashMap::new()),
            scripts: Mutex::new(HashMap::new()),
            delivered: Mutex::new(Vec::new()),
            stopped: tokio::sync::watch::Sender::new(false),
        });
        let server = tokio::spawn(server::serve(listener, state.clone()));
        let fake = FakeFcm { state, address, directory: tempfile::tempdir().expect("a temporary directory"), server };
        fake.write_service_account("service-account.json", &fake.service_account());
        fake
    }

    /// The FCM base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The service-account file the fake trusts.
    pub fn service_account_file(&self) -> PathBuf {
        self.directory.path().join("service-account.json")
    }

    /// The content of that file, for a test to change and write as another.
    pub fn service_account(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": KEY_ID,
            "private_key": TEST_KEY_PEM,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.state.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        })
    }

    /// Writes `content` as a file named `name` beside the fake's own, and returns its path.
    pub fn write_service_account(&self, name: &str, content: &serde_json::Value) -> PathBuf {
        let path = self.directory.path().join(name);
        std::fs::write(&path, content.to_string()).expect("a writable temporary directory");
        path
    }

    /// A configuration that sends to this fake with its service account, over h2c, giving up
    /// on a request after `request_timeout`.
    pub fn config(&self, request_timeout: Duration) -> FcmConfig {
        FcmConfig {
            base_url: self.base_url(),
            request_timeout,
            http2_prior_knowledge: true,
            ..FcmConfig::new(self.service_account_file())
        }
    }

    /// The next answers for sends to the device `token`, in order; 200 after them.
    pub fn script(&self, token: &str, answers: impl IntoIterator<Item = Answer>) {
        self.state.scripts.lock().entry(token.to_owned()).or_default().extend(answers);
    }

    /// How long the access tokens issued from now on live (3,600 s unless set).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state.token_lifetime_secs.store(seconds, Ordering::Relaxed);
    }

    /// Makes the token endpoint answer 503 (or work again).
    pub fn set_token_endpoint_down(&self, down: bool) {
        self.state.token_endpoint_down.store(down, Ordering::Relaxed);
    }

    /// An access token for a test that talks to the fake directly, as if granted.
    pub fn issue_access_token(&self) -> String {
        token::issue(&self.state)
    }

    /// Forgets every access token issued: the next send with one is answered 401.
    pub fn revoke_access_tokens(&self) {
        self.state.access_tokens.lock().clear();
    }

    /// Requests to the token endpoint so far, granted or not.
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::Relaxed)
    }

    /// Access tokens granted so far.
    pub fn grants(&self) -> usize {
        self.state.grants.load(Ordering::Relaxed)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Requests to `messages:send` so far, whatever their answer.
    pub fn sends(&self) -> usize {
        self.state.sends.load(Ordering::Relaxed)
    }

    /// The `message` of each send answered 200, in order.
    pub fn delivered(&self) -> Vec<serde_json::Value> {
        self.state.delivered.lock().clone()
    }
}

impl Drop for FakeFcm {
    fn drop(&mut self) {
        self.state.stopped.send_replace(true);
        self.server.abort();
    }
}
