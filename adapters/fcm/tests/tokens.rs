//! The OAuth access token: granted against the fake's token endpoint (which verifies the
//! assertion), kept across sends, replaced near expiry and after a 401, one grant at a time,
//! and every send on one HTTP/2 connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::domain::Duration;
use chat_core::domain::error::PortError;
use chat_core::domain::push::{Platform, PushOutcome};
use chat_core::ports::{HealthCheck as _, PushSender as _};
use chat_fcm::testing::{Answer, UNTRUSTED_KEY_PEM};
use chat_fcm::{FcmConfig, FcmPushSender};
use common::{message, setup};
use futures_util::future::join_all;

#[tokio::test]
async fn the_token_is_kept_across_sends() {
    let setup = setup().await;
    for i in 0..5 {
        assert_eq!(setup.sender.send(&message(&format!("tok-{i}"), Platform::Android)).await, Ok(PushOutcome::Sent));
    }
    assert_eq!(setup.fake.grants(), 1);
    assert_eq!(setup.fake.sends(), 5);
}

#[tokio::test]
async fn the_token_is_replaced_five_minutes_before_it_expires() {
    let setup = setup().await;
    let push = message("tok", Platform::Android);
    let send = || setup.sender.send(&push);
    assert_eq!(send().await, Ok(PushOutcome::Sent));
    setup.clock.advance(Duration::minutes(54));
    assert_eq!(send().await, Ok(PushOutcome::Sent));
    assert_eq!(setup.fake.grants(), 1, "a token with six minutes left is kept");
    setup.clock.advance(Duration::minutes(2));
    assert_eq!(send().await, Ok(PushOutcome::Sent));
    assert_eq!(setup.fake.grants(), 2, "a token with four minutes left is replaced");
}

#[tokio::test]
async fn a_short_lived_token_is_kept_for_half_its_life() {
    let setup = setup().await;
    setup.fake.set_token_lifetime(120);
    let push = message("tok", Platform::Android);
    let send = || setup.sender.send(&push);
    assert_eq!(send().await, Ok(PushOutcome::Sent));
    setup.clock.advance(Duration::seconds(59));
    assert_eq!(send().await, Ok(PushOutcome::Sent));
    assert_eq!(setup.fake.grants(), 1);
    setup.clock.advance(Duration::seconds(2));
    assert_eq!(send().await, Ok(PushOutcome::Sent));
    assert_eq!(setup.fake.grants(), 2);
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_the_send_retried() {
    let setup = setup().await;
    assert_eq!(setup.sender.send(&message("tok", Platform::Android)).await, Ok(PushOutcome::Sent));
    setup.fake.revoke_access_tokens();
    assert_eq!(setup.sender.send(&message("tok", Platform::Android)).await, Ok(PushOutcome::Sent));
    assert_eq!(setup.fake.grants(), 2);
    assert_eq!(setup.fake.sends(), 3, "the refused send was sent again");
    assert_eq!(setup.fake.delivered().len(), 2);
}

#[tokio::test]
async fn a_401_after_a_fresh_token_is_retried_later() {
    let setup = setup().await;
    setup.fake.script("tok", [Answer::Unauthenticated, Answer::Unauthenticated]);
    let outcome = setup.sender.send(&message("tok", Platform::Android)).await.unwrap();
    assert!(
        matches!(&outcome, PushOutcome::RetryLater { after: None, reason } if reason.starts_with("UNAUTHENTICATED"))
    );
    assert_eq!(setup.fake.grants(), 2, "one replacement, not a loop");
    assert_eq!(setup.fake.sends(), 2);
}

#[tokio::test]
async fn concurrent_sends_share_one_grant_and_one_connection() {
    let setup = setup().await;
    let sends = (0..64).map(|i| {
        let sender = setup.sender.clone();
        async move { sender.send(&message(&format!("tok-{i}"), Platform::Android)).await }
    });
    for outcome in join_all(sends).await {
        assert_eq!(outcome, Ok(PushOutcome::Sent));
    }
    assert_eq!(setup.fake.grants(), 1);
    assert_eq!(setup.fake.connections(), 1);
    assert_eq!(setup.fake.delivered().len(), 64);
}

#[tokio::test]
async fn concurrent_401s_make_one_new_grant() {
    let setup = setup().await;
    assert_eq!(setup.sender.send(&message("warm-up", Platform::Android)).await, Ok(PushOutcome::Sent));
    setup.fake.revoke_access_tokens();
    let sends = (0..32).map(|i| {
        let sender = setup.sender.clone();
        async move { sender.send(&message(&format!("tok-{i}"), Platform::Android)).await }
    });
    for outcome in join_all(sends).await {
        assert_eq!(outcome, Ok(PushOutcome::Sent));
    }
    assert_eq!(setup.fake.grants(), 2);
}

#[tokio::test]
async fn a_token_endpoint_that_is_down_means_retry_later_for_every_waiting_send() {
    let setup = setup().await;
    setup.fake.set_token_endpoint_down(true);
    let sends = (0..8).map(|i| {
        let sender = setup.sender.clone();
        async move { sender.send(&message(&format!("tok-{i}"), Platform::Android)).await }
    });
    for outcome in join_all(sends).await {
        assert!(matches!(outcome, Ok(PushOutcome::RetryLater { .. })), "{outcome:?}");
    }
    assert_eq!(setup.fake.token_requests(), 1, "the sends that waited took the first one's failure");
    assert_eq!(setup.fake.sends(), 0);
    assert!(setup.sender.check().await.is_err());
    setup.fake.set_token_endpoint_down(false);
    assert_eq!(setup.sender.send(&message("tok", Platform::Android)).await, Ok(PushOutcome::Sent));
    assert!(setup.sender.check().await.is_ok());
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused() {
    let setup = setup().await;
    let mut account = setup.fake.service_account();
    account["private_key"] = UNTRUSTED_KEY_PEM.into();
    let file = setup.fake.write_service_account("wrong-key.json", &account);
    let config = FcmConfig { service_account_file: file, ..setup.fake.config(common::REQUEST_TIMEOUT) };
    let sender = FcmPushSender::new(config, setup.clock.clone()).unwrap();
    let error = sender.send(&message("tok", Platform::Android)).await.unwrap_err();
    assert!(matches!(&error, PortError::Internal(why) if why.contains("invalid_grant")), "{error:?}");
    assert!(sender.check().await.is_err());
    assert_eq!((setup.fake.grants(), setup.fake.sends()), (0, 0));
}

#[tokio::test]
async fn an_assertion_for_another_account_is_refused() {
    let setup = setup().await;
    let mut account = setup.fake.service_account();
    account["client_email"] = "someone@else.iam.gserviceaccount.com".into();
    let file = setup.fake.write_service_account("other-account.json", &account);
    let config = FcmConfig { service_account_file: file, ..setup.fake.config(common::REQUEST_TIMEOUT) };
    let sender = FcmPushSender::new(config, setup.clock.clone()).unwrap();
    let error = sender.send(&message("tok", Platform::Android)).await.unwrap_err();
    assert!(matches!(&error, PortError::Internal(why) if why.contains("iss")), "{error:?}");
}
