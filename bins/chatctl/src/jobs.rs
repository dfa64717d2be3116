//! `chatctl jobs`: the job queues on Redis (media processing, push notifications), for
//! operators: their depth, the dead letters, and putting a dead job back.

use chat_core::app::Limits;
use chat_core::domain::job::{JobId, JobPolicy};
use chat_core::domain::media::{MediaStatus, MediaTransition};
use chat_core::ports::JobQueue as _;
use chat_redis::{RedisConnection, RedisJobQueue};

use crate::wiring::{MediaPlace, connect};

/// Where the queue is: the servers' Redis and key prefix.
#[derive(Clone, Debug, clap::Args)]
pub struct QueuePlace {
    /// The servers' Redis.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: String,
    /// The servers' key prefix.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat:")]
    pub redis_prefix: String,
    /// Which queue.
    #[arg(long, value_enum, default_value_t = QueueName::Media)]
    pub queue: QueueName,
}

/// The servers' queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueName {
    /// Media processing (`jobs:*` keys).
    Media,
    /// Push notifications (`push-jobs:*` keys).
    Push,
}

async fn queue(place: &QueuePlace) -> anyhow::Result<RedisJobQueue> {
    let redis = RedisConnection::connect(&place.redis_url, &place.redis_prefix, 1).await?;
    // The policy rules taking and failing jobs, which chatctl never does: the stats, the dead
    // letters and a retry read and write the same keys whatever the workers' settings are.
    Ok(match place.queue {
        QueueName::Media => RedisJobQueue::new(redis, JobPolicy::production()),
        QueueName::Push => RedisJobQueue::named(redis, "push-jobs", JobPolicy::push()),
    })
}

/// Prints how many jobs wait, run, wait for a retry, and are dead.
pub async fn stats(place: &QueuePlace) -> anyhow::Result<()> {
    let stats = queue(place).await?.stats().await?;
    println!("ready {}\nin_flight {}\ndelayed {}\ndead {}", stats.ready, stats.in_flight, stats.delayed, stats.dead);
    Ok(())
}

/// Lists the dead letters, newest first: job id, task (a media id, or `push:...`), attempts,
/// when, why.
pub async fn dead(place: &QueuePlace, limit: usize) -> anyhow::Result<()> {
    for dead in queue(place).await?.dead_letters(limit).await? {
        println!("{}\t{}\t{}\t{}\t{}", dead.job.id, dead.job.task, dead.job.attempt, dead.at, dead.reason);
    }
    Ok(())
}

/// Puts a dead job back in the queue (after fixing what made it fail). For a media job: the
/// queue marked its media `failed` (`processing_failed`) when it gave up; that media is opened
/// again, so the retried job processes it instead of finding it finished.
pub async fn retry(place: &QueuePlace, database_url: &str, media: &MediaPlace, id: &str) -> anyhow::Result<()> {
    let queue = queue(place).await?;
    let dead = queue.dead_letters(usize::MAX).await?.into_iter().find(|dead| dead.job.id.as_str() == id);
    let Some(dead) = dead else { anyhow::bail!("no dead job {id}") };
    if let Some(media_id) = dead.job.task.media() {
        let (_store, deps) = connect(database_url, Limits::default(), media).await?;
        let record = deps.media.media(media_id).await?;
        if record.is_some_and(|m| {
            m.status == MediaStatus::Failed && m.failure_reason.as_deref() == Some("processing_failed")
        }) {
            deps.media.transition(media_id, MediaTransition::Reopen).await?;
        }
    }
    if !queue.retry_dead(&JobId::new(id)).await? {
        anyhow::bail!("no dead job {id}");
    }
    println!("{id} ({}) is queued again", dead.job.task);
    Ok(())
}
