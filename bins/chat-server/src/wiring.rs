//! Which adapter backs each port: the embedded set (all in memory), Postgres for the store,
//! Redis for what nodes share, and the system adapters (argon2id, JWT, UUIDv7, the clock).

use std::sync::Arc;

use anyhow::{Context, bail};
use chat_core::app::media;
use chat_core::app::presence::{self, SocialPresence};
use chat_core::app::{Deps, Limits};
use chat_core::app::{nodes, signaling};
use chat_core::domain::call::CallDevice;
use chat_core::domain::ids::NodeId;
use chat_core::domain::job::JobPolicy;
use chat_core::ports::{
    BlobStore, CallStore, ClaimStore, Clock, ConversationRepo, DeviceRepo, EventBus, HealthCheck, IdGen, JobQueue,
    MediaRepo, MessageRepo, NodeRegistry, PresenceStore, RateLimitStore, SessionRepo, SocialRepo, UserRepo,
};
use chat_memory::{
    MemoryCalls, MemoryClaims, MemoryEventBus, MemoryJobQueue, MemoryNodes, MemoryPresence, MemoryRateLimiter,
    MemoryStore,
};
use chat_postgres::{PgStore, PoolConfig};
use chat_redis::{
    RedisCallStore, RedisClaims, RedisConnection, RedisEventBus, RedisJobQueue, RedisNodes, RedisPresence,
    RedisRateLimiter,
};
use chat_system::{Argon2Passwords, JwtTokens, UuidV7Ids};
use tokio_util::sync::CancellationToken;

/// What a store adapter must be to back the server.
pub trait StoreAdapter:
    UserRepo + SessionRepo + ConversationRepo + MessageRepo + SocialRepo + MediaRepo + DeviceRepo + HealthCheck + 'static
{
}
impl<T> StoreAdapter for T where
    T: UserRepo
        + SessionRepo
        + ConversationRepo
        + MessageRepo
        + SocialRepo
        + MediaRepo
        + DeviceRepo
        + HealthCheck
        + 'static
{
}

/// The embedded dependency set: in-memory store, in-process bus and rate limiter, and the
/// given blob store (see `media::disk_blobs`).
pub fn embedded_deps(
    limits: Limits,
    clock: Arc<dyn Clock>,
    jwt_secret: &[u8],
    blobs: Arc<dyn BlobStore>,
) -> anyhow::Result<Deps> {
    assemble_deps(Arc::new(MemoryStore::new()), limits, clock, jwt_secret, blobs)
}

/// Opens the Postgres store, migrating it first when asked, and refusing a stale schema.
pub async fn postgres_store(url: &str, pool_size: u32, migrate: bool) -> anyhow::Result<PgStore> {
    let pool = PoolConfig { max_connections: pool_size, ..PoolConfig::default() };
    let store = PgStore::connect(url, pool).await.context("DATABASE_URL")?;
    if migrate {
        for name in store.migrate().await.context("applying migrations")? {
            tracing::info!(migration = %name, "applied");
        }
    } else {
        let pending = store.pending_migrations().await.context("DATABASE_URL: reading the schema version")?;
        if !pending.is_empty() {
            bail!(
                "the database schema is behind ({} pending migrations: {}); run `chatctl migrate` or start with --migrate",
                pending.len(),
                pending.join(", ")
            );
        }
    }
    Ok(store)
}

/// The ports every node must share to act as one server: the event bus, rate limits,
/// presence and claims (one-time upload URLs, task locks). In-process for a single node;
/// Redis for several.
pub struct SharedServices {
    pub events: Arc<dyn EventBus>,
    pub rate_limits: Arc<dyn RateLimitStore>,
    pub presence: Arc<dyn PresenceStore>,
    pub claims: Arc<dyn ClaimStore>,
    /// The media worker's jobs.
    pub jobs: Arc<dyn JobQueue>,
    /// The push jobs (`JobPolicy::push`); handed to the use cases only when push is
    /// configured (see `assemble_deps_with`'s caller).
    pub push_jobs: Arc<dyn JobQueue>,
    /// Live calls.
    pub calls: Arc<dyn CallStore>,
    /// The nodes and their heartbeats.
    pub nodes: Arc<dyn NodeRegistry>,
    /// This process as a node of them: the id its event bus publishes under, its heartbeat
    /// and the calls it serves name. New at every start: a restarted process is another
    /// node, and the calls its predecessor served are told it died.
    pub node: NodeId,
    /// Their readiness checks.
    pub health: Vec<Arc<dyn HealthCheck>>,
}

impl SharedServices {
    /// In-process services, the job queue run by `job_policy`.
    pub fn in_process(job_policy: JobPolicy) -> SharedServices {
        let events = Arc::new(MemoryEventBus::new());
        let rate_limits = Arc::new(MemoryRateLimiter::new());
        let presence = Arc::new(MemoryPresence::new());
        SharedServices {
            events: events.clone(),
            rate_limits: rate_limits.clone(),
            presence: presence.clone(),
            claims: Arc::new(MemoryClaims::new()),
            jobs: Arc::new(MemoryJobQueue::new(job_policy)),
            push_jobs: Arc::new(MemoryJobQueue::new(JobPolicy::push())),
            calls: Arc::new(MemoryCalls::new()),
            nodes: Arc::new(MemoryNodes::new()),
            node: new_node(),
            health: vec![events, rate_limits, presence],
        }
    }
}

fn new_node() -> NodeId {
    NodeId(UuidV7Ids.new_id())
}

/// The shared services on Redis, the job queue run by `job_policy`.
pub fn redis_services(redis: RedisConnection, job_policy: JobPolicy) -> SharedServices {
    let node = new_node();
    let events = RedisEventBus::start(redis.clone(), node);
    let rate_limits = Arc::new(RedisRateLimiter::new(redis.clone()));
    let presence = Arc::new(RedisPresence::new(redis.clone()));
    SharedServices {
        events: events.clone(),
        rate_limits: rate_limits.clone(),
        presence: presence.clone(),
        claims: Arc::new(RedisClaims::new(redis.clone())),
        jobs: Arc::new(RedisJobQueue::new(redis.clone(), job_policy)),
        push_jobs: Arc::new(RedisJobQueue::named(redis.clone(), "push-jobs", JobPolicy::push())),
        calls: Arc::new(RedisCallStore::new(redis.clone())),
        nodes: Arc::new(RedisNodes::new(redis)),
        node,
        health: vec![events, rate_limits, presence],
    }
}

/// Every port wired: the given store and blob store, in-process shared services (the
/// production job policy), argon2id, JWT, UUIDv7 ids.
pub fn assemble_deps<S: StoreAdapter>(
    store: Arc<S>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    jwt_secret: &[u8],
    blobs: Arc<dyn BlobStore>,
) -> anyhow::Result<Deps> {
    assemble_deps_with(store, SharedServices::in_process(JobPolicy::production()), limits, clock, jwt_secret, blobs)
}

/// Every port wired: the given store, shared services and blob store, argon2id, JWT, UUIDv7
/// ids. Push jobs are queued only when the caller then sets `push_jobs` (push configured).
pub fn assemble_deps_with<S: StoreAdapter>(
    store: Arc<S>,
    shared: SharedServices,
    limits: Limits,
    clock: Arc<dyn Clock>,
    jwt_secret: &[u8],
    blobs: Arc<dyn BlobStore>,
) -> anyhow::Result<Deps> {
    let hashing_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut health: Vec<Arc<dyn HealthCheck>> = vec![store.clone()];
    health.extend(shared.health);
    Ok(Deps {
        users: store.clone(),
        sessions: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        rate_limits: shared.rate_limits,
        events: shared.events,
        presence: shared.presence,
        social: store.clone(),
        media: store.clone(),
        devices: store.clone(),
        blobs,
        claims: shared.claims,
        jobs: shared.jobs,
        push_jobs: None,
        calls: shared.calls,
        node: shared.node,
        nodes: shared.nodes,
        presence_audience: Arc::new(SocialPresence {
            users: store.clone(),
            social: store.clone(),
            conversations: store,
        }),
        passwords: Arc::new(Argon2Passwords::new(hashing_threads)?),
        tokens: Arc::new(JwtTokens::new(jwt_secret)),
        clock,
        ids: Arc::new(UuidV7Ids),
        health,
        limits,
    })
}

/// Announces users whose node died, every `every`, until `stop` is cancelled.
pub fn spawn_presence_sweeper(
    deps: Deps,
    every: std::time::Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    spawn_use_case_every(deps, every, stop, "presence sweep failed; retrying", |deps| async move {
        presence::sweep(&deps).await.map(drop)
    })
}

/// How often a node looks for due call timers (ring timeouts, reconnect graces): the
/// precision of "missed after 45 s".
pub const CALL_TIMER_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Fires due call timers every `every` until `stop`; each timer fires on one node.
pub fn spawn_call_timers(
    deps: Deps,
    every: std::time::Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    spawn_use_case_every(deps, every, stop, "call timers not fired; retrying", |deps| async move {
        signaling::fire_due_timers(&deps).await.map(drop)
    })
}

/// Runs a use case over `deps` every `every` (a late tick is not made up for) until `stop`;
/// a failure is logged as `failed` and the next tick tries again.
fn spawn_use_case_every<F, Fut, E>(
    deps: Deps,
    every: std::time::Duration,
    stop: CancellationToken,
    failed: &'static str,
    task: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Deps) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {
                    if let Err(error) = task(deps.clone()).await {
                        tracing::warn!(%error, "{failed}");
                    }
                }
            }
        }
    })
}

/// Beats for this node every `nodes::BEAT_EVERY` and takes silent nodes for dead, until
/// `stop`; then leaves the node list. `is_here` says whether a device still has a connection
/// on this node (for the rare beat that finds this node was taken for dead).
pub fn spawn_node_watch(
    deps: Deps,
    is_here: Arc<dyn Fn(CallDevice) -> bool + Send + Sync>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut heartbeat = nodes::Heartbeat::new();
        let mut ticks = tokio::time::interval(nodes::BEAT_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticks.tick() => {
                    if let Err(error) = heartbeat.beat(&deps, &*is_here).await {
                        tracing::warn!(%error, "node heartbeat failed; retrying");
                    }
                    if let Err(error) = nodes::sweep(&deps).await {
                        tracing::warn!(%error, "looking for dead nodes failed; retrying");
                    }
                }
            }
        }
        if let Err(error) = nodes::leave(&deps).await {
            tracing::warn!(%error, "this node did not leave the node list; the others will take it for dead");
        }
    })
}

/// Runs the media cleanup every `every` on whichever node claims it first, until `stop`.
pub fn spawn_media_cleanup(
    deps: Deps,
    every: std::time::Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = chat_core::domain::Duration::from_std(every).unwrap_or(chat_core::domain::Duration::hours(1));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => match media::cleanup_if_claimed(&deps, interval).await {
                    Ok(Some(report)) => tracing::info!(
                        expired_uploads = report.expired_uploads.len(),
                        unattached = report.unattached.len(),
                        stray_uploads = report.stray_uploads.len(),
                        requeued = report.requeued.len(),
                        "media cleanup done"
                    ),
                    Ok(None) => tracing::debug!("media cleanup claimed by another node"),
                    Err(error) => tracing::warn!(%error, "media cleanup failed; the next interval retries"),
                },
            }
        }
    })
}
