//! Background jobs: media processing and push notifications run from persistent queues (one
//! queue each, so a long transcode never delays a notification), at least once. A queue
//! (the `JobQueue` port) hands a job to one worker at a time; a job its worker stops renewing
//! (the worker died) is handed out again after the visibility timeout, a failed one is retried
//! after a backoff, and one that keeps failing is dead-lettered for an operator.

use std::time::Duration;

use super::Timestamp;
use super::ids::MediaId;
use super::push::PushTask;

/// A job in the queue, as the queue names it: opaque, unique among the queue's live jobs. A
/// job keeps its id while it is handed out again after a timeout; a retry after a failure or
/// from the dead letters may give it a new one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobId(String);

impl JobId {
    /// Wraps a queue's own name for a job.
    pub fn new(id: impl Into<String>) -> JobId {
        JobId(id.into())
    }

    /// The id as the queue stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a job does. A queue holds at most one live job per task (its [`key`](JobTask::key)):
/// enqueueing a task whose job is ready, in flight or waiting for a retry adds nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JobTask {
    /// Process an uploaded media (sniff, scan, thumbnails, transcode).
    ProcessMedia(MediaId),
    /// Send push notifications.
    Push(PushTask),
}

impl JobTask {
    /// The task as the queue stores it, and its deduplication key: a media job is the bare
    /// media id (what queues held before there were other tasks), a push job starts with
    /// `push:`. Never contains `|` or spaces, which the Redis queue uses as separators.
    pub fn key(&self) -> String {
        match self {
            JobTask::ProcessMedia(media) => media.to_string(),
            JobTask::Push(push) => format!("push:{}", push.key()),
        }
    }

    /// Reads a stored [`key`](JobTask::key) back.
    pub fn parse(key: &str) -> Result<JobTask, String> {
        match key.strip_prefix("push:") {
            Some(push) => PushTask::parse(push).map(JobTask::Push),
            None => key.parse().map(JobTask::ProcessMedia).map_err(|e| format!("job task {key:?}: {e}")),
        }
    }

    /// The media this job processes, if it is a media job.
    pub fn media(&self) -> Option<MediaId> {
        match self {
            JobTask::ProcessMedia(media) => Some(*media),
            JobTask::Push(_) => None,
        }
    }
}

impl std::fmt::Display for JobTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

/// One hand-out of a job to a worker: do `task`, then complete or fail it. `attempt`
/// counts the hand-outs (1 for the first, +1 for each retry and each reclaim after a timeout)
/// and, with `id`, names this claim: a worker whose claim lapsed can no longer complete or fail
/// the job (the newer claim holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The job's id in the queue.
    pub id: JobId,
    /// What to do.
    pub task: JobTask,
    /// Which hand-out this is, from 1.
    pub attempt: u32,
}

/// A job that failed (or timed out) `max_attempts` times, kept for an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadJob {
    /// The job as it was last handed out (its id is what `retry_dead` takes).
    pub job: Job,
    /// Why its last attempt failed, as the worker said (or that it timed out).
    pub reason: String,
    /// When it was dead-lettered.
    pub at: Timestamp,
}

/// How a queue treats its jobs; given to a queue's constructor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPolicy {
    /// How long a hand-out lasts without word from its worker: a job neither completed,
    /// failed nor extended (`JobQueue::extend`) within it is handed out again (its worker is
    /// taken for dead). A living worker extends its claim every
    /// [`lease_renewal_interval`](JobPolicy::lease_renewal_interval), so a job may run longer.
    pub visibility_timeout: Duration,
    /// The wait before each retry after a failure: the first entry after the first failure,
    /// and so on; the last entry repeats.
    pub backoff: Vec<Duration>,
    /// Hand-outs before a job is dead-lettered (at least 1).
    pub max_attempts: u32,
}

impl JobPolicy {
    /// The push queue's policy: a notification is worth little late, so a job whose worker
    /// goes silent for 30 s is handed out again, retries come after 2 s, 10 s and 30 s (or
    /// later when the push service says so), and the fourth failure drops it.
    pub fn push() -> JobPolicy {
        JobPolicy {
            visibility_timeout: Duration::from_secs(30),
            backoff: vec![Duration::from_secs(2), Duration::from_secs(10), Duration::from_secs(30)],
            max_attempts: 4,
        }
    }

    /// The production policy: a job whose worker goes silent for 5 minutes is handed out again;
    /// retries after 10 s, 1 min, 5 min and 15 min; dead-lettered after the fifth attempt.
    pub fn production() -> JobPolicy {
        JobPolicy {
            visibility_timeout: Duration::from_secs(5 * 60),
            backoff: vec![
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(5 * 60),
                Duration::from_secs(15 * 60),
            ],
            max_attempts: 5,
        }
    }

    /// The wait before the retry that follows the failure of hand-out `attempt` (from 1).
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff.get(index).or(self.backoff.last()).copied().unwrap_or_default()
    }

    /// How often a worker extends the claim of a job in hand: a third of the visibility
    /// timeout, so two renewals in a row may be late or lost (a slow store, a short network
    /// outage) before the job is taken for abandoned.
    pub fn lease_renewal_interval(&self) -> Duration {
        self.visibility_timeout / 3
    }

    /// The wait before the retry after hand-out `attempt` failed: the backoff, or longer when
    /// the failure said not to come back sooner (a push service's `Retry-After`).
    pub fn retry_wait(&self, attempt: u32, not_before: Option<Duration>) -> Duration {
        self.backoff_after(attempt).max(not_before.unwrap_or_default())
    }

    /// Whether hand-out `attempt` was the last one allowed.
    pub fn is_last(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_list_and_repeats_its_last_entry() {
        let policy = JobPolicy::production();
        assert_eq!(policy.backoff_after(1), Duration::from_secs(10));
        assert_eq!(policy.backoff_after(2), Duration::from_secs(60));
        assert_eq!(policy.backoff_after(4), Duration::from_secs(900));
        assert_eq!(policy.backoff_after(40), Duration::from_secs(900));
        let none = JobPolicy { backoff: vec![], ..policy };
        assert_eq!(none.backoff_after(1), Duration::ZERO);
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_wins() {
        let policy = JobPolicy::push();
        assert_eq!(policy.retry_wait(1, None), Duration::from_secs(2));
        assert_eq!(policy.retry_wait(1, Some(Duration::from_secs(1))), Duration::from_secs(2));
        assert_eq!(policy.retry_wait(1, Some(Duration::from_secs(45))), Duration::from_secs(45));
    }

    #[test]
    fn tasks_round_trip_through_their_keys() {
        use crate::domain::ids::{DeviceId, FriendRequestId, MessageId};
        use crate::domain::push::PushEvent;
        let id = uuid::Uuid::now_v7();
        let device = Some(DeviceId(uuid::Uuid::nil()));
        let tasks = [
            JobTask::ProcessMedia(MediaId(id)),
            JobTask::Push(PushTask::event(PushEvent::Message(MessageId(id)))),
            JobTask::Push(PushTask { event: PushEvent::Message(MessageId(id)), device }),
            JobTask::Push(PushTask::event(PushEvent::FriendRequest(FriendRequestId(id)))),
            JobTask::Push(PushTask { event: PushEvent::FriendAccepted(FriendRequestId(id)), device }),
        ];
        for task in tasks {
            let key = task.key();
            assert!(!key.contains('|') && !key.contains(' '), "{key}");
            assert_eq!(JobTask::parse(&key), Ok(task));
        }
        assert_eq!(JobTask::ProcessMedia(MediaId(id)).key(), id.to_string(), "media keys stay bare ids");
        let m = MessageId(id);
        let bad_device = format!("push:message:{m}:phone:{m}");
        for bad in ["", "push:", "push:message:", "push:message:x", "push:nope:1", "not-a-uuid", &bad_device] {
            assert!(JobTask::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_last_attempt_is_max_attempts_and_never_below_one() {
        let policy = JobPolicy { max_attempts: 3, ..JobPolicy::production() };
        assert!(!policy.is_last(2));
        assert!(policy.is_last(3));
        assert!(JobPolicy { max_attempts: 0, ..policy }.is_last(1));
    }

    #[test]
    fn a_claim_is_renewed_three_times_per_visibility_timeout() {
        let policy = JobPolicy { visibility_timeout: Duration::from_secs(3), ..JobPolicy::production() };
        assert_eq!(policy.lease_renewal_interval(), Duration::from_secs(1));
        assert_eq!(JobPolicy::production().lease_renewal_interval(), Duration::from_secs(100));
    }
}
