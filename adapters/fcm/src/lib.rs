//! `chat-fcm`: push notifications through Firebase Cloud Messaging's HTTP v1 API
//! (`POST {base}/v1/projects/{project}/messages:send`), authorised by a Google service
//! account (`FCM_SERVICE_ACCOUNT_FILE`) through the OAuth2 JWT bearer grant.
//!
//! - One HTTP/2 connection carries every send: reqwest multiplexes concurrent requests on it
//!   (ALPN picks HTTP/2 with Google; [`FcmConfig::http2_prior_knowledge`] does without TLS).
//! - The access token is kept until five minutes before it expires, replaced once when FCM
//!   answers 401, and refreshed by one caller at a time (oauth.rs).
//! - FCM's answers become [`PushOutcome`]s (reply.rs): the caller deletes a gone token,
//!   drops a rejected message and retries a passing failure, not before `Retry-After`.
//!   A timeout or a broken connection is a passing failure too. `Err` is kept for a sender
//!   that cannot work at all: its service account or project refused.

mod config;
mod message;
mod oauth;
mod reply;
mod service_account;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::push::{PushNotification, PushOutcome};
use chat_core::ports::{Clock, HealthCheck, PushSender};

pub use config::{ConfigError, DEFAULT_BASE_URL, FcmConfig};

use oauth::{AccessTokens, GrantError};
use reply::Reply;
use service_account::ServiceAccount;

/// Sends push notifications for one Firebase project.
pub struct FcmPushSender {
    http: reqwest::Client,
    send_url: String,
    tokens: AccessTokens,
    clock: Arc<dyn Clock>,
}

impl FcmPushSender {
    /// Reads and checks the service account, and prepares the HTTP client; makes no request
    /// (the first send, or [`HealthCheck::check`], fetches the access token). `clock` dates
    /// the OAuth assertion, the token's expiry and APNs expirations.
    pub fn new(config: FcmConfig, clock: Arc<dyn Clock>) -> Result<FcmPushSender, ConfigError> {
        let account = ServiceAccount::read(&config.service_account_file)?;
        let base = config.base_url.trim_end_matches('/');
        match url::Url::parse(base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
            _ => return Err(ConfigError::BaseUrl(config.base_url.clone())),
        }
        let http = http_client(&config)?;
        let send_url = format!("{base}/v1/projects/{}/messages:send", account.project_id);
        Ok(FcmPushSender { tokens: AccessTokens::new(account, http.clone(), clock.clone()), http, send_url, clock })
    }

    /// The Firebase project the messages are sent for.
    pub fn project_id(&self) -> &str {
        self.tokens.project_id()
    }

    async fn post(&self, access_token: &str, body: Vec<u8>) -> Reply {
        let sent = self
            .http
            .post(&self.send_url)
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => return Reply::Outcome(network_failure(&error)),
        };
        let status = answer.status().as_u16();
        let retry_after =
            answer.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(String::from);
        match answer.bytes().await {
            Ok(body) => reply::classify(status, retry_after.as_deref(), &body, self.clock.now()),
            Err(error) => Reply::Outcome(network_failure(&error)),
        }
    }

    fn settle(&self, reply: Reply) -> Result<PushOutcome, PortError> {
        match reply {
            Reply::Outcome(outcome) => Ok(outcome),
            // Refused twice in a row, the second time with a token just granted: FCM or the
            // token endpoint is having trouble; the push can wait.
            Reply::Unauthenticated(reason) => {
                Ok(PushOutcome::RetryLater { after: None, reason: format!("{reason} (with a fresh access token)") })
            }
            Reply::Misconfigured(reason) => Err(PortError::Internal(format!(
                "FCM refused to send for project {} with this service account: {reason}",
                self.project_id()
            ))),
        }
    }
}

#[async_trait]
impl PushSender for FcmPushSender {
    async fn send(&self, notification: &PushNotification) -> Result<PushOutcome, PortError> {
        let body = message::encode(notification, self.clock.now())
            .map_err(|e| PortError::Internal(format!("cannot encode an FCM message: {e}")))?;
        let token = match self.tokens.token().await {
            Ok(token) => token,
            Err(failure) => return grant_failed(failure),
        };
        let reply = match self.post(&token, body.clone()).await {
            Reply::Unauthenticated(_) => match self.tokens.replace(&token).await {
                Ok(fresh) => self.post(&fresh, body).await,
                Err(failure) => return grant_failed(failure),
            },
            reply => reply,
        };
        self.settle(reply)
    }
}

#[async_trait]
impl HealthCheck for FcmPushSender {
    fn component(&self) -> &'static str {
        "push"
    }
    fn adapter(&self) -> &'static str {
        "fcm"
    }
    /// An access token can be had: the service account is accepted and the token endpoint
    /// reachable (the kept token when fresh, so this is cheap to ask often).
    async fn check(&self) -> Result<(), PortError> {
        match self.tokens.token().await {
            Ok(_) => Ok(()),
            Err(GrantError::Transient { reason, .. }) => Err(PortError::Unavailable(reason)),
            Err(GrantError::Refused(reason)) => Err(PortError::Internal(reason)),
        }
    }
}

fn http_client(config: &FcmConfig) -> Result<reqwest::Client, ConfigError> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.connect_timeout)
        // Pings find a connection that died quietly (a NAT forgetting it) before a send does.
        .http2_keep_alive_interval(std::time::Duration::from_secs(30))
        .http2_keep_alive_timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("chat-fcm/", env!("CARGO_PKG_VERSION")));
    if config.http2_prior_knowledge {
        builder = builder.http2_prior_knowledge();
    }
    builder.build().map_err(|e| ConfigError::Client(e.to_string()))
}

/// A send that got no answer: the message may or may not have arrived, and FCM keeps no
/// duplicate check, but a missed notification is worse than a rare double.
fn network_failure(error: &reqwest::Error) -> PushOutcome {
    let what = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    PushOutcome::RetryLater { after: None, reason: format!("{what}: {error}") }
}

fn grant_failed(failure: GrantError) -> Result<PushOutcome, PortError> {
    match failure {
        GrantError::Transient { after, reason } => Ok(PushOutcome::RetryLater { after, reason }),
        GrantError::Refused(reason) => Err(PortError::Internal(reason)),
    }
}
