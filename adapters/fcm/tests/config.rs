//! A wrong configuration stops the sender at construction, naming what to fix, before any
//! push is tried.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use chat_core::domain::Utc;
use chat_core::testkit::ManualClock;
use chat_fcm::{ConfigError, FcmConfig, FcmPushSender};

fn build(config: FcmConfig) -> Result<FcmPushSender, ConfigError> {
    FcmPushSender::new(config, Arc::new(ManualClock::new(Utc::now())))
}

fn with_file(content: &str) -> (tempfile::TempDir, FcmConfig) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("key.json");
    std::fs::write(&path, content).unwrap();
    (directory, FcmConfig::new(path))
}

#[test]
fn a_missing_file_is_named() {
    let error = build(FcmConfig::new("/nonexistent/fcm.json")).err().unwrap();
    assert!(matches!(error, ConfigError::Read { .. }));
    assert!(error.to_string().contains("/nonexistent/fcm.json"), "{error}");
}

#[test]
fn a_file_that_is_not_a_service_account_key_says_why() {
    let cases = [
        ("not json", "not JSON"),
        (r#"{"type": "authorized_user", "client_id": "x", "refresh_token": "y"}"#, "\"service_account\""),
        (r#"{"type": "service_account", "project_id": "p"}"#, "\"client_email\""),
    ];
    for (content, expected) in cases {
        let (_directory, config) = with_file(content);
        let error = build(config).err().unwrap();
        assert!(matches!(error, ConfigError::ServiceAccount { .. }), "{error}");
        assert!(error.to_string().contains(expected), "{content}: {error}");
        assert!(error.to_string().contains("key.json"), "{error}");
    }
}

#[test]
fn a_broken_private_key_is_refused_at_construction() {
    let file = serde_json::json!({
        "type": "service_account",
        "project_id": "p",
        "private_key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        "client_email": "a@p.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let (_directory, config) = with_file(&file.to_string());
    let error = build(config).err().unwrap();
    assert!(error.to_string().contains("not an RSA private key"), "{error}");
}

#[tokio::test]
async fn a_bad_base_url_is_refused() {
    let setup = common::setup().await;
    let config = FcmConfig { base_url: "fcm.googleapis.com".into(), ..setup.fake.config(common::REQUEST_TIMEOUT) };
    assert!(matches!(build(config), Err(ConfigError::BaseUrl(_))));
}

#[tokio::test]
async fn the_fakes_own_file_builds_a_sender_for_its_project() {
    let setup = common::setup().await;
    assert_eq!(setup.sender.project_id(), chat_fcm::testing::PROJECT_ID);
    let defaults = FcmConfig::new(setup.fake.service_account_file());
    assert_eq!(defaults.base_url, chat_fcm::DEFAULT_BASE_URL);
    assert!(build(defaults).is_ok(), "the https default builds (rustls)");
}
