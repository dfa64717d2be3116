//! What a worker's run does with each answer of the push service: counts what was sent,
//! removes gone tokens, keeps rejected ones, gives each device asked to come back a job of
//! its own (or fails a one-device job), and retries the job when planning cannot read.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_executor::block_on;

use super::{Log, Mocks, Scene, device_id, message_id, token, unused_queue};
use crate::app::push::{DEVICE_RETRY, PushJobEnd, PushReport, run};
use crate::domain::error::PortError;
use crate::domain::job::JobTask;
use crate::domain::push::{PushEvent, PushOutcome, PushTask};
use crate::ports::*;

/// A push service answering each token with `answer`, recording the tokens it was sent to.
fn push_service(
    answer: impl Fn(&str) -> Result<PushOutcome, PortError> + Send + 'static,
) -> (MockPushSender, Arc<Mutex<Vec<String>>>) {
    let sent_to = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sent_to);
    let mut service = MockPushSender::new();
    service.expect_send().returning(move |notification| {
        let token = notification.token.as_str();
        record.lock().unwrap_or_else(PoisonError::into_inner).push(token.to_owned());
        answer(token)
    });
    (service, sent_to)
}

fn sorted(tokens: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    let mut tokens = tokens.lock().unwrap_or_else(PoisonError::into_inner).clone();
    tokens.sort();
    tokens
}

fn all_tokens() -> Vec<String> {
    (1..=4).map(token).collect()
}

fn fan_out() -> PushTask {
    PushTask::event(PushEvent::Message(message_id()))
}

fn one_device(n: u128) -> PushTask {
    PushTask { event: PushEvent::Message(message_id()), device: Some(device_id(n)) }
}

fn retry_later(after: Option<Duration>) -> Result<PushOutcome, PortError> {
    Ok(PushOutcome::RetryLater { after, reason: "unavailable (503)".into() })
}

/// Runs `task` over the default scene, with `mocks` adjusted by `adjust` (for the device
/// removals and the queue).
fn run_scene(task: PushTask, service: &MockPushSender, adjust: impl FnOnce(&mut Mocks)) -> PushJobEnd {
    let log = Log::default();
    let mut mocks = Scene::new().mocks(&log);
    adjust(&mut mocks);
    block_on(run(&mocks.into_deps(), service, task))
}

#[test]
fn accepted_notifications_are_counted_with_the_latency_since_the_message() {
    let (service, sent_to) = push_service(|_| Ok(PushOutcome::Sent));
    let end = run_scene(fan_out(), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    assert_eq!(end, PushJobEnd::Finished(PushReport { sent: 4, latency_ms: Some(1500), ..PushReport::default() }));
    assert_eq!(sorted(&sent_to), all_tokens());
}

#[test]
fn a_gone_token_is_removed_and_counted() {
    let (service, sent_to) = push_service(|token| match token {
        "token-2" => Ok(PushOutcome::TokenGone { reason: "UNREGISTERED".into() }),
        _ => Ok(PushOutcome::Sent),
    });
    let end = run_scene(fan_out(), &service, |mocks| {
        mocks.devices.expect_remove_token().withf(|t| t.as_str() == "token-2").times(1).returning(|_| Ok(true));
    });
    let expected = PushReport {
        sent: 3,
        failed: vec![("token_gone", "UNREGISTERED".into())],
        tokens_removed: 1,
        latency_ms: Some(1500),
        ..PushReport::default()
    };
    assert_eq!(end, PushJobEnd::Finished(expected));
    assert_eq!(sorted(&sent_to), all_tokens());
}

#[test]
fn a_rejected_notification_is_counted_as_failed_and_its_token_kept() {
    let (service, _) = push_service(|token| match token {
        "token-3" => Ok(PushOutcome::Rejected { reason: "INVALID_ARGUMENT".into() }),
        _ => Ok(PushOutcome::Sent),
    });
    let end = run_scene(fan_out(), &service, |mocks| {
        mocks.devices.expect_remove_token().never();
        mocks.push_jobs = Some(unused_queue());
    });
    let expected = PushReport {
        sent: 3,
        failed: vec![("rejected", "INVALID_ARGUMENT".into())],
        latency_ms: Some(1500),
        ..PushReport::default()
    };
    assert_eq!(end, PushJobEnd::Finished(expected));
}

#[test]
fn a_fan_out_retries_only_the_devices_asked_to_come_back_each_in_a_job_of_its_own() {
    let (service, sent_to) = push_service(|token| match token {
        "token-1" => retry_later(Some(Duration::from_secs(30))),
        "token-4" => retry_later(None),
        _ => Ok(PushOutcome::Sent),
    });
    let mut queue = MockJobQueue::new();
    queue
        .expect_enqueue_after()
        .withf(|task, delay| *task == JobTask::Push(one_device(1)) && *delay == Duration::from_secs(30))
        .times(1)
        .returning(|_, _| Ok(true));
    queue
        .expect_enqueue_after()
        .withf(|task, delay| *task == JobTask::Push(one_device(4)) && *delay == DEVICE_RETRY)
        .times(1)
        .returning(|_, _| Ok(true));
    queue.expect_enqueue().never();
    let end = run_scene(fan_out(), &service, |mocks| mocks.push_jobs = Some(queue));
    assert_eq!(
        end,
        PushJobEnd::Finished(PushReport { sent: 2, deferred: 2, latency_ms: Some(1500), ..PushReport::default() })
    );
    // Each device was sent to once; the served ones are in no retry (an enqueue_after for
    // them matches no expectation and fails the test).
    assert_eq!(sorted(&sent_to), all_tokens());
}

#[test]
fn a_send_error_is_retried_like_a_retry_later_without_retry_after() {
    let (service, _) = push_service(|token| match token {
        "token-3" => Err(PortError::Unavailable("connection reset".into())),
        _ => Ok(PushOutcome::Sent),
    });
    let mut queue = MockJobQueue::new();
    queue
        .expect_enqueue_after()
        .withf(|task, delay| *task == JobTask::Push(one_device(3)) && *delay == DEVICE_RETRY)
        .times(1)
        .returning(|_, _| Ok(true));
    let end = run_scene(fan_out(), &service, |mocks| mocks.push_jobs = Some(queue));
    assert_eq!(
        end,
        PushJobEnd::Finished(PushReport { sent: 3, deferred: 1, latency_ms: Some(1500), ..PushReport::default() })
    );
}

#[test]
fn a_one_device_job_sends_only_to_its_device() {
    let (service, sent_to) = push_service(|_| Ok(PushOutcome::Sent));
    let end = run_scene(one_device(2), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    assert_eq!(end, PushJobEnd::Finished(PushReport { sent: 1, latency_ms: Some(1500), ..PushReport::default() }));
    assert_eq!(sorted(&sent_to), vec![token(2)]);
}

#[test]
fn a_one_device_job_for_a_device_no_longer_to_notify_sends_nothing() {
    let (service, sent_to) = push_service(|_| Ok(PushOutcome::Sent));
    // Device 0 is the sender's.
    let end = run_scene(one_device(0), &service, |_| {});
    assert_eq!(end, PushJobEnd::Finished(PushReport::default()));
    assert!(sorted(&sent_to).is_empty());
}

#[test]
fn a_one_device_job_asked_to_come_back_fails_its_job_with_the_retry_after() {
    let (service, sent_to) = push_service(|_| retry_later(Some(Duration::from_secs(10))));
    let end = run_scene(one_device(2), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    assert_eq!(
        end,
        PushJobEnd::Retry {
            reason: "unavailable (503)".into(),
            after: Some(Duration::from_secs(10)),
            report: PushReport::default()
        }
    );
    assert_eq!(sorted(&sent_to), vec![token(2)]);
}

#[test]
fn a_one_device_job_whose_send_errs_fails_its_job_without_retry_after() {
    let (service, _) = push_service(|_| Err(PortError::Unavailable("timed out".into())));
    let end = run_scene(one_device(3), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    let PushJobEnd::Retry { reason, after, report } = end else { panic!("expected a retry, got {end:?}") };
    assert!(reason.contains("timed out"), "{reason}");
    assert_eq!((after, report), (None, PushReport::default()));
}

#[test]
fn a_store_error_while_planning_retries_the_job_and_sends_nothing() {
    let unreachable = || PortError::Unavailable("connection refused".into());
    let mut message_unread = Mocks::new();
    message_unread.messages.expect_message().times(1).returning(move |_| Err(unreachable()));
    let mut devices_unread = Scene::new().mocks(&Log::default());
    devices_unread.devices = MockDeviceRepo::new();
    devices_unread.devices.expect_devices_of_users().times(1).returning(move |_| Err(unreachable()));
    for mocks in [message_unread, devices_unread] {
        let mut service = MockPushSender::new();
        service.expect_send().never();
        let end = block_on(run(&mocks.into_deps(), &service, fan_out()));
        assert_eq!(
            end,
            PushJobEnd::Retry { reason: unreachable().to_string(), after: None, report: PushReport::default() }
        );
    }
}
