//! Wiring of the chat server: configuration, adapter choice, and the embedded (all
//! in-memory) dependency set. `main.rs` only parses the config and calls [`run`]; tests
//! call [`embedded_deps`] and `chat_http::serve` on a port of their own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chat_core::app::presence::{self, SocialPresence};
use chat_core::app::{Deps, Limits};
use chat_core::domain::rate_limit::Quota;
use chat_core::ports::{
    Clock, ConversationRepo, EventBus, HealthCheck, MessageRepo, PresenceStore, RateLimitStore, SessionRepo,
    SocialRepo, UserRepo,
};
use chat_http::HttpConfig;
use chat_memory::{MemoryEventBus, MemoryPresence, MemoryRateLimiter, MemoryStore};
use chat_postgres::{PgStore, PoolConfig};
use chat_redis::{CachedUsers, RedisConnection, RedisEventBus, RedisPresence, RedisRateLimiter};
use chat_system::{Argon2Passwords, JwtTokens, SystemClock, UuidV7Ids};
use clap::Parser;
use rand::RngCore as _;
use tokio_util::sync::CancellationToken;

/// The chat API and WebSocket server. With no settings it runs embedded: everything in
/// memory, nothing to install.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CHAT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Let several server processes listen on the same address (SO_REUSEPORT): the kernel
    /// spreads new connections over them. They must share DATABASE_URL and REDIS_URL.
    #[arg(
        long,
        env = "CHAT_REUSE_PORT",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub reuse_port: bool,

    /// Directory for local data (the generated JWT secret; media later).
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Secret for signing access tokens (at least 32 bytes). When unset, one is generated
    /// and kept in the data dir, so tokens survive restarts. All nodes must share it.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Comma-separated browser origins allowed to call the API and open /ws
    /// (e.g. https://chat.example.vn). Unset: any origin.
    #[arg(long, env = "CHAT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Messages one user may send per minute (a burst of this many, then an even rate).
    #[arg(long, env = "CHAT_RATE_MESSAGES_PER_MINUTE", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub messages_per_minute: u32,

    /// The window of the message limit, in seconds: `--messages-per-minute` messages may come at
    /// once, then one every window/limit. 60 gives the seed's 60 per minute.
    #[arg(long, env = "CHAT_RATE_WINDOW_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub rate_window_secs: u64,

    /// How long a session stays online after its last heartbeat (clients beat every 30 s).
    #[arg(long, env = "CHAT_PRESENCE_TTL_SECS", default_value_t = 40, value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub presence_ttl_secs: u64,

    /// Postgres connection URL: keeps users, conversations and messages. Unset: in memory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Apply pending database migrations at start (otherwise a stale schema stops the start).
    /// The environment form takes true/false, 1/0, yes/no, on/off.
    #[arg(
        long,
        env = "CHAT_MIGRATE",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub migrate: bool,

    /// Most connections this process opens to Postgres.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,

    /// Prefix of every Redis key and channel, so several deployments can share one Redis.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat:")]
    pub redis_prefix: String,

    /// Most command connections this process opens to Redis (multiplexed; a few suffice).
    #[arg(long, env = "REDIS_POOL_SIZE", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub redis_pool_size: u32,

    /// Redis connection URL: delivery across nodes, shared rate limits, presence, profile
    /// cache. Unset: all in-process (one node).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
}

impl Config {
    /// Checks what clap cannot, with errors that name the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.reuse_port && (self.database_url.is_none() || self.redis_url.is_none()) {
            bail!(
                "--reuse-port (CHAT_REUSE_PORT) needs DATABASE_URL and REDIS_URL: processes sharing a port must share their state"
            );
        }
        if self.migrate && self.database_url.is_none() {
            bail!("--migrate (CHAT_MIGRATE) needs DATABASE_URL: the in-memory store has no schema");
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL must be a postgres:// URL");
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            bail!("REDIS_URL must be a redis:// URL");
        }
        if self.jwt_secret.as_ref().is_some_and(|secret| secret.len() < 32) {
            bail!("JWT_SECRET must be at least 32 bytes");
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) || origin.ends_with('/') {
                bail!("CHAT_ALLOWED_ORIGINS: {origin:?} is not an origin like https://chat.example.vn");
            }
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            chat: Quota::per_window(self.messages_per_minute, self.rate_window_secs * 1000),
            presence_ttl: chat_core::domain::Duration::seconds(i64::try_from(self.presence_ttl_secs).unwrap_or(40)),
            ..Limits::default()
        }
    }

    /// How often this node looks for users whose node died: a fraction of the presence TTL,
    /// so they show offline at most ~TTL + TTL/8 after their last heartbeat.
    pub fn presence_sweep_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis((self.presence_ttl_secs * 1000 / 8).max(250))
    }

    pub fn http(&self) -> HttpConfig {
        let defaults = HttpConfig::default();
        // Clients must beat well within the presence TTL, or they would flicker offline.
        let ttl = std::time::Duration::from_secs(self.presence_ttl_secs);
        let heartbeat_interval = defaults.heartbeat_interval.min(ttl * 3 / 4);
        HttpConfig { allowed_origins: self.allowed_origins.clone(), heartbeat_interval, ..defaults }
    }
}

/// What a store adapter must be to back the server.
pub trait StoreAdapter:
    UserRepo + SessionRepo + ConversationRepo + MessageRepo + SocialRepo + HealthCheck + 'static
{
}
impl<T> StoreAdapter for T where
    T: UserRepo + SessionRepo + ConversationRepo + MessageRepo + SocialRepo + HealthCheck + 'static
{
}

/// The embedded dependency set: in-memory store, in-process bus and rate limiter.
pub fn embedded_deps(limits: Limits, clock: Arc<dyn Clock>, jwt_secret: &[u8]) -> anyhow::Result<Deps> {
    assemble_deps(Arc::new(MemoryStore::new()), limits, clock, jwt_secret)
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

/// The ports every node must share to act as one server: the event bus, rate limits and
/// presence. In-process for a single node; Redis for several.
pub struct SharedServices {
    pub events: Arc<dyn EventBus>,
    pub rate_limits: Arc<dyn RateLimitStore>,
    pub presence: Arc<dyn PresenceStore>,
    /// Their readiness checks.
    pub health: Vec<Arc<dyn HealthCheck>>,
}

impl SharedServices {
    pub fn in_process() -> SharedServices {
        let events = Arc::new(MemoryEventBus::new());
        let rate_limits = Arc::new(MemoryRateLimiter::new());
        let presence = Arc::new(MemoryPresence::new());
        SharedServices {
            events: events.clone(),
            rate_limits: rate_limits.clone(),
            presence: presence.clone(),
            health: vec![events, rate_limits, presence],
        }
    }
}

/// How long a cached profile may live without being invalidated (a safety net: changes
/// invalidate it at once).
const PROFILE_CACHE_TTL_SECS: u64 = 600;

/// The shared services on Redis.
pub fn redis_services(redis: RedisConnection) -> SharedServices {
    let events = RedisEventBus::start(redis.clone());
    let rate_limits = Arc::new(RedisRateLimiter::new(redis.clone()));
    let presence = Arc::new(RedisPresence::new(redis));
    SharedServices {
        events: events.clone(),
        rate_limits: rate_limits.clone(),
        presence: presence.clone(),
        health: vec![events, rate_limits, presence],
    }
}

/// Every port wired: the given store, in-process shared services, argon2id, JWT, UUIDv7 ids.
pub fn assemble_deps<S: StoreAdapter>(
    store: Arc<S>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    jwt_secret: &[u8],
) -> anyhow::Result<Deps> {
    assemble_deps_with(store, SharedServices::in_process(), limits, clock, jwt_secret)
}

/// Every port wired, with the given shared services.
pub fn assemble_deps_with<S: StoreAdapter>(
    store: Arc<S>,
    shared: SharedServices,
    limits: Limits,
    clock: Arc<dyn Clock>,
    jwt_secret: &[u8],
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
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {
                    if let Err(error) = presence::sweep(&deps).await {
                        tracing::warn!(%error, "presence sweep failed; retrying");
                    }
                }
            }
        }
    })
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    config.validate()?;
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone().into_bytes(),
        None => load_or_create_secret(&config.data_dir)?,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let redis = match &config.redis_url {
        Some(url) => Some(
            RedisConnection::connect(url, &config.redis_prefix, config.redis_pool_size).await.context("REDIS_URL")?,
        ),
        None => None,
    };
    let shared = match &redis {
        Some(redis) => redis_services(redis.clone()),
        None => SharedServices::in_process(),
    };
    let mut deps = match &config.database_url {
        Some(url) => {
            let store = postgres_store(url, config.database_pool_size, config.migrate).await?;
            assemble_deps_with(Arc::new(store), shared, config.limits(), clock, &secret)?
        }
        None => assemble_deps_with(Arc::new(MemoryStore::new()), shared, config.limits(), clock, &secret)?,
    };
    if let Some(redis) = &redis {
        deps.users = Arc::new(CachedUsers::new(deps.users.clone(), redis.clone(), PROFILE_CACHE_TTL_SECS));
    }
    let store_adapter = if config.database_url.is_some() { "postgres" } else { "memory" };
    let shared_adapter = if redis.is_some() { "redis" } else { "in-process" };
    let sweeper_stop = CancellationToken::new();
    let sweeper = spawn_presence_sweeper(deps.clone(), config.presence_sweep_interval(), sweeper_stop.clone());
    let (router, state) = chat_http::app(deps, config.http());
    let listener = listen(config.listen, config.reuse_port).with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "chat-server listening");
    tracing::info!(
        store = store_adapter,
        event_bus = shared_adapter,
        rate_limiter = shared_adapter,
        presence = shared_adapter,
        profile_cache = if redis.is_some() { "redis" } else { "none" },
        "adapters"
    );
    if redis.is_some() && config.database_url.is_none() {
        tracing::warn!(
            "REDIS_URL without DATABASE_URL: each node keeps its own in-memory store, so nodes do not share data"
        );
    }
    if config.database_url.is_none() {
        tracing::warn!(
            "embedded mode: users, conversations and messages live in memory and are lost when the process exits"
        );
    }
    chat_http::serve(listener, router, state, shutdown_signal()).await?;
    sweeper_stop.cancel();
    let _ = sweeper.await;
    tracing::info!("chat-server stopped");
    Ok(())
}

/// Connections waiting to be accepted: a reconnect storm after a deploy brings thousands at
/// once (the kernel caps it at net.core.somaxconn).
const LISTEN_BACKLOG: u32 = 4096;

fn listen(address: SocketAddr, reuse_port: bool) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // A restarted server must bind while the old one's connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The JWT secret kept under the data dir, created (owner-only) on first start.
fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("jwt_secret");
    if let Ok(secret) = std::fs::read(&path) {
        if secret.len() >= 32 {
            return Ok(secret);
        }
        bail!("{} is shorter than 32 bytes; delete it to generate a new one", path.display());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating CHAT_DATA_DIR {}", data_dir.display()))?;
    let mut secret = vec![0u8; 64];
    rand::rng().fill_bytes(&mut secret);
    write_private(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down: draining sockets");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("chat-server").chain(args.iter().copied()))
    }

    #[test]
    fn migrate_flag_takes_boolish_values() {
        assert!(parse(&["--migrate"]).unwrap_or_else(|e| panic!("{e}")).migrate);
        assert!(parse(&["--migrate", "yes"]).unwrap_or_else(|e| panic!("{e}")).migrate);
        assert!(!parse(&["--migrate", "0"]).unwrap_or_else(|e| panic!("{e}")).migrate);
        assert!(parse(&["--migrate", "maybe"]).is_err());
    }

    #[test]
    fn settings_are_validated_with_errors_that_name_them() {
        let error =
            |args: &[&str]| parse(args).unwrap_or_else(|e| panic!("{e}")).validate().err().map(|e| e.to_string());
        assert!(error(&["--database-url", "mysql://x"]).is_some_and(|e| e.contains("DATABASE_URL")));
        assert!(error(&["--redis-url", "http://x"]).is_some_and(|e| e.contains("REDIS_URL")));
        assert!(error(&["--jwt-secret", "short"]).is_some_and(|e| e.contains("JWT_SECRET")));
        assert!(error(&["--allowed-origins", "chat.vn"]).is_some_and(|e| e.contains("CHAT_ALLOWED_ORIGINS")));
        // DATABASE_URL may be set in the environment (CI sets it): clear it by hand.
        let mut migrate_only = parse(&["--migrate"]).unwrap_or_else(|e| panic!("{e}"));
        migrate_only.database_url = None;
        assert!(migrate_only.validate().is_err_and(|e| e.to_string().contains("DATABASE_URL")));
        assert_eq!(error(&["--database-url", "postgres://x/y", "--migrate"]), None);
    }
}
