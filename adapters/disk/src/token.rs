//! The signed tokens of the blob URLs: `{payload}.{signature}`, both base64url without
//! padding; the payload is JSON (what the URL allows, until when, and a random nonce), the
//! signature HMAC-SHA256 of the payload's text under the store's key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::domain::Timestamp;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a token allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Grant {
    /// PUT exactly `size` bytes of `content_type` to `key`.
    Put {
        /// The object's key.
        key: String,
        /// The only `Content-Type` accepted.
        content_type: String,
        /// The exact body length.
        size: u64,
    },
    /// PUT exactly `size` bytes as part `number` of multipart upload `upload` to `key`.
    Part {
        /// The key the upload completes to.
        key: String,
        /// The upload id.
        upload: String,
        /// The part number, from 1.
        number: u32,
        /// The exact body length.
        size: u64,
    },
    /// GET `key`, presented so.
    Get {
        /// The object's key.
        key: String,
        /// The `Content-Type` to serve.
        content_type: String,
        /// The file name to suggest.
        filename: String,
        /// `attachment` rather than `inline`.
        attachment: bool,
    },
}

/// A token's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Token {
    /// What it allows.
    #[serde(flatten)]
    pub grant: Grant,
    /// Until when, in Unix seconds.
    pub expires: i64,
    /// Random, so that two tokens for the same thing differ and an upload token can be
    /// claimed once.
    pub nonce: String,
}

/// Why a token was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    /// Not a token this store signed (or changed since).
    InvalidSignature,
    /// Signed, but its time is up.
    Expired,
}

/// Signs and checks tokens with one key.
#[derive(Clone)]
pub(crate) struct Signer {
    key: Vec<u8>,
}

impl Signer {
    /// A signer with `key` (any length; HMAC hashes long keys).
    pub(crate) fn new(key: Vec<u8>) -> Signer {
        Signer { key }
    }

    /// The token for `token`'s payload.
    pub(crate) fn sign(&self, token: &Token) -> Result<String, serde_json::Error> {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(token)?);
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        Ok(format!("{payload}.{signature}"))
    }

    /// The payload of `text` if this key signed it and it has not expired at `now`.
    pub(crate) fn verify(&self, text: &str, now: Timestamp) -> Result<Token, TokenRefusal> {
        let (payload, signature) = text.split_once('.').ok_or(TokenRefusal::InvalidSignature)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenRefusal::InvalidSignature)?;
        // `verify_slice` compares in constant time.
        self.mac(payload).verify_slice(&signature).map_err(|_| TokenRefusal::InvalidSignature)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenRefusal::InvalidSignature)?;
        let token: Token = serde_json::from_slice(&json).map_err(|_| TokenRefusal::InvalidSignature)?;
        if now.timestamp() >= token.expires {
            return Err(TokenRefusal::Expired);
        }
        Ok(token)
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this never fails; the fallback keeps it total.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        mac.update(b"chat-disk-v1.");
        mac.update(payload.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, Utc};

    use super::*;

    fn token(expires: i64) -> Token {
        Token {
            grant: Grant::Put { key: "incoming/u/m".into(), content_type: "image/png".into(), size: 10 },
            expires,
            nonce: "n".into(),
        }
    }

    #[test]
    fn a_token_verifies_under_its_key_only_and_until_it_expires() {
        let now = Utc::now();
        let signer = Signer::new(b"key one".to_vec());
        let text = signer.sign(&token((now + Duration::minutes(5)).timestamp())).unwrap();
        assert_eq!(signer.verify(&text, now).unwrap(), token((now + Duration::minutes(5)).timestamp()));
        let other = Signer::new(b"key two".to_vec());
        assert_eq!(other.verify(&text, now), Err(TokenRefusal::InvalidSignature));
        assert_eq!(signer.verify(&text, now + Duration::minutes(6)), Err(TokenRefusal::Expired));
    }

    #[test]
    fn a_changed_payload_is_refused() {
        let now = Utc::now();
        let signer = Signer::new(b"key".to_vec());
        let text = signer.sign(&token((now + Duration::minutes(5)).timestamp())).unwrap();
        let (_, signature) = text.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token(i64::MAX)).unwrap());
        assert_eq!(signer.verify(&format!("{forged}.{signature}"), now), Err(TokenRefusal::InvalidSignature));
        assert_eq!(signer.verify("garbage", now), Err(TokenRefusal::InvalidSignature));
    }
}
