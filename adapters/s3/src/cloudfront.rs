//! CloudFront signed URLs with a canned policy: the URL, `Expires`, `Signature` and
//! `Key-Pair-Id`, the signature being RSA-SHA1 (PKCS#1 v1.5) over the policy JSON
//! `{"Statement":[{"Resource":URL,"Condition":{"DateLessThan":{"AWS:EpochTime":EXPIRES}}}]}`
//! (no whitespace: CloudFront rebuilds it byte for byte), in CloudFront's URL-safe base64.
//! No maintained crate does this, and it is small.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::rand_core::OsRng;
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use sha1::Sha1;

use crate::config::{CdnConfig, ConfigError};

/// Signs download URLs of one distribution.
pub(crate) struct CloudFrontSigner {
    domain: String,
    key_pair_id: String,
    key: SigningKey<Sha1>,
}

impl CloudFrontSigner {
    /// Reads the private key named by `config`.
    pub(crate) fn from_config(config: &CdnConfig) -> Result<CloudFrontSigner, ConfigError> {
        let fail = |reason: String| ConfigError::CdnKey { path: config.private_key_file.clone(), reason };
        if config.domain.is_empty() {
            return Err(ConfigError::Empty("CDN_DOMAIN"));
        }
        if config.key_pair_id.is_empty() {
            return Err(ConfigError::Empty("CDN_KEY_PAIR_ID"));
        }
        let pem = std::fs::read_to_string(&config.private_key_file).map_err(|e| fail(e.to_string()))?;
        let key = parse_private_key(&pem).map_err(fail)?;
        Ok(CloudFrontSigner {
            domain: config.domain.trim_end_matches('/').to_owned(),
            key_pair_id: config.key_pair_id.clone(),
            key: SigningKey::<Sha1>::new(key),
        })
    }

    /// The signed URL of `path_and_query` (already percent-encoded, starting with `/`),
    /// valid until `expires` (Unix seconds).
    pub(crate) fn sign(&self, path_and_query: &str, expires: i64) -> String {
        let resource = format!("https://{}{}", self.domain, path_and_query);
        let policy = canned_policy(&resource, expires);
        // Blinded with fresh randomness (the signature itself is deterministic): the rsa
        // crate's arithmetic is not constant-time (RUSTSEC-2023-0071), and blinding keeps
        // each signing's timing from following the key and the policy together.
        let signature = cloudfront_base64(&self.key.sign_with_rng(&mut OsRng, policy.as_bytes()).to_bytes());
        let separator = if resource.contains('?') { '&' } else { '?' };
        format!("{resource}{separator}Expires={expires}&Signature={signature}&Key-Pair-Id={}", self.key_pair_id)
    }
}

/// The key in either PEM form CloudFront documents: `openssl genrsa` writes PKCS#1
/// (`BEGIN RSA PRIVATE KEY`), newer OpenSSL and the console PKCS#8 (`BEGIN PRIVATE KEY`).
fn parse_private_key(pem: &str) -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|e| format!("not an RSA private key in PEM (PKCS#1 or PKCS#8): {e}"))
}

/// The canned policy CloudFront rebuilds from the URL and `Expires` to check the signature.
pub(crate) fn canned_policy(resource: &str, expires: i64) -> String {
    let resource = serde_json::Value::String(resource.to_owned());
    format!(
        r#"{{"Statement":[{{"Resource":{resource},"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// Base64 with CloudFront's replacements of the characters that query strings mangle.
fn cloudfront_base64(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier as _;

    use super::*;

    /// A 2048-bit key made with `openssl genrsa` for this test only.
    const TEST_KEY: &str = include_str!("../tests/fixtures/cloudfront-test-key.pem");

    fn signer() -> CloudFrontSigner {
        let key = parse_private_key(TEST_KEY).unwrap();
        CloudFrontSigner {
            domain: "d111111abcdef8.cloudfront.net".into(),
            key_pair_id: "K2JCJMDEHXQW5F".into(),
            key: SigningKey::new(key),
        }
    }

    fn query_value<'a>(url: &'a str, name: &str) -> &'a str {
        let query = url.split_once('?').unwrap().1;
        query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}="))).unwrap()
    }

    #[test]
    fn the_signature_verifies_with_the_public_key_over_the_canned_policy() {
        let signer = signer();
        let url = signer.sign("/originals/a/b?response-content-type=image%2Fpng", 1_700_000_000);

        assert!(url.starts_with("https://d111111abcdef8.cloudfront.net/originals/a/b?response-content-type=image%2Fpng&Expires=1700000000&Signature="));
        assert_eq!(query_value(&url, "Key-Pair-Id"), "K2JCJMDEHXQW5F");
        let encoded = query_value(&url, "Signature");
        assert!(!encoded.contains(['+', '=', '/']), "{encoded}");
        let standard: String = encoded
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '=',
                '~' => '/',
                other => other,
            })
            .collect();
        let signature = Signature::try_from(STANDARD.decode(standard).unwrap().as_slice()).unwrap();

        let public = VerifyingKey::<Sha1>::new(parse_private_key(TEST_KEY).unwrap().to_public_key());
        let policy = r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/originals/a/b?response-content-type=image%2Fpng","Condition":{"DateLessThan":{"AWS:EpochTime":1700000000}}}]}"#;
        public.verify(policy.as_bytes(), &signature).expect("signature over the canned policy");
        // OpenSSL, signing the same policy with the same key, agrees byte for byte
        // (`openssl dgst -sha1 -sign key.pem | openssl base64 -A | tr '+=/' '-_~'`).
        let openssl = include_str!("../tests/fixtures/cloudfront-test-signature.txt");
        assert_eq!(encoded, openssl.trim());
        let other = policy.replace("1700000000", "1700000001");
        assert!(public.verify(other.as_bytes(), &signature).is_err(), "another expiry must not verify");
    }

    #[test]
    fn both_pem_forms_are_read_and_anything_else_is_refused() {
        assert!(parse_private_key(TEST_KEY).is_ok());
        let pkcs8 = include_str!("../tests/fixtures/cloudfront-test-key-pkcs8.pem");
        assert!(parse_private_key(pkcs8).is_ok());
        assert!(parse_private_key("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    }
}
