//! The fake OAuth token endpoint: the JWT bearer grant (RFC 7523) as Google's checks it.

use std::sync::atomic::Ordering;

use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderMap};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPublicKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use serde::Deserialize;

use super::server::{Answer, json};
use super::{CLIENT_EMAIL, KEY_ID, State};

/// Written out rather than taken from the client, so that a wrong client scope shows.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How far in the future `iat` may be (clocks differ a little).
const CLOCK_SKEW_SECS: i64 = 60;
/// Google refuses assertions valid for longer.
const MAX_ASSERTION_SECS: i64 = 3600;

/// The key that verifies the service account's assertions: the public half of its key.
pub(super) fn public_key(private_pem: &str) -> DecodingKey {
    let private = RsaPrivateKey::from_pkcs8_pem(private_pem).expect("the test key is PKCS#8");
    let der = private.to_public_key().to_pkcs1_der().expect("a public key encodes");
    DecodingKey::from_rsa_der(der.as_bytes())
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    scope: String,
    aud: String,
    iat: i64,
    exp: i64,
}

pub(super) fn grant(state: &State, headers: &HeaderMap, body: &[u8]) -> Answer {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    if state.token_endpoint_down.load(Ordering::Relaxed) {
        return json(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({"error": "temporarily_unavailable"}));
    }
    let form_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return refuse("invalid_request", "the body must be a form");
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    if field("grant_type") != Some(GRANT_TYPE) {
        return refuse("unsupported_grant_type", "Invalid grant_type");
    }
    let Some(assertion) = field("assertion") else {
        return refuse("invalid_request", "Missing required parameter: assertion");
    };
    if let Err(why) = check_assertion(state, assertion) {
        return refuse("invalid_grant", &why);
    }
    state.grants.fetch_add(1, Ordering::Relaxed);
    let access_token = issue(state);
    let lifetime = state.token_lifetime_secs.load(Ordering::Relaxed);
    json(
        StatusCode::OK,
        &serde_json::json!({"access_token": access_token, "expires_in": lifetime, "token_type": "Bearer"}),
    )
}

/// A new access token, valid for the set lifetime from now.
pub(super) fn issue(state: &State) -> String {
    let lifetime = state.token_lifetime_secs.load(Ordering::Relaxed);
    let access_token = format!("ya29.fake-{}", state.issued.fetch_add(1, Ordering::Relaxed) + 1);
    let expires = state.clock.now() + chat_core::domain::Duration::seconds(lifetime as i64);
    state.access_tokens.lock().insert(access_token.clone(), expires);
    access_token
}

fn check_assertion(state: &State, assertion: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| format!("Invalid JWT: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!("Invalid JWT: alg {:?}, expected RS256", header.alg));
    }
    if header.kid.as_deref().is_some_and(|kid| kid != KEY_ID) {
        return Err("Invalid JWT Signature: unknown key id".into());
    }
    // The signature here; the times below by the test's clock, not the machine's.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(assertion, &state.public_key, &validation)
        .map_err(|e| format!("Invalid JWT Signature or claims: {e}"))?
        .claims;
    let now = state.clock.now().timestamp();
    if claims.iss != CLIENT_EMAIL {
        return Err(format!("Invalid JWT: iss {:?} is not the service account", claims.iss));
    }
    if claims.aud != state.token_uri {
        return Err(format!("Invalid JWT: aud {:?} is not {:?}", claims.aud, state.token_uri));
    }
    if !claims.scope.split(' ').any(|scope| scope == SCOPE) {
        return Err(format!("Invalid JWT: scope {:?} lacks {SCOPE}", claims.scope));
    }
    if claims.iat > now + CLOCK_SKEW_SECS {
        return Err("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe (iat)".into());
    }
    if claims.exp <= now || claims.exp <= claims.iat || claims.exp - claims.iat > MAX_ASSERTION_SECS {
        return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe".into());
    }
    Ok(())
}

fn refuse(error: &str, description: &str) -> Answer {
    json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": error, "error_description": description}))
}
