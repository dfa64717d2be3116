//! What the FCM sender needs to know, as plain values: the binary reads them from its
//! environment and hands them over; [`FcmPushSender::new`](crate::FcmPushSender::new) checks
//! them and reads the service account.

use std::path::PathBuf;
use std::time::Duration;

/// FCM's own address; tests point [`FcmConfig::base_url`] at a local fake instead.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";

/// Where to send and with which credentials.
#[derive(Clone, Debug)]
pub struct FcmConfig {
    /// The Google service-account JSON key file (`FCM_SERVICE_ACCOUNT_FILE`): its
    /// `project_id` names the Firebase project, `client_email` and `private_key` sign the
    /// OAuth grant, and `token_uri` is where the grant goes.
    pub service_account_file: PathBuf,
    /// The FCM API root, [`DEFAULT_BASE_URL`] unless testing.
    pub base_url: String,
    /// How long one request (a send or a grant) may take, answer included: past it the push
    /// is [`RetryLater`](chat_core::domain::push::PushOutcome::RetryLater).
    pub request_timeout: Duration,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// Speak HTTP/2 from the first byte, without TLS negotiation: for a plain-`http://`
    /// (h2c) server such as the test fake. Over https, ALPN picks HTTP/2 with Google anyway.
    pub http2_prior_knowledge: bool,
}

impl FcmConfig {
    /// FCM itself with the key file at `service_account_file` and default timeouts.
    pub fn new(service_account_file: impl Into<PathBuf>) -> FcmConfig {
        FcmConfig {
            service_account_file: service_account_file.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            http2_prior_knowledge: false,
        }
    }
}

/// Why the sender could not be built: each names the file or setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The key file could not be read.
    #[error("cannot read the FCM service account file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's words.
        reason: String,
    },
    /// The key file is not a service-account key.
    #[error("the FCM service account file {path} is not a Google service-account key: {reason}")]
    ServiceAccount {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The FCM base URL is not an http(s) URL.
    #[error("the FCM base URL {0:?} is not an http:// or https:// URL")]
    BaseUrl(String),
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the FCM HTTP client: {0}")]
    Client(String),
}
