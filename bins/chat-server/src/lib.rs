//! Wiring of the chat server: configuration, adapter choice, and the embedded (all
//! in-memory) dependency set. `main.rs` only parses the config and calls [`run`]; tests
//! call [`embedded_deps`] and `chat_http::serve` on a port of their own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chat_core::app::{Deps, Limits};
use chat_core::domain::rate_limit::Quota;
use chat_core::ports::Clock;
use chat_http::HttpConfig;
use chat_memory::{MemoryEventBus, MemoryRateLimiter, MemoryStore};
use chat_system::{Argon2Passwords, JwtTokens, SystemClock, UuidV7Ids};
use clap::Parser;
use rand::RngCore as _;

/// The chat API and WebSocket server. With no settings it runs embedded: everything in
/// memory, nothing to install.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CHAT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

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

    /// Postgres connection URL (production store). Not yet supported by this build.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Redis connection URL (cross-node delivery, shared limits). Not yet supported by this build.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
}

impl Config {
    /// Checks what clap cannot, with errors that name the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.database_url.is_some() {
            bail!(
                "DATABASE_URL is set, but this build has no Postgres adapter yet; unset it to run embedded"
            );
        }
        if self.redis_url.is_some() {
            bail!(
                "REDIS_URL is set, but this build has no Redis adapter yet; unset it to run embedded"
            );
        }
        if self
            .jwt_secret
            .as_ref()
            .is_some_and(|secret| secret.len() < 32)
        {
            bail!("JWT_SECRET must be at least 32 bytes");
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
            {
                bail!(
                    "CHAT_ALLOWED_ORIGINS: {origin:?} is not an origin like https://chat.example.vn"
                );
            }
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            chat: Quota::per_minute(self.messages_per_minute),
            ..Limits::default()
        }
    }

    pub fn http(&self) -> HttpConfig {
        HttpConfig {
            allowed_origins: self.allowed_origins.clone(),
            ..HttpConfig::default()
        }
    }
}

/// The embedded dependency set: in-memory store, in-process bus and rate limiter.
pub fn embedded_deps(
    limits: Limits,
    clock: Arc<dyn Clock>,
    jwt_secret: &[u8],
) -> anyhow::Result<Deps> {
    let store = Arc::new(MemoryStore::new());
    let events = Arc::new(MemoryEventBus::new());
    let rate_limits = Arc::new(MemoryRateLimiter::new());
    let hashing_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    Ok(Deps {
        users: store.clone(),
        sessions: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        rate_limits: rate_limits.clone(),
        events: events.clone(),
        passwords: Arc::new(Argon2Passwords::new(hashing_threads)?),
        tokens: Arc::new(JwtTokens::new(jwt_secret)),
        clock,
        ids: Arc::new(UuidV7Ids),
        health: vec![store, events, rate_limits],
        limits,
    })
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    config.validate()?;
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone().into_bytes(),
        None => load_or_create_secret(&config.data_dir)?,
    };
    let deps = embedded_deps(config.limits(), Arc::new(SystemClock), &secret)?;
    let (router, state) = chat_http::app(deps, config.http());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "chat-server listening");
    tracing::warn!(
        "embedded mode: store = memory, event bus = in-process, rate limiter = in-process; all data is lost when the process exits"
    );
    chat_http::serve(listener, router, state, shutdown_signal()).await?;
    tracing::info!("chat-server stopped");
    Ok(())
}

/// The JWT secret kept under the data dir, created (owner-only) on first start.
fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("jwt_secret");
    if let Ok(secret) = std::fs::read(&path) {
        if secret.len() >= 32 {
            return Ok(secret);
        }
        bail!(
            "{} is shorter than 32 bytes; delete it to generate a new one",
            path.display()
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating CHAT_DATA_DIR {}", data_dir.display()))?;
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
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
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
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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
