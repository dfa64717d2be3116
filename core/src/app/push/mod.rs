//! Push notifications. The events that notify (a message, a friend request, an accepted
//! request) are queued where they happen ([`enqueue`], best effort, off the request's path),
//! and a worker runs each job ([`run`]): who is notified, on which devices, saying what
//! (`plan`), then one send per device and what becomes of each answer.
//!
//! A job sends to every device of its event at once. A device the push service asks to
//! come back to later gets a job of its own (`PushTask::device`), delayed by the service's
//! `Retry-After`; so a retry never notifies twice the devices that were served.

mod plan;
#[cfg(test)]
mod tests;

use std::time::Duration;

use futures_util::StreamExt as _;

use crate::domain::job::JobTask;
use crate::domain::push::{PushEvent, PushOutcome, PushTask};
use crate::ports::PushSender;

use super::Deps;
pub use plan::{Plan, Planned, plan};

/// How many sends of one job are in flight at once, over the sender's one connection.
const SENDS_IN_FLIGHT: usize = 32;

/// The wait before a device's own retry when the push service gave no `Retry-After`.
pub const DEVICE_RETRY: Duration = Duration::from_secs(2);

/// Queues the push job of an event, when push is configured. Never fails the caller: the
/// event happened; a job that cannot be queued (the queue unreachable) is a notification
/// lost, logged.
pub(crate) async fn enqueue(deps: &Deps, event: PushEvent) {
    let Some(queue) = &deps.push_jobs else { return };
    if let Err(error) = queue.enqueue(JobTask::Push(PushTask::event(event))).await {
        tracing::warn!(%error, ?event, "push job not queued; its notification is lost");
    }
}

/// What a push job did, for the worker's metrics and logs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PushReport {
    /// Notifications the push service accepted.
    pub sent: u64,
    /// Notifications that failed for good, by reason (`rejected`, `retry_lost`, ...).
    pub failed: Vec<(&'static str, String)>,
    /// Registrations removed because the service said their token is gone.
    pub tokens_removed: u64,
    /// Devices handed to a job of their own, to retry later.
    pub deferred: u64,
    /// From the event to the service's acceptance of the last notification, when any was
    /// sent (milliseconds).
    pub latency_ms: Option<i64>,
}

/// How a push job ended.
#[derive(Clone, Debug, PartialEq)]
pub enum PushJobEnd {
    /// Done (including "nothing to send"): complete the job.
    Finished(PushReport),
    /// Fail the job so the queue retries it, not sooner than `after` when set: the event
    /// could not be read (the store unreachable), or a one-device job's send was asked to be
    /// retried.
    Retry {
        /// Why.
        reason: String,
        /// The service's `Retry-After`.
        after: Option<Duration>,
        /// What was done before that.
        report: PushReport,
    },
}

/// Runs a push job: plans its notifications and sends them. A job for one device sends only
/// to it (when it is still to be notified).
pub async fn run(deps: &Deps, sender: &dyn PushSender, task: PushTask) -> PushJobEnd {
    let mut report = PushReport::default();
    let plan = match plan(deps, task.event).await {
        Ok(plan) => plan,
        Err(error) => return PushJobEnd::Retry { reason: error.to_string(), after: None, report },
    };
    let notifications: Vec<Planned> = match task.device {
        Some(device) => plan.notifications.into_iter().filter(|planned| planned.device == device).collect(),
        None => plan.notifications,
    };
    let outcomes: Vec<(Planned, PushOutcome)> = futures_util::stream::iter(notifications)
        .map(|planned| async move {
            let outcome = sender
                .send(&planned.notification)
                .await
                .unwrap_or_else(|error| PushOutcome::RetryLater { after: None, reason: error.to_string() });
            (planned, outcome)
        })
        .buffer_unordered(SENDS_IN_FLIGHT)
        .collect()
        .await;
    let mut retry = None;
    for (planned, outcome) in outcomes {
        match outcome {
            PushOutcome::Sent => report.sent += 1,
            PushOutcome::TokenGone { reason } => {
                tracing::info!(device = %planned.device, %reason, "push token gone; registration removed");
                match deps.devices.remove_token(&planned.notification.token).await {
                    Ok(_) => report.tokens_removed += 1,
                    Err(error) => tracing::warn!(%error, device = %planned.device, "gone push token not removed"),
                }
                report.failed.push(("token_gone", reason));
            }
            PushOutcome::Rejected { reason } => {
                tracing::warn!(device = %planned.device, %reason, "push rejected");
                report.failed.push(("rejected", reason));
            }
            PushOutcome::RetryLater { after, reason } if task.device.is_some() => {
                retry = Some((reason, after));
            }
            PushOutcome::RetryLater { after, reason } => {
                let own = PushTask { event: task.event, device: Some(planned.device) };
                match deps.push_jobs.as_ref() {
                    Some(queue) => match queue.enqueue_after(JobTask::Push(own), after.unwrap_or(DEVICE_RETRY)).await {
                        Ok(_) => report.deferred += 1,
                        Err(error) => {
                            tracing::warn!(%error, device = %planned.device, "push retry not queued; notification lost");
                            report.failed.push(("retry_lost", reason));
                        }
                    },
                    None => report.failed.push(("retry_lost", reason)),
                }
            }
        }
    }
    if report.sent > 0 {
        report.latency_ms = plan.occurred_at.map(|at| (deps.clock.now() - at).num_milliseconds());
    }
    match retry {
        Some((reason, after)) => PushJobEnd::Retry { reason, after, report },
        None => PushJobEnd::Finished(report),
    }
}
