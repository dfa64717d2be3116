//! The Google service-account key file (the JSON the Cloud console downloads): which
//! Firebase project to send for, who signs the OAuth grant, with which key, and where the
//! grant goes. Read and checked once, when the sender is built, so that a wrong file stops
//! the process at start rather than failing every push later.

use std::path::Path;

use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::DecodePrivateKey as _;
use serde::Deserialize;

use crate::config::ConfigError;

/// A checked service account.
pub(crate) struct ServiceAccount {
    /// The Firebase (Google Cloud) project the messages are sent for.
    pub(crate) project_id: String,
    /// The account's identity, the assertion's issuer.
    pub(crate) client_email: String,
    /// Which of the account's keys signs, sent as the assertion's `kid` when the file says.
    pub(crate) private_key_id: Option<String>,
    /// The OAuth token endpoint exactly as the file writes it: it is also the assertion's
    /// audience, which the endpoint compares as a string.
    pub(crate) token_uri: String,
    /// The private key, ready for RS256.
    pub(crate) signing_key: jsonwebtoken::EncodingKey,
}

/// The fields read; the file has more (`client_id`, `auth_uri`, ...), which are not needed.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccount {
    /// Reads and checks the key file at `path`.
    pub(crate) fn read(path: &Path) -> Result<ServiceAccount, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_owned(), reason: e.to_string() })?;
        ServiceAccount::parse(&text).map_err(|reason| ConfigError::ServiceAccount { path: path.to_owned(), reason })
    }

    /// Checks a key file's text; the error says what is wrong in words an operator can act on.
    pub(crate) fn parse(text: &str) -> Result<ServiceAccount, String> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| format!("not JSON of the expected shape ({e})"))?;
        if let Some(kind) = file.kind.as_deref()
            && kind != "service_account"
        {
            return Err(format!(
                "its \"type\" is {kind:?}, not \"service_account\": download a key of a service account \
                 (IAM > Service accounts > Keys), not user or client credentials"
            ));
        }
        let project_id = required(file.project_id, "project_id")?;
        let client_email = required(file.client_email, "client_email")?;
        let token_uri = required(file.token_uri, "token_uri")?;
        let private_key = required(file.private_key, "private_key")?;
        // It goes into the send URL's path: Google's ids are letters, digits and hyphens
        // (older ones `domain.com:name`), nothing that could change the path.
        if !project_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':')) {
            return Err(format!("its \"project_id\" {project_id:?} is not a Google Cloud project id"));
        }
        match url::Url::parse(&token_uri) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
            _ => return Err(format!("its \"token_uri\" {token_uri:?} is not an http(s) URL")),
        }
        Ok(ServiceAccount {
            project_id,
            client_email,
            private_key_id: file.private_key_id.filter(|id| !id.is_empty()),
            token_uri,
            signing_key: signing_key(&private_key)?,
        })
    }
}

fn required(value: Option<String>, field: &str) -> Result<String, String> {
    match value {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(format!("it has no \"{field}\"")),
    }
}

/// Google writes PKCS#8 (`BEGIN PRIVATE KEY`); PKCS#1 (`BEGIN RSA PRIVATE KEY`) is taken too.
/// jsonwebtoken wants PKCS#1 DER; parsing here also proves the key usable before any send.
fn signing_key(pem: &str) -> Result<jsonwebtoken::EncodingKey, String> {
    let key = RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| format!("its \"private_key\" is not an RSA private key in PEM ({e})"))?;
    let der = key.to_pkcs1_der().map_err(|e| format!("its \"private_key\" cannot be re-encoded ({e})"))?;
    Ok(jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../fixtures/test-only-service-account-key.pem");

    fn file(overrides: serde_json::Value) -> String {
        let mut file = serde_json::json!({
            "type": "service_account",
            "project_id": "chat-test",
            "private_key_id": "k1",
            "private_key": KEY,
            "client_email": "push@chat-test.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        for (field, value) in overrides.as_object().into_iter().flatten() {
            file[field] = value.clone();
        }
        file.to_string()
    }

    fn error(text: &str) -> String {
        ServiceAccount::parse(text).err().unwrap_or_default()
    }

    #[test]
    fn a_complete_key_file_is_accepted() {
        let account = ServiceAccount::parse(&file(serde_json::json!({}))).unwrap();
        assert_eq!(account.project_id, "chat-test");
        assert_eq!(account.token_uri, "https://oauth2.googleapis.com/token");
        assert_eq!(account.private_key_id.as_deref(), Some("k1"));
    }

    #[test]
    fn each_wrong_part_is_named() {
        assert!(error("{").contains("not JSON"));
        assert!(error(&file(serde_json::json!({"type": "authorized_user"}))).contains("\"service_account\""));
        assert!(error(&file(serde_json::json!({"project_id": null}))).contains("\"project_id\""));
        assert!(error(&file(serde_json::json!({"client_email": ""}))).contains("\"client_email\""));
        assert!(error(&file(serde_json::json!({"project_id": "a/../b"}))).contains("not a Google Cloud project id"));
        assert!(error(&file(serde_json::json!({"token_uri": "oauth2.googleapis.com"}))).contains("\"token_uri\""));
        assert!(
            error(&file(serde_json::json!({"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n"})))
                .contains("not an RSA private key")
        );
    }
}
