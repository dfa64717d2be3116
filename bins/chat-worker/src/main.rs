//! `chat-worker`: takes media jobs from the queue the servers share (Redis) and processes
//! them, and push jobs too when FCM is configured, as many processes as the load needs. Thin: the settings, the same wiring as
//! chat-server, and chat-server's worker loop.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chat_core::app::Limits;
use chat_redis::RedisConnection;
use chat_server::{JobSettings, LogFormat, MediaSettings, ProcessingSettings, PushSettings, WORKER_GRACE};
use clap::Parser;
use rand::RngCore as _;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The media worker. It needs the servers' database, Redis and media storage.
#[derive(Debug, Parser)]
#[command(version)]
struct Config {
    /// Postgres connection URL (the servers').
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,

    /// Redis connection URL (the servers'): the job queue and the events to the sockets.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: String,

    /// Prefix of every Redis key and channel (the servers').
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat:")]
    redis_prefix: String,

    /// Directory for the files of the jobs in hand (under `work/`), and for media when
    /// S3_BUCKET is not set (then it must be the server's own data directory).
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// Jobs processed at once.
    #[arg(long, env = "CHAT_WORKER_CONCURRENCY", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,

    /// Where to serve `GET /metrics` (Prometheus: the queue's depth, job durations and
    /// failures) and `GET /health`.
    #[arg(long, env = "CHAT_WORKER_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    metrics_listen: std::net::SocketAddr,

    /// Log line format: `text` or `json`.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(flatten)]
    media: MediaSettings,

    #[command(flatten)]
    processing: ProcessingSettings,

    #[command(flatten)]
    jobs: JobSettings,

    #[command(flatten)]
    push: PushSettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    chat_server::init_logging(config.log_format);
    config.media.validate()?;
    config.processing.validate(config.media.s3_bucket.is_some())?;
    let redis = RedisConnection::connect(&config.redis_url, &config.redis_prefix, 4).await.context("REDIS_URL")?;
    let job_policy = config.jobs.policy();
    let shared = chat_server::redis_services(redis, job_policy.clone());
    let claims = shared.claims.clone();
    let push_jobs = shared.push_jobs.clone();
    let clock: Arc<dyn chat_core::ports::Clock> = Arc::new(chat_system::SystemClock);
    let push_sender = config.push.sender(clock.clone())?;
    let store = chat_server::postgres_store(&config.database_url, 4, false).await?;
    // The worker signs no URL a client sees: the public URL only has to be well formed.
    let blobs = config.media.blob_wiring(&config.data_dir, "http://127.0.0.1", &random_secret(), claims)?;
    let mut deps = chat_server::assemble_deps_with(
        Arc::new(store),
        shared,
        Limits::default(),
        clock,
        &random_secret(),
        blobs.blobs,
    )?;
    if push_sender.is_some() {
        deps.push_jobs = Some(push_jobs);
    }
    let (processors, _) = config.processing.processors(&config.data_dir)?;
    let name = chat_server::process_name();
    tracing::info!(
        %name,
        concurrency = config.concurrency,
        blobs = blobs.name,
        visibility_timeout_secs = job_policy.visibility_timeout.as_secs(),
        "chat-worker started"
    );
    let stop = CancellationToken::new();
    let metrics = serve_metrics(config.metrics_listen, stop.clone()).await?;
    let push_worker = push_sender.map(|sender| {
        let concurrency = config.push.push_concurrency as usize;
        tokio::spawn(chat_server::run_push_worker(deps.clone(), sender, name.clone(), concurrency, stop.clone()))
    });
    let worker = tokio::spawn(chat_server::run_media_worker(
        deps,
        processors,
        name,
        config.concurrency as usize,
        WORKER_GRACE,
        job_policy.lease_renewal_interval(),
        stop.clone(),
    ));
    chat_server::shutdown_signal().await;
    stop.cancel();
    worker.await.context("the worker loop")?;
    if let Some(push_worker) = push_worker {
        push_worker.await.context("the push worker loop")?;
    }
    let _ = metrics.await;
    tracing::info!("chat-worker stopped");
    Ok(())
}

/// `GET /metrics` and `GET /health` until `stop`.
async fn serve_metrics(
    address: std::net::SocketAddr,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let handle = chat_http::prometheus();
    let routes = axum::Router::new()
        .route("/metrics", axum::routing::get(move || std::future::ready(handle.render())))
        .route("/health", axum::routing::get(|| std::future::ready("ok")));
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
    tracing::info!(%address, "metrics served");
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, routes).with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(error) = served.await {
            tracing::warn!(%error, "the metrics listener stopped");
        }
    }))
}

/// The worker's tokens are never handed out; a random secret serves.
fn random_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    secret
}
