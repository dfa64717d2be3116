//! Each answer FCM can give a send, played by the fake, and what the sender makes of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use chat_core::domain::error::PortError;
use chat_core::domain::push::{Platform, PushOutcome};
use chat_core::ports::PushSender as _;
use chat_fcm::testing::Answer;
use chat_fcm::{FcmConfig, FcmPushSender};
use common::{message, setup, setup_with_timeout};

async fn outcome_of(answer: Answer) -> PushOutcome {
    let setup = setup().await;
    setup.fake.script("tok", [answer]);
    setup.sender.send(&message("tok", Platform::Android)).await.unwrap()
}

fn reason_of(outcome: &PushOutcome) -> &str {
    match outcome {
        PushOutcome::Sent => "",
        PushOutcome::TokenGone { reason } | PushOutcome::Rejected { reason } => reason,
        PushOutcome::RetryLater { reason, .. } => reason,
    }
}

#[tokio::test]
async fn accepted_is_sent() {
    let setup = setup().await;
    assert_eq!(setup.sender.send(&message("tok", Platform::Android)).await, Ok(PushOutcome::Sent));
    assert_eq!(setup.fake.delivered().len(), 1);
}

#[tokio::test]
async fn unregistered_token_is_gone() {
    let outcome = outcome_of(Answer::Unregistered).await;
    assert!(matches!(outcome, PushOutcome::TokenGone { .. }), "{outcome:?}");
    assert!(reason_of(&outcome).starts_with("UNREGISTERED"));
}

#[tokio::test]
async fn invalid_token_is_gone() {
    let outcome = outcome_of(Answer::InvalidToken).await;
    assert!(matches!(outcome, PushOutcome::TokenGone { .. }), "{outcome:?}");
    assert!(reason_of(&outcome).starts_with("INVALID_ARGUMENT"));
}

#[tokio::test]
async fn another_projects_token_is_gone() {
    let outcome = outcome_of(Answer::SenderIdMismatch).await;
    assert!(matches!(outcome, PushOutcome::TokenGone { .. }), "{outcome:?}");
    assert!(reason_of(&outcome).starts_with("SENDER_ID_MISMATCH"));
}

#[tokio::test]
async fn a_bad_field_is_rejected_and_the_token_kept() {
    let outcome = outcome_of(Answer::BadField).await;
    assert!(matches!(outcome, PushOutcome::Rejected { .. }), "{outcome:?}");
}

#[tokio::test]
async fn missing_apns_credentials_are_rejected_without_a_new_token() {
    let setup = setup().await;
    setup.fake.script("tok", [Answer::ThirdPartyAuthError]);
    let outcome = setup.sender.send(&message("tok", Platform::Ios)).await.unwrap();
    assert!(matches!(outcome, PushOutcome::Rejected { .. }), "{outcome:?}");
    assert_eq!(setup.fake.grants(), 1);
}

#[tokio::test]
async fn quota_exceeded_is_retried_after_the_seconds_said() {
    let outcome = outcome_of(Answer::QuotaExceeded(Some("17".into()))).await;
    assert_eq!(
        outcome,
        PushOutcome::RetryLater {
            after: Some(Duration::from_secs(17)),
            reason: "QUOTA_EXCEEDED: Quota exceeded.".into()
        }
    );
}

#[tokio::test]
async fn unavailable_is_retried_after_the_date_said() {
    let setup = setup().await;
    let now = chat_core::ports::Clock::now(&*setup.clock);
    let at = std::time::SystemTime::from(now) + Duration::from_secs(120);
    setup.fake.script("tok", [Answer::Unavailable(Some(httpdate::fmt_http_date(at)))]);
    let outcome = setup.sender.send(&message("tok", Platform::Android)).await.unwrap();
    assert!(
        matches!(outcome, PushOutcome::RetryLater { after: Some(after), .. } if (119..=120).contains(&after.as_secs())),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn internal_error_is_retried_with_or_without_retry_after() {
    let outcome = outcome_of(Answer::Internal(None)).await;
    assert!(matches!(outcome, PushOutcome::RetryLater { after: None, .. }), "{outcome:?}");
    let outcome = outcome_of(Answer::Internal(Some("3".into()))).await;
    assert!(matches!(outcome, PushOutcome::RetryLater { after: Some(d), .. } if d == Duration::from_secs(3)));
}

#[tokio::test]
async fn a_stalled_answer_times_out_and_is_retried_while_others_go_through() {
    let setup = setup_with_timeout(Duration::from_secs(1)).await;
    // The grant first, so that the timeout below only has sends to cover.
    assert_eq!(setup.sender.send(&message("warm-up", Platform::Android)).await, Ok(PushOutcome::Sent));
    setup.fake.script("stuck", [Answer::Stall]);
    let (stuck, fine) = (message("stuck", Platform::Android), message("fine", Platform::Android));
    let (stuck, fine) = tokio::join!(setup.sender.send(&stuck), setup.sender.send(&fine));
    let stuck = stuck.unwrap();
    assert!(
        matches!(&stuck, PushOutcome::RetryLater { after: None, reason } if reason.starts_with("timeout")),
        "{stuck:?}"
    );
    assert_eq!(fine, Ok(PushOutcome::Sent));
    // The stalled stream did not take the connection with it.
    assert_eq!(setup.sender.send(&message("after", Platform::Android)).await, Ok(PushOutcome::Sent));
    assert_eq!(setup.fake.connections(), 1);
}

#[tokio::test]
async fn an_unreachable_fcm_is_retried() {
    let setup = setup().await;
    // A port nothing listens on: bind one, note it, close it.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let config = FcmConfig { base_url: format!("http://{closed}"), ..setup.fake.config(common::REQUEST_TIMEOUT) };
    let sender = FcmPushSender::new(config, setup.clock.clone()).unwrap();
    let outcome = sender.send(&message("tok", Platform::Android)).await.unwrap();
    assert!(
        matches!(&outcome, PushOutcome::RetryLater { after: None, reason } if reason.starts_with("connection failed")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_project_the_account_may_not_use_is_an_error() {
    let setup = setup().await;
    let mut account = setup.fake.service_account();
    account["project_id"] = "someone-elses-project".into();
    let file = setup.fake.write_service_account("other-project.json", &account);
    let config = FcmConfig { service_account_file: file, ..setup.fake.config(common::REQUEST_TIMEOUT) };
    let sender = FcmPushSender::new(config, setup.clock.clone()).unwrap();
    let error = sender.send(&message("tok", Platform::Android)).await.unwrap_err();
    assert!(
        matches!(&error, PortError::Internal(why) if why.contains("someone-elses-project") && why.contains("PERMISSION_DENIED")),
        "{error:?}"
    );
}
