//! The chat server as a library: `main.rs` parses the [`Config`], sets up logging and calls
//! [`run`]; tests call [`embedded_deps`] (or [`assemble_deps`] with a store) and
//! `chat_http::serve` on a port of their own.
//!
//! Its modules: `config` (the settings and their checks), `wiring` (which adapter backs each
//! port), `logging` (text or JSON log lines), `secret` (the JWT-secret file), `listen` (the
//! listening socket) and `signals` (when to stop).

mod config;
mod listen;
mod logging;
mod media;
mod processing;
mod push;
mod secret;
mod signals;
mod wiring;
mod worker;

use std::sync::Arc;

use anyhow::Context;
use chat_core::ports::Clock;
use chat_memory::MemoryStore;
use chat_redis::{CachedUsers, RedisConnection};
use chat_system::SystemClock;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use logging::{LogFormat, init_logging};
pub use media::{BlobWiring, MediaSettings, disk_blobs, standalone_disk_blobs};
pub use processing::{JobSettings, ProcessingSettings, WORKER_GRACE, process_name};
pub use push::{PushSettings, run_push_worker};
pub use signals::shutdown_signal;
pub use wiring::{
    CALL_TIMER_INTERVAL, SharedServices, StoreAdapter, assemble_deps, assemble_deps_with, embedded_deps,
    postgres_store, redis_services, spawn_call_timers, spawn_media_cleanup, spawn_node_watch, spawn_presence_sweeper,
};
pub use worker::run_media_worker;

/// How long a cached profile may live without being invalidated (a safety net: changes
/// invalidate it at once).
const PROFILE_CACHE_TTL_SECS: u64 = 600;

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    config.validate()?;
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone().into_bytes(),
        None => secret::load_or_create_secret(&config.data_dir)?,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let redis = match &config.redis_url {
        Some(url) => Some(
            RedisConnection::connect(url, &config.redis_prefix, config.redis_pool_size).await.context("REDIS_URL")?,
        ),
        None => None,
    };
    let job_policy = config.jobs.policy();
    let shared = match &redis {
        Some(redis) => redis_services(redis.clone(), job_policy.clone()),
        None => SharedServices::in_process(job_policy.clone()),
    };
    let push_jobs = shared.push_jobs.clone();
    let push_sender = config.push.sender(clock.clone())?;
    let listener =
        listen::listen(config.listen, config.reuse_port).with_context(|| format!("binding {}", config.listen))?;
    let public_url = match &config.media.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", listener.local_addr()?),
    };
    if config.database_url.is_none() && config.media.s3_bucket.is_none() {
        // Embedded mode forgets its media records at exit: the bytes of the last run are
        // referenced by nothing.
        media::forget_embedded_blobs(&config.data_dir)?;
    }
    let blob_wiring = config.media.blob_wiring(&config.data_dir, &public_url, &secret, shared.claims.clone())?;
    if let Some(disk) = &blob_wiring.disk {
        disk.clear_leftovers().context("clearing the blob directory's unfinished writes")?;
    }
    let blobs = blob_wiring.blobs.clone();
    let mut deps = match &config.database_url {
        Some(url) => {
            let store = postgres_store(url, config.database_pool_size, config.migrate).await?;
            assemble_deps_with(Arc::new(store), shared, config.limits(), clock, &secret, blobs)?
        }
        None => assemble_deps_with(Arc::new(MemoryStore::new()), shared, config.limits(), clock, &secret, blobs)?,
    };
    if let Some(redis) = &redis {
        deps.users = Arc::new(CachedUsers::new(deps.users.clone(), redis.clone(), PROFILE_CACHE_TTL_SECS));
    }
    deps.health.extend(blob_wiring.health.clone());
    if let Some(sender) = &push_sender {
        deps.push_jobs = Some(push_jobs);
        deps.health.push(sender.clone());
    }
    let store_adapter = if config.database_url.is_some() { "postgres" } else { "memory" };
    let shared_adapter = if redis.is_some() { "redis" } else { "in-process" };
    let sweeper_stop = CancellationToken::new();
    let sweeper = spawn_presence_sweeper(deps.clone(), config.presence_sweep_interval(), sweeper_stop.clone());
    let cleanup = spawn_media_cleanup(deps.clone(), config.media_cleanup_interval(), sweeper_stop.clone());
    let call_timers = spawn_call_timers(deps.clone(), CALL_TIMER_INTERVAL, sweeper_stop.clone());
    let workers = config.processing.workers(redis.is_some());
    let media_worker = if workers > 0 {
        let (processors, health) = config.processing.processors(&config.data_dir)?;
        deps.health.extend(health);
        let name = process_name();
        let stop = sweeper_stop.clone();
        let lease_renewal = job_policy.lease_renewal_interval();
        Some(tokio::spawn(run_media_worker(deps.clone(), processors, name, workers, WORKER_GRACE, lease_renewal, stop)))
    } else {
        None
    };
    let push_worker = push_sender.map(|sender| {
        let name = process_name();
        let concurrency = config.push.push_concurrency as usize;
        tokio::spawn(run_push_worker(deps.clone(), sender, name, concurrency, sweeper_stop.clone()))
    });
    let (router, state) = chat_http::app(deps, config.http());
    let gateway = state.gateway.clone();
    let is_here = Arc::new(move |device: chat_core::domain::call::CallDevice| {
        gateway.has_session(device.user_id, device.session_id)
    });
    let node_watch = spawn_node_watch((*state.deps).clone(), is_here, sweeper_stop.clone());
    // The blob endpoint is merged outside the API's layers: its bodies are uploads of up to
    // 50 MiB, streamed to disk, not 64 KiB JSON.
    let router = match blob_wiring.routes {
        Some(blob_routes) => router.merge(blob_routes),
        None => router,
    };
    tracing::info!(address = %listener.local_addr()?, "chat-server listening");
    tracing::info!(
        store = store_adapter,
        event_bus = shared_adapter,
        rate_limiter = shared_adapter,
        presence = shared_adapter,
        profile_cache = if redis.is_some() { "redis" } else { "none" },
        blobs = blob_wiring.name,
        claims = shared_adapter,
        push = if push_worker.is_some() { "fcm" } else { "off" },
        "adapters"
    );
    if redis.is_some() && config.database_url.is_none() {
        tracing::warn!(
            "REDIS_URL without DATABASE_URL: each node keeps its own in-memory store, so nodes do not share data"
        );
    }
    if redis.is_some() && blob_wiring.name == "disk" {
        tracing::warn!(
            "REDIS_URL without S3_BUCKET: each node keeps media in its own directory, so a node cannot serve another's uploads"
        );
    }
    if config.database_url.is_none() {
        tracing::warn!(
            "embedded mode: users, conversations and messages live in memory and are lost when the process exits"
        );
    }
    chat_http::serve(listener, router, state, signals::shutdown_signal()).await?;
    sweeper_stop.cancel();
    let _ = sweeper.await;
    let _ = cleanup.await;
    let _ = call_timers.await;
    let _ = node_watch.await;
    if let Some(media_worker) = media_worker {
        let _ = media_worker.await;
    }
    if let Some(push_worker) = push_worker {
        let _ = push_worker.await;
    }
    tracing::info!("chat-server stopped");
    Ok(())
}
