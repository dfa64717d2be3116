//! `chatctl jobs`: the media queue on Redis, for operators: its depth, the dead letters, and
//! putting a dead job back.

use chat_core::domain::job::{JobId, JobPolicy};
use chat_core::ports::JobQueue as _;
use chat_redis::{RedisConnection, RedisJobQueue};

/// Where the queue is: the servers' Redis and key prefix.
#[derive(Clone, Debug, clap::Args)]
pub struct QueuePlace {
    /// The servers' Redis.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: String,
    /// The servers' key prefix.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat:")]
    pub redis_prefix: String,
}

async fn queue(place: &QueuePlace) -> anyhow::Result<RedisJobQueue> {
    let redis = RedisConnection::connect(&place.redis_url, &place.redis_prefix, 1).await?;
    Ok(RedisJobQueue::new(redis, JobPolicy::production()))
}

/// Prints how many jobs wait, run, wait for a retry, and are dead.
pub async fn stats(place: &QueuePlace) -> anyhow::Result<()> {
    let stats = queue(place).await?.stats().await?;
    println!("ready {}\nin_flight {}\ndelayed {}\ndead {}", stats.ready, stats.in_flight, stats.delayed, stats.dead);
    Ok(())
}

/// Lists the dead letters, newest last: job id, media, attempts, when, why.
pub async fn dead(place: &QueuePlace, limit: usize) -> anyhow::Result<()> {
    for dead in queue(place).await?.dead_letters(limit).await? {
        println!("{}\t{}\t{}\t{}\t{}", dead.job.id, dead.job.media_id, dead.job.attempt, dead.at, dead.reason);
    }
    Ok(())
}

/// Puts a dead job back in the queue (after fixing what made it fail).
pub async fn retry(place: &QueuePlace, id: &str) -> anyhow::Result<()> {
    if queue(place).await?.retry_dead(&JobId::new(id)).await? {
        println!("{id} is queued again");
        Ok(())
    } else {
        anyhow::bail!("no dead job {id}")
    }
}
