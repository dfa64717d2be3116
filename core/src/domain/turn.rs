//! ICE servers for calls: the STUN and TURN URLs a client hands to `RTCPeerConnection`, with
//! short-lived TURN credentials in the TURN REST scheme that coturn checks with
//! `use-auth-secret` / `static-auth-secret`: the username is `<expiry unix seconds>:<user id>`
//! and the password is base64(HMAC-SHA1(shared secret, username)). The TURN server needs no
//! user database and no call to us: it recomputes the password and refuses a past expiry.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;

use crate::domain::error::Invalid;
use crate::domain::ids::UserId;
use crate::domain::{Duration, Timestamp};

/// How long handed-out TURN credentials last unless the operator says otherwise: long enough
/// for a call to be set up and relayed a while, short enough that a leaked one soon expires.
pub const DEFAULT_CREDENTIAL_TTL: Duration = Duration::seconds(3600);

/// The ICE servers the operator configured. The default has none: two browsers on one machine
/// or one network connect with their host candidates, so an embedded server needs no TURN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceSettings {
    /// STUN URLs (`stun:` or `stuns:`), handed out as they are.
    pub stun_urls: Vec<String>,
    /// The TURN servers, when there are any.
    pub relay: Option<TurnRelay>,
    /// How long each handed-out TURN credential is accepted.
    pub credential_ttl: Duration,
}

impl Default for IceSettings {
    fn default() -> Self {
        IceSettings { stun_urls: Vec::new(), relay: None, credential_ttl: DEFAULT_CREDENTIAL_TTL }
    }
}

/// TURN servers that share one secret with us (coturn's `static-auth-secret`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnRelay {
    /// TURN URLs (`turn:` or `turns:`), e.g. `turn:turn.example.vn:3478?transport=udp`.
    pub urls: Vec<String>,
    /// The shared secret the credentials are signed with.
    pub secret: TurnSecret,
}

/// The secret shared with the TURN servers. It never appears in `Debug` output, so settings
/// can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnSecret(String);

impl TurnSecret {
    /// The secret as configured; an empty one would sign credentials anyone can make.
    pub fn new(secret: impl Into<String>) -> Result<TurnSecret, Invalid> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(Invalid::new("invalid_turn_secret", "the TURN shared secret is empty"));
        }
        Ok(TurnSecret(secret))
    }
}

impl std::fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnSecret(..)")
    }
}

/// What `GET /api/v1/calls/ice-servers` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServers {
    /// For `RTCPeerConnection`'s `iceServers` as they are; empty when none are configured.
    pub ice_servers: Vec<IceServer>,
    /// How long the credentials stay valid, in seconds: fetch again for a call after that.
    pub ttl_secs: u64,
}

/// One entry of `iceServers`: STUN URLs without credentials, or TURN URLs with them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// The TURN username, `<expiry unix seconds>:<user id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The TURN password for `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A TURN username and its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnCredential {
    /// `<expiry unix seconds>:<user id>`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub credential: String,
}

/// The credential that lets `user` allocate relays until `expires_at` (whole seconds).
pub fn turn_credential(secret: &TurnSecret, user: UserId, expires_at: Timestamp) -> TurnCredential {
    let username = format!("{}:{user}", expires_at.timestamp());
    // HMAC takes a key of any length, so this cannot fail; the fallback keeps the function total.
    let credential = match Hmac::<Sha1>::new_from_slice(secret.0.as_bytes()) {
        Ok(mut mac) => {
            mac.update(username.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    TurnCredential { username, credential }
}

/// The ICE servers for `user` at `now`: the STUN URLs, then the TURN URLs with a credential
/// that expires `credential_ttl` from now.
pub fn ice_servers(settings: &IceSettings, user: UserId, now: Timestamp) -> IceServers {
    let mut servers = Vec::new();
    if !settings.stun_urls.is_empty() {
        servers.push(IceServer { urls: settings.stun_urls.clone(), username: None, credential: None });
    }
    if let Some(relay) = settings.relay.as_ref().filter(|relay| !relay.urls.is_empty()) {
        let TurnCredential { username, credential } =
            turn_credential(&relay.secret, user, now + settings.credential_ttl);
        servers.push(IceServer { urls: relay.urls.clone(), username: Some(username), credential: Some(credential) });
    }
    IceServers { ice_servers: servers, ttl_secs: u64::try_from(settings.credential_ttl.num_seconds()).unwrap_or(0) }
}

/// Which kind of ICE server a URL must name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceUrlKind {
    /// `stun:host[:port]` or `stuns:host[:port]` (RFC 7064).
    Stun,
    /// `turn:host[:port][?transport=udp|tcp]` or `turns:...` (RFC 7065).
    Turn,
}

/// Checks that `url` is a STUN or TURN URL a browser accepts, so a typo in the settings stops
/// the server at start rather than failing every call.
pub fn check_ice_url(url: &str, kind: IceUrlKind) -> Result<(), Invalid> {
    let refuse = |why: &str| Err(Invalid::new("invalid_ice_url", format!("{url:?} {why}")));
    let schemes: &[&str] = match kind {
        IceUrlKind::Stun => &["stun:", "stuns:"],
        IceUrlKind::Turn => &["turn:", "turns:"],
    };
    let Some(rest) = schemes.iter().find_map(|scheme| url.strip_prefix(scheme)) else {
        return refuse(&format!("does not start with {}", schemes.join(" or ")));
    };
    let (host_port, query) = match rest.split_once('?') {
        Some((host_port, query)) => (host_port, Some(query)),
        None => (rest, None),
    };
    match (kind, query) {
        (_, None) | (IceUrlKind::Turn, Some("transport=udp" | "transport=tcp")) => {}
        (IceUrlKind::Turn, Some(_)) => return refuse("may only end in ?transport=udp or ?transport=tcp"),
        (IceUrlKind::Stun, Some(_)) => return refuse("takes no query"),
    }
    if host_port.is_empty() || host_port.contains(|c: char| c.is_whitespace() || matches!(c, '/' | '@' | ',')) {
        return refuse("needs a host (and optional port) after the scheme");
    }
    // The port follows the last ':' outside an IPv6 literal's brackets.
    let port = match host_port.rsplit_once(']') {
        Some((_, after_literal)) => after_literal.strip_prefix(':'),
        None => host_port.split_once(':').map(|(_, port)| port),
    };
    if port.is_some_and(|port| port.parse::<u16>().map_or(true, |port| port == 0)) {
        return refuse("has a port that is not 1 to 65535");
    }
    Ok(())
}

/// The STUN URLs that come with TURN URLs: a TURN server answers STUN on its plain port too
/// (coturn does), so each distinct host and port of a `turn:` URL is also a `stun:` one.
/// `turns:` URLs give none: browsers seldom support `stuns:`.
pub fn stun_urls_from_turn(turn_urls: &[String]) -> Vec<String> {
    let mut stun_urls: Vec<String> = Vec::new();
    for url in turn_urls {
        if let Some(rest) = url.strip_prefix("turn:") {
            let host_port = rest.split_once('?').map_or(rest, |(host_port, _)| host_port);
            let stun_url = format!("stun:{host_port}");
            if !stun_urls.contains(&stun_url) {
                stun_urls.push(stun_url);
            }
        }
    }
    stun_urls
}

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
