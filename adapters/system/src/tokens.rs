//! HS256 JWT access tokens and opaque refresh tokens (stored as SHA-256 digests).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::domain::Timestamp;
use chat_core::domain::account::{AccessClaims, TokenHash};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{SessionId, UserId};
use chat_core::ports::TokenIssuer;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub struct JwtTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: uuid::Uuid,
    sid: uuid::Uuid,
    exp: i64,
}

impl JwtTokens {
    /// `secret` should be at least 32 random bytes.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the clock port in `verify_access`, so tests control time.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        JwtTokens { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }
}

impl TokenIssuer for JwtTokens {
    fn issue_access(&self, claims: &AccessClaims) -> Result<String, PortError> {
        let claims = Claims { sub: claims.user_id.0, sid: claims.session_id.0, exp: claims.expires_at.timestamp() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| PortError::Internal(format!("signing a token: {error}")))
    }

    fn verify_access(&self, token: &str, now: Timestamp) -> Option<AccessClaims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        let expires_at = Timestamp::from_timestamp(claims.exp, 0)?;
        (expires_at > now).then_some(AccessClaims {
            user_id: UserId(claims.sub),
            session_id: SessionId(claims.sid),
            expires_at,
        })
    }

    fn new_refresh_token(&self) -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn hash_refresh_token(&self, token: &str) -> TokenHash {
        TokenHash(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::domain::Duration;

    #[test]
    fn tokens_round_trip_and_expire_by_the_given_clock() {
        let tokens = JwtTokens::new(b"0123456789abcdef0123456789abcdef");
        let now = chrono::Utc::now();
        let claims = AccessClaims {
            user_id: UserId(uuid::Uuid::now_v7()),
            session_id: SessionId(uuid::Uuid::now_v7()),
            expires_at: now + Duration::minutes(15),
        };
        let token = tokens.issue_access(&claims).unwrap_or_default();
        let verified = tokens.verify_access(&token, now);
        assert_eq!(verified.map(|c| (c.user_id, c.session_id)), Some((claims.user_id, claims.session_id)));
        assert!(tokens.verify_access(&token, now + Duration::minutes(16)).is_none());
        let other = JwtTokens::new(b"another secret, another server!!");
        assert!(other.verify_access(&token, now).is_none());
        assert_ne!(tokens.new_refresh_token(), tokens.new_refresh_token());
    }
}
