//! `JobQueue` on Redis Streams with one consumer group: `XADD` enqueues, `XREADGROUP` hands a
//! job out (its entry then sits in the group's pending list, owned by the worker), `XACK` +
//! `XDEL` finish it, and `XAUTOCLAIM` with the visibility timeout as min-idle reclaims an
//! entry whose worker died. Failed jobs wait in a sorted set scored by their retry time (Redis
//! time, ms) and go back to the stream on the next take; dead ones sit in a hash with a sorted
//! index. A worker renews its claim of a long job with an `XCLAIM ... JUSTID` by the entry's
//! own consumer, which resets the entry's idle time (what `XAUTOCLAIM` measures) without
//! counting a delivery. Every step is one Lua script, so no two workers ever hold one claim,
//! and a lapsed claim (a hand-out whose delivery count has moved on) can neither complete,
//! fail nor be extended. An entry's `task` field is the task's key (`JobTask::key`), which is
//! also its member of the live set that deduplicates enqueues.
//!
//! A job's attempt is its entry's `attempt` field (the attempt of its first delivery) plus the
//! group's delivery count minus one: `XAUTOCLAIM` counts each reclaim. A take that finds
//! nothing waits in a plain `XREAD ... BLOCK` for an entry after the stream's last one, on a
//! connection of its own (a blocked command would stall every command pipelined behind it on
//! a shared one), for at most a second at a time or until the next retry or lapse is due,
//! then looks again. The wait claims nothing, so a take cancelled while it waits (a worker
//! shutting down) leaves no job behind; only a take cancelled while its script runs may leave
//! its job to be reclaimed after the timeout.

use std::time::Duration;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::job::{DeadJob, Job, JobId, JobPolicy, JobTask};
use chat_core::domain::{DateTime, Timestamp};
use chat_core::ports::{FailOutcome, JobQueue, QueueStats};
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Script, Value};
use tokio::time::Instant;

use crate::RedisConnection;

mod scripts;

use scripts::{COMPLETE, DEAD, ENQUEUE, ENQUEUE_AFTER, EXTEND, FAIL, PRELUDE, RETRY_DEAD, STATS, TAKE};

/// The consumer group every worker reads through.
const GROUP: &str = "workers";

/// The longest a take blocks before it looks for due retries and lapsed claims again.
const MAX_BLOCK: Duration = Duration::from_secs(1);

/// A job queue shared by every node (media processing, push notifications: one each).
pub struct RedisJobQueue {
    redis: RedisConnection,
    policy: JobPolicy,
    keys: Keys,
    scripts: Scripts,
    /// Connections for blocking reads, one per waiting take, kept for the next ones.
    blocking: Mutex<Vec<MultiplexedConnection>>,
}

struct Keys {
    stream: String,
    delayed: String,
    live: String,
    dead: String,
    dead_order: String,
}

struct Scripts {
    enqueue: Script,
    enqueue_after: Script,
    take: Script,
    extend: Script,
    complete: Script,
    fail: Script,
    stats: Script,
    dead: Script,
    retry_dead: Script,
}

impl RedisJobQueue {
    /// The media queue under the connection's prefix (`jobs:*` keys), run by `policy`.
    pub fn new(redis: RedisConnection, policy: JobPolicy) -> Self {
        Self::named(redis, "jobs", policy)
    }

    /// The queue `name` under the connection's prefix (`<name>:*` keys), run by `policy`:
    /// `jobs` is the media queue, `push-jobs` the push queue.
    pub fn named(redis: RedisConnection, name: &str, policy: JobPolicy) -> Self {
        let keys = Keys {
            stream: redis.key(&format!("{name}:stream")),
            delayed: redis.key(&format!("{name}:delayed")),
            live: redis.key(&format!("{name}:live")),
            dead: redis.key(&format!("{name}:dead")),
            dead_order: redis.key(&format!("{name}:dead-order")),
        };
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}\n{body}"));
        let scripts = Scripts {
            enqueue: Script::new(ENQUEUE),
            enqueue_after: with_prelude(ENQUEUE_AFTER),
            take: with_prelude(TAKE),
            extend: with_prelude(EXTEND),
            complete: with_prelude(COMPLETE),
            fail: with_prelude(FAIL),
            stats: Script::new(STATS),
            dead: Script::new(DEAD),
            retry_dead: Script::new(RETRY_DEAD),
        };
        RedisJobQueue { redis, policy, keys, scripts, blocking: Mutex::new(Vec::new()) }
    }

    fn millis(duration: Duration) -> u64 {
        u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
    }

    /// One look: a job handed out, or the stream's last entry id and how long until the next
    /// retry or lapse is due.
    async fn try_take(&self, worker: &str) -> Result<Result<Job, (String, Option<Duration>)>, PortError> {
        let mut conn = self.redis.conn().await?;
        let k = &self.keys;
        let (id, task_or_last, attempt): (String, String, i64) = self
            .scripts
            .take
            .key(&k.stream)
            .key(&k.delayed)
            .key(&k.live)
            .key(&k.dead)
            .key(&k.dead_order)
            .arg(GROUP)
            .arg(worker)
            .arg(Self::millis(self.policy.visibility_timeout))
            .arg(self.policy.max_attempts.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        if id.is_empty() {
            return Ok(Err((task_or_last, u64::try_from(attempt).ok().map(Duration::from_millis))));
        }
        Ok(Ok(job(id, &task_or_last, attempt)?))
    }

    /// Waits up to `block` for an entry after `last` (a plain `XREAD`, which claims nothing, so
    /// a take cancelled while it waits leaves no job behind), on a connection no other command
    /// shares.
    async fn wait_for_entry(&self, last: &str, block: Duration) -> Result<(), PortError> {
        let pooled = self.blocking.lock().pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(MAX_BLOCK + Duration::from_secs(2)));
                self.redis
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| self.redis.failed(e))?
            }
        };
        let _: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(Self::millis(block).max(1))
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(last)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        self.blocking.lock().push(conn);
        Ok(())
    }
}

/// A hand-out as the scripts return it.
fn job(id: String, task: &str, attempt: i64) -> Result<Job, PortError> {
    let task = JobTask::parse(task).map_err(|e| PortError::Internal(format!("job {id}: {e}")))?;
    let attempt = u32::try_from(attempt).map_err(|e| PortError::Internal(format!("job {id}: attempt: {e}")))?;
    Ok(Job { id: JobId::new(id), task, attempt })
}

fn timestamp(ms: i64) -> Result<Timestamp, PortError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| PortError::Internal(format!("redis: time {ms} ms")))
}

/// A dead record: `task|attempt|at ms|reason`.
fn dead_job(id: String, record: &str) -> Result<DeadJob, PortError> {
    let mut parts = record.splitn(4, '|');
    let (Some(task), Some(attempt), Some(at), Some(reason)) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PortError::Internal(format!("redis: dead job {id}: {record:?}")));
    };
    let attempt = attempt.parse().map_err(|e| PortError::Internal(format!("dead job {id}: {e}")))?;
    let at = at.parse().map_err(|e| PortError::Internal(format!("dead job {id}: {e}")))?;
    Ok(DeadJob { job: job(id, task, attempt)?, reason: reason.to_owned(), at: timestamp(at)? })
}

#[async_trait]
impl JobQueue for RedisJobQueue {
    async fn enqueue(&self, task: JobTask) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let added: i64 = self
            .scripts
            .enqueue
            .key(&self.keys.stream)
            .key(&self.keys.live)
            .arg(GROUP)
            .arg(task.key())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(added == 1)
    }

    async fn enqueue_after(&self, task: JobTask, delay: Duration) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let added: i64 = self
            .scripts
            .enqueue_after
            .key(&self.keys.delayed)
            .key(&self.keys.live)
            .arg(task.key())
            .arg(Self::millis(delay))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(added == 1)
    }

    async fn take(&self, worker: &str, wait: Duration) -> Result<Option<Job>, PortError> {
        let deadline = Instant::now() + wait;
        loop {
            let (last, next) = match self.try_take(worker).await? {
                Ok(job) => return Ok(Some(job)),
                Err(waiting) => waiting,
            };
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let block = next.map_or(MAX_BLOCK, |next| next.min(MAX_BLOCK)).min(deadline - now);
            self.wait_for_entry(&last, block).await?;
        }
    }

    async fn extend(&self, job: &Job) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let held: i64 = self
            .scripts
            .extend
            .key(&self.keys.stream)
            .arg(GROUP)
            .arg(job.id.as_str())
            .arg(job.attempt)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(held == 1)
    }

    async fn complete(&self, job: &Job) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let done: i64 = self
            .scripts
            .complete
            .key(&self.keys.stream)
            .key(&self.keys.live)
            .arg(GROUP)
            .arg(job.id.as_str())
            .arg(job.attempt)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(done == 1)
    }

    async fn fail(&self, job: &Job, reason: &str, not_before: Option<Duration>) -> Result<FailOutcome, PortError> {
        let backoff = if self.policy.is_last(job.attempt) {
            -1
        } else {
            i64::try_from(Self::millis(self.policy.retry_wait(job.attempt, not_before))).unwrap_or(i64::MAX)
        };
        let mut conn = self.redis.conn().await?;
        let k = &self.keys;
        let reply: Vec<i64> = self
            .scripts
            .fail
            .key(&k.stream)
            .key(&k.delayed)
            .key(&k.live)
            .key(&k.dead)
            .key(&k.dead_order)
            .arg(GROUP)
            .arg(job.id.as_str())
            .arg(job.attempt)
            .arg(backoff)
            .arg(reason)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        match reply.as_slice() {
            [0] => Ok(FailOutcome::NotHeld),
            [1] => Ok(FailOutcome::DeadLettered),
            [2, at] => Ok(FailOutcome::RetryAt(timestamp(*at)?)),
            other => Err(PortError::Internal(format!("redis: fail replied {other:?}"))),
        }
    }

    async fn stats(&self) -> Result<QueueStats, PortError> {
        let mut conn = self.redis.conn().await?;
        let counts: Vec<u64> = self
            .scripts
            .stats
            .key(&self.keys.stream)
            .key(&self.keys.delayed)
            .key(&self.keys.dead)
            .arg(GROUP)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        let [ready, in_flight, delayed, dead] = counts.as_slice() else {
            return Err(PortError::Internal(format!("redis: stats replied {counts:?}")));
        };
        Ok(QueueStats { ready: *ready, in_flight: *in_flight, delayed: *delayed, dead: *dead })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadJob>, PortError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.redis.conn().await?;
        let flat: Vec<String> = self
            .scripts
            .dead
            .key(&self.keys.dead)
            .key(&self.keys.dead_order)
            .arg(limit)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        flat.chunks(2)
            .map(|pair| match pair {
                [id, record] => dead_job(id.clone(), record),
                _ => Err(PortError::Internal("redis: odd dead-letter reply".into())),
            })
            .collect()
    }

    async fn retry_dead(&self, id: &JobId) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let k = &self.keys;
        let retried: i64 = self
            .scripts
            .retry_dead
            .key(&k.stream)
            .key(&k.live)
            .key(&k.dead)
            .key(&k.dead_order)
            .arg(GROUP)
            .arg(id.as_str())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(retried == 1)
    }
}
