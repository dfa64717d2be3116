//! OAuth2 access tokens for FCM: the JWT bearer grant (RFC 7523) with the service account's
//! key, sent to the file's `token_uri`, the token kept until shortly before it expires.
//!
//! Why our own grant rather than an OAuth crate: gcp_auth 0.12 and yup-oauth2 12 both honour
//! the file's `token_uri`, but each runs its own hyper client and connection pool beside
//! reqwest (the grant could not share the sender's client), gcp_auth can neither drop a
//! token FCM refused nor keep waiting callers from each fetching a token again at expiry,
//! and yup-oauth2 brings token storage and interactive flows this needs none of. The grant
//! itself is one JWT signed with jsonwebtoken (already a dependency) and one form POST.
//!
//! One refresh at a time: callers that find no usable token queue on one lock; the first asks
//! the endpoint, the others take its token (or its failure) instead of asking again, so a
//! burst of sends at expiry makes one grant, not one each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chat_core::domain::Timestamp;
use chat_core::ports::Clock;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use crate::reply::parse_retry_after;
use crate::service_account::ServiceAccount;

/// The only scope FCM's send needs.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google accepts assertions valid for an hour at most.
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// A token is replaced this long before it expires, so that no send carries a token that
/// expires on the way (at most half its life, for endpoints that give short tokens).
const REFRESH_MARGIN_SECS: u64 = 300;
const MAX_KEEP_SECS: u64 = 86_400;

/// Why no token could be had.
#[derive(Clone, Debug)]
pub(crate) enum GrantError {
    /// The endpoint could not be reached, timed out or was overloaded: the push can wait.
    Transient {
        /// The endpoint's `Retry-After`, if any.
        after: Option<Duration>,
        /// What happened.
        reason: String,
    },
    /// The endpoint refused the service account (revoked key, wrong clock, deleted account):
    /// no push can go until the configuration is fixed.
    Refused(String),
}

/// The access token in use, and the one refresh allowed at a time.
pub(crate) struct AccessTokens {
    account: ServiceAccount,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    current: parking_lot::Mutex<Option<CachedToken>>,
    /// Held while a grant is under way; keeps the last grant's failure for the callers that
    /// waited on it.
    refresh: tokio::sync::Mutex<Option<GrantError>>,
    /// Grants finished (either way), so a waiter can tell that one ended while it waited.
    grants_finished: AtomicU64,
}

#[derive(Clone)]
struct CachedToken {
    value: Arc<str>,
    refresh_at: Timestamp,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: u64,
    token_type: Option<String>,
}

#[derive(Deserialize, Default)]
struct Refusal {
    error: Option<String>,
    error_description: Option<String>,
}

impl AccessTokens {
    pub(crate) fn new(account: ServiceAccount, http: reqwest::Client, clock: Arc<dyn Clock>) -> AccessTokens {
        AccessTokens {
            account,
            http,
            clock,
            current: parking_lot::Mutex::new(None),
            refresh: tokio::sync::Mutex::new(None),
            grants_finished: AtomicU64::new(0),
        }
    }

    pub(crate) fn project_id(&self) -> &str {
        &self.account.project_id
    }

    /// A token to send with: the kept one while it is fresh, otherwise a new grant.
    pub(crate) async fn token(&self) -> Result<Arc<str>, GrantError> {
        self.obtain(None).await
    }

    /// A token other than `refused`, which FCM just answered 401 to.
    pub(crate) async fn replace(&self, refused: &str) -> Result<Arc<str>, GrantError> {
        self.obtain(Some(refused)).await
    }

    async fn obtain(&self, refused: Option<&str>) -> Result<Arc<str>, GrantError> {
        if let Some(token) = self.usable(refused) {
            return Ok(token);
        }
        let finished_before = self.grants_finished.load(Ordering::Acquire);
        let mut last_failure = self.refresh.lock().await;
        if let Some(token) = self.usable(refused) {
            return Ok(token);
        }
        if self.grants_finished.load(Ordering::Acquire) != finished_before
            && let Some(failure) = last_failure.clone()
        {
            return Err(failure);
        }
        let granted = self.grant().await;
        self.grants_finished.fetch_add(1, Ordering::Release);
        match granted {
            Ok(token) => {
                *last_failure = None;
                let value = token.value.clone();
                *self.current.lock() = Some(token);
                Ok(value)
            }
            Err(failure) => {
                *last_failure = Some(failure.clone());
                Err(failure)
            }
        }
    }

    fn usable(&self, refused: Option<&str>) -> Option<Arc<str>> {
        let now = self.clock.now();
        let current = self.current.lock();
        let token = current.as_ref()?;
        (now < token.refresh_at && refused != Some(&*token.value)).then(|| token.value.clone())
    }

    async fn grant(&self) -> Result<CachedToken, GrantError> {
        let asked_at = self.clock.now();
        let assertion = self.assertion(asked_at)?;
        let answer = self
            .http
            .post(&self.account.token_uri)
            .form(&[("grant_type", GRANT_TYPE), ("assertion", assertion.as_str())])
            .send()
            .await
            .map_err(|e| transient(format!("the OAuth token endpoint could not be reached: {e}")))?;
        let status = answer.status();
        let retry_after = answer.headers().get(reqwest::header::RETRY_AFTER).cloned();
        let body =
            answer.bytes().await.map_err(|e| transient(format!("the OAuth token endpoint's answer broke off: {e}")))?;
        if status.is_success() {
            return self.accept(&body, asked_at);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let after = retry_after.as_ref().and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, asked_at));
            return Err(GrantError::Transient { after, reason: format!("the OAuth token endpoint answered {status}") });
        }
        let refusal: Refusal = serde_json::from_slice(&body).unwrap_or_default();
        Err(GrantError::Refused(format!(
            "the OAuth token endpoint {} refused the service account {} ({status}): {}: {}",
            self.account.token_uri,
            self.account.client_email,
            refusal.error.as_deref().unwrap_or("no error code"),
            refusal.error_description.as_deref().unwrap_or("no description"),
        )))
    }

    fn accept(&self, body: &[u8], asked_at: Timestamp) -> Result<CachedToken, GrantError> {
        let granted: Granted = serde_json::from_slice(body)
            .map_err(|e| GrantError::Refused(format!("the OAuth token endpoint's answer is not a token: {e}")))?;
        if let Some(kind) = granted.token_type.as_deref()
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(GrantError::Refused(format!("the OAuth token endpoint gave a {kind:?} token, not a bearer")));
        }
        if granted.access_token.is_empty() {
            return Err(GrantError::Refused("the OAuth token endpoint gave an empty token".into()));
        }
        // Counted from when the grant was asked for: the token's life started no later. A
        // day at most, whatever the endpoint says (Google's tokens live an hour).
        let expires_in = granted.expires_in.min(MAX_KEEP_SECS);
        let keep_for = expires_in - REFRESH_MARGIN_SECS.min(expires_in / 2);
        tracing::debug!(expires_in, "obtained an FCM access token");
        Ok(CachedToken {
            value: granted.access_token.into(),
            refresh_at: asked_at + chat_core::domain::Duration::seconds(keep_for as i64),
        })
    }

    /// The RS256-signed assertion: who asks (`iss`), for what (`scope`), of whom (`aud`, the
    /// token endpoint), valid for an hour from `now`.
    fn assertion(&self, now: Timestamp) -> Result<String, GrantError> {
        let iat = now.timestamp();
        let claims = Claims {
            iss: &self.account.client_email,
            scope: SCOPE,
            aud: &self.account.token_uri,
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.account.private_key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.account.signing_key)
            .map_err(|e| GrantError::Refused(format!("cannot sign the OAuth assertion: {e}")))
    }
}

fn transient(reason: String) -> GrantError {
    GrantError::Transient { after: None, reason }
}
