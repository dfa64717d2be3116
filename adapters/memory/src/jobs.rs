//! `JobQueue` in memory: the embedded mode's in-process queues (media, push). Nothing survives
//! a restart; the media records do, and the worker re-enqueues unfinished media when it
//! starts (a push job lost with the process is a notification not shown). A `take`
//! waits on a `Notify`, woken by every change and by a timer at the next moment a retry or a
//! lapsed claim falls due, so it never polls.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::job::{DeadJob, Job, JobId, JobPolicy, JobTask};
use chat_core::domain::{Timestamp, Utc};
use chat_core::ports::{FailOutcome, JobQueue, QueueStats};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The in-process job queue.
pub struct MemoryJobQueue {
    policy: JobPolicy,
    state: Mutex<Queue>,
    changed: Notify,
}

/// A job waiting to be handed out, with the attempt its next hand-out will be.
struct Waiting {
    id: JobId,
    task: JobTask,
    attempt: u32,
}

struct Claim {
    job: Job,
    until: Instant,
}

#[derive(Default)]
struct Queue {
    next_id: u64,
    ready: VecDeque<Waiting>,
    in_flight: HashMap<JobId, Claim>,
    /// Failed jobs and when they may be handed out again.
    delayed: Vec<(Instant, Waiting)>,
    /// Oldest first.
    dead: Vec<DeadJob>,
    /// The tasks with a live job (ready, in flight or delayed).
    live: HashSet<JobTask>,
}

impl MemoryJobQueue {
    /// An empty queue under `policy`.
    pub fn new(policy: JobPolicy) -> Self {
        MemoryJobQueue { policy, state: Mutex::new(Queue::default()), changed: Notify::new() }
    }

    /// Moves due retries to the ready jobs and lapsed claims back to the front (or to the dead
    /// letters after their last attempt); then hands out the first ready job, or says when the
    /// next retry or lapse falls due.
    fn try_take(&self, now: Instant) -> Result<Job, Option<Instant>> {
        let mut state = self.state.lock();
        let queue = &mut *state;
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut queue.delayed).into_iter().partition(|(at, _)| *at <= now);
        queue.delayed = later;
        queue.ready.extend(due.into_iter().map(|(_, waiting)| waiting));
        let lapsed: Vec<JobId> =
            queue.in_flight.iter().filter(|(_, claim)| claim.until <= now).map(|(id, _)| id.clone()).collect();
        for id in lapsed {
            let Some(Claim { job, .. }) = queue.in_flight.remove(&id) else { continue };
            if self.policy.is_last(job.attempt) {
                queue.live.remove(&job.task);
                let reason = format!("timed out: attempt {} was never finished", job.attempt);
                queue.dead.push(DeadJob { job, reason, at: Utc::now() });
            } else {
                queue.ready.push_front(Waiting { id: job.id, task: job.task, attempt: job.attempt + 1 });
            }
        }
        if let Some(waiting) = queue.ready.pop_front() {
            let job = Job { id: waiting.id, task: waiting.task, attempt: waiting.attempt };
            let until = now + self.policy.visibility_timeout;
            queue.in_flight.insert(job.id.clone(), Claim { job: job.clone(), until });
            return Ok(job);
        }
        let next_retry = queue.delayed.iter().map(|(at, _)| *at).min();
        let next_lapse = queue.in_flight.values().map(|claim| claim.until).min();
        Err(next_retry.into_iter().chain(next_lapse).min())
    }

    /// Removes this claim of the job, if it still holds.
    fn release(queue: &mut Queue, job: &Job) -> Option<Job> {
        match queue.in_flight.get(&job.id) {
            Some(claim) if claim.job.attempt == job.attempt => queue.in_flight.remove(&job.id).map(|claim| claim.job),
            _ => None,
        }
    }
}

fn retry_time(wait: Duration) -> Timestamp {
    Utc::now() + chrono_duration(wait)
}

fn chrono_duration(wait: Duration) -> chat_core::domain::Duration {
    chat_core::domain::Duration::from_std(wait).unwrap_or(chat_core::domain::Duration::MAX)
}

#[async_trait]
impl JobQueue for MemoryJobQueue {
    async fn enqueue(&self, task: JobTask) -> Result<bool, PortError> {
        {
            let mut queue = self.state.lock();
            if !queue.live.insert(task.clone()) {
                return Ok(false);
            }
            queue.next_id += 1;
            let id = JobId::new(queue.next_id.to_string());
            queue.ready.push_back(Waiting { id, task, attempt: 1 });
        }
        self.changed.notify_waiters();
        Ok(true)
    }

    async fn enqueue_after(&self, task: JobTask, delay: Duration) -> Result<bool, PortError> {
        {
            let mut queue = self.state.lock();
            if !queue.live.insert(task.clone()) {
                return Ok(false);
            }
            queue.next_id += 1;
            let id = JobId::new(queue.next_id.to_string());
            queue.delayed.push((Instant::now() + delay, Waiting { id, task, attempt: 1 }));
        }
        // Waiting takes learn of the new due time.
        self.changed.notify_waiters();
        Ok(true)
    }

    async fn take(&self, _worker: &str, wait: Duration) -> Result<Option<Job>, PortError> {
        let deadline = Instant::now() + wait;
        loop {
            // Listen before looking, so a change in between still wakes this take.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let next = match self.try_take(now) {
                Ok(job) => return Ok(Some(job)),
                Err(next) => next,
            };
            if now >= deadline {
                return Ok(None);
            }
            let wake = next.map_or(deadline, |next| next.min(deadline));
            let _ = tokio::time::timeout_at(wake, changed).await;
        }
    }

    async fn extend(&self, job: &Job) -> Result<bool, PortError> {
        let mut queue = self.state.lock();
        match queue.in_flight.get_mut(&job.id) {
            // A lapsed claim no take has moved yet is still this worker's: renewing it is safe.
            // A take waiting for the old lapse wakes then, finds nothing due and waits again.
            Some(claim) if claim.job.attempt == job.attempt => {
                claim.until = Instant::now() + self.policy.visibility_timeout;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(&self, job: &Job) -> Result<bool, PortError> {
        let mut queue = self.state.lock();
        let Some(done) = Self::release(&mut queue, job) else { return Ok(false) };
        queue.live.remove(&done.task);
        Ok(true)
    }

    async fn fail(&self, job: &Job, reason: &str, not_before: Option<Duration>) -> Result<FailOutcome, PortError> {
        let outcome = {
            let mut queue = self.state.lock();
            let Some(failed) = Self::release(&mut queue, job) else { return Ok(FailOutcome::NotHeld) };
            if self.policy.is_last(failed.attempt) {
                queue.live.remove(&failed.task);
                queue.dead.push(DeadJob { job: failed, reason: reason.to_owned(), at: Utc::now() });
                FailOutcome::DeadLettered
            } else {
                let wait = self.policy.retry_wait(failed.attempt, not_before);
                let waiting = Waiting { id: failed.id, task: failed.task, attempt: failed.attempt + 1 };
                queue.delayed.push((Instant::now() + wait, waiting));
                FailOutcome::RetryAt(retry_time(wait))
            }
        };
        // Waiting takes learn of the new retry time.
        self.changed.notify_waiters();
        Ok(outcome)
    }

    async fn stats(&self) -> Result<QueueStats, PortError> {
        let queue = self.state.lock();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(QueueStats {
            ready: count(queue.ready.len()),
            in_flight: count(queue.in_flight.len()),
            delayed: count(queue.delayed.len()),
            dead: count(queue.dead.len()),
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadJob>, PortError> {
        Ok(self.state.lock().dead.iter().rev().take(limit).cloned().collect())
    }

    async fn retry_dead(&self, id: &JobId) -> Result<bool, PortError> {
        {
            let mut queue = self.state.lock();
            let Some(index) = queue.dead.iter().position(|dead| &dead.job.id == id) else { return Ok(false) };
            let dead = queue.dead.remove(index);
            queue.live.insert(dead.job.task.clone());
            queue.ready.push_back(Waiting { id: dead.job.id, task: dead.job.task, attempt: 1 });
        }
        self.changed.notify_waiters();
        Ok(true)
    }
}
