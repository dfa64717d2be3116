//! Background jobs: media processing runs from a persistent queue, at least once. The queue
//! (the `JobQueue` port) hands a job to one worker at a time; a job its worker stops renewing
//! (the worker died) is handed out again after the visibility timeout, a failed one is retried
//! after a backoff, and one that keeps failing is dead-lettered for an operator.

use std::time::Duration;

use super::Timestamp;
use super::ids::MediaId;

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

/// One hand-out of a job to a worker: process `media_id`, then complete or fail it. `attempt`
/// counts the hand-outs (1 for the first, +1 for each retry and each reclaim after a timeout)
/// and, with `id`, names this claim: a worker whose claim lapsed can no longer complete or fail
/// the job (the newer claim holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The job's id in the queue.
    pub id: JobId,
    /// The media to process.
    pub media_id: MediaId,
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
