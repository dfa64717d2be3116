//! Persistent job queues (media processing, push notifications): at least once, one worker
//! per job at a time.

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::job::{DeadJob, Job, JobId, JobTask};

/// What became of a failed job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// It is handed out again at (not before) this time, after the policy's backoff.
    RetryAt(Timestamp),
    /// That was its last attempt: it is in the dead letters.
    DeadLettered,
    /// The claim had lapsed (the job was handed to another worker, completed or
    /// dead-lettered meanwhile): nothing changed.
    NotHeld,
}

/// How many jobs are where, for metrics and `chatctl jobs stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Waiting for a worker (including jobs whose retry time has come but that no `take`
    /// has moved yet, where a queue moves them lazily: see `delayed`).
    pub ready: u64,
    /// Handed out and neither completed nor failed (including claims that have lapsed and
    /// wait to be handed out again).
    pub in_flight: u64,
    /// Failed, waiting for their retry time (a queue may count a due retry here until a
    /// `take` moves it).
    pub delayed: u64,
    /// Dead-lettered.
    pub dead: u64,
}

/// A queue of jobs (Redis in production, in-process in embedded mode), built with a
/// `JobPolicy`; each kind of work has a queue of its own. Delivery is at least once, so
/// handlers are idempotent.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Adds a job for `task`, unless one is already live for it (ready, in flight or waiting
    /// for a retry): `true` when added, `false` when deduplicated. So the start-up
    /// reconciliation may enqueue every unfinished media without piling up jobs. A
    /// dead-lettered job does not count as live.
    async fn enqueue(&self, task: JobTask) -> Result<bool, PortError>;

    /// [`enqueue`](JobQueue::enqueue), but handed out no sooner than `delay` from now (a push
    /// to one device after the push service asked to come back later).
    async fn enqueue_after(&self, task: JobTask, delay: Duration) -> Result<bool, PortError>;

    /// Hands one job to `worker`: the oldest ready one, a retry whose time has come, or one
    /// whose previous hand-out went a visibility timeout without being finished or extended
    /// (its `attempt` one higher). Waits up to `wait` for one (without polling where the
    /// queue can be told), then returns `None`. A job reclaimed after its last attempt is dead-lettered instead.
    async fn take(&self, worker: &str, wait: Duration) -> Result<Option<Job>, PortError>;

    /// Renews this hand-out of the job (its worker's heartbeat): the visibility timeout starts
    /// again now, so a job that runs longer than the timeout stays with its living worker.
    /// `true` when the claim held, even past its timeout so long as no take has reclaimed the
    /// job; `false` when it had lapsed for good (a newer hand-out holds the job, or it is
    /// finished or dead), and then nothing changed. The attempt stays the same.
    async fn extend(&self, job: &Job) -> Result<bool, PortError>;

    /// Finishes this hand-out of the job for good: `true` when it did, `false` when the claim
    /// had lapsed (a newer hand-out holds the job, or it is finished or dead): a late
    /// complete never ends someone else's claim. Idempotent.
    async fn complete(&self, job: &Job) -> Result<bool, PortError>;

    /// Gives the job back after a failed attempt: retried after the policy's backoff (or after
    /// `not_before` when that is longer: a service's `Retry-After`), or dead-lettered with
    /// `reason` after its last attempt.
    async fn fail(&self, job: &Job, reason: &str, not_before: Option<Duration>) -> Result<FailOutcome, PortError>;

    /// How many jobs are ready, in flight, delayed and dead.
    async fn stats(&self) -> Result<QueueStats, PortError>;

    /// The newest `limit` dead-lettered jobs, newest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadJob>, PortError>;

    /// Puts a dead-lettered job back in the queue with a fresh set of attempts (from 1):
    /// `false` when no dead job has this id.
    async fn retry_dead(&self, id: &JobId) -> Result<bool, PortError>;
}
