//! The HTTP side of the search benchmark: log in as the benchmark user, then
//! `GET /api/v1/search/messages` (docs/protocol.md), timed from the request to the parsed
//! body.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::time::Instant;

/// Requests wait at most this long: a search has a statement timeout far below it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A logged-in user's HTTP client; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct SearchClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// One search as the benchmark sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// 200: how many results, and the cursor of the next page.
    Found { results: usize, next_cursor: Option<String> },
    /// Any other status, with the error code of the body when there is one.
    Refused { status: u16, code: String },
}

#[derive(Deserialize)]
struct SearchPage {
    results: Vec<serde::de::IgnoredAny>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
}

impl SearchClient {
    /// Logs in with a password (`POST /api/v1/auth/login`).
    pub async fn login(server: SocketAddr, username: &str, password: &str) -> anyhow::Result<SearchClient> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).tcp_nodelay(true).build()?;
        let base = format!("http://{server}");
        let body =
            serde_json::json!({"username": username, "password": password, "device_name": "chat-loadgen search"});
        let response = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("logging in at {base}"))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.context("reading the login response")?;
        if !status.is_success() {
            bail!("logging in as {username} failed: {status} {body}");
        }
        let token = access_token(&body).with_context(|| format!("no access token in the login response {body}"))?;
        Ok(SearchClient { http, base, token: token.to_owned() })
    }

    /// One search, and how long it took from sending the request to having the body parsed.
    pub async fn search(&self, q: &str, cursor: Option<&str>, limit: u32) -> anyhow::Result<(Duration, Outcome)> {
        let mut query = vec![("q", q.to_owned()), ("limit", limit.to_string())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        let request =
            self.http.get(format!("{}/api/v1/search/messages", self.base)).bearer_auth(&self.token).query(&query);
        let started = Instant::now();
        let response = request.send().await.context("sending a search")?;
        let status = response.status();
        let bytes = response.bytes().await.context("reading a search response")?;
        let outcome = if status.is_success() {
            let page: SearchPage = serde_json::from_slice(&bytes).context("parsing a search response")?;
            Outcome::Found { results: page.results.len(), next_cursor: page.next_cursor }
        } else {
            let code = serde_json::from_slice::<ErrorBody>(&bytes).ok().and_then(|e| e.code).unwrap_or_default();
            Outcome::Refused { status: status.as_u16(), code }
        };
        Ok((started.elapsed(), outcome))
    }
}

/// The access token of a login response: at the top level, or under `tokens`.
fn access_token(body: &serde_json::Value) -> Option<&str> {
    body.get("access_token").or_else(|| body.get("tokens")?.get("access_token"))?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_token_flat_or_nested() {
        assert_eq!(access_token(&serde_json::json!({"access_token": "a", "user": {}})), Some("a"));
        assert_eq!(access_token(&serde_json::json!({"tokens": {"access_token": "b"}})), Some("b"));
        assert_eq!(access_token(&serde_json::json!({"user": {}})), None);
    }
}
