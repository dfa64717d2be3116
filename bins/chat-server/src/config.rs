//! The server's settings: a clap struct (every setting a flag and an environment variable),
//! the checks clap cannot make, and what the settings mean for the core and the HTTP layer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};
use chat_core::app::Limits;
use chat_core::domain::rate_limit::Quota;
use chat_core::domain::turn::{IceSettings, IceUrlKind, TurnRelay, TurnSecret, check_ice_url, stun_urls_from_turn};
use chat_http::HttpConfig;
use clap::Parser;

use crate::logging::LogFormat;
use crate::media::MediaSettings;
use crate::processing::{JobSettings, ProcessingSettings};

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

    /// Directory for local data: the generated JWT secret, and media (under `blobs/`) unless
    /// S3_BUCKET is set.
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

    /// How long heartbeats gather, in milliseconds, before their presence is renewed in one
    /// store call. Unset: 1000, or an eighth of the presence TTL when that is shorter.
    #[arg(long, env = "CHAT_HEARTBEAT_FLUSH_MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub heartbeat_flush_ms: Option<u64>,

    /// Log line format: `text` for people (coloured only on a terminal) or `json` (one
    /// object per line) for a log collector. RUST_LOG filters either.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

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

    #[command(flatten)]
    pub media: MediaSettings,

    #[command(flatten)]
    pub processing: ProcessingSettings,

    #[command(flatten)]
    pub jobs: JobSettings,

    #[command(flatten)]
    pub push: crate::push::PushSettings,

    #[command(flatten)]
    pub calls: CallSettings,
}

/// The ICE servers handed to callers (`GET /api/v1/calls/ice-servers`). Without TURN the list
/// holds only the STUN URLs, if any: enough for two browsers on one machine or one network.
#[derive(Clone, Debug, clap::Args)]
pub struct CallSettings {
    /// Comma-separated TURN URLs handed to callers, e.g.
    /// `turn:turn.example.vn:3478?transport=udp,turns:turn.example.vn:5349?transport=tcp`.
    /// Needs TURN_SHARED_SECRET. Unset: no relay.
    #[arg(long, env = "TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,

    /// The TURN servers' shared secret (coturn's `static-auth-secret`, with `use-auth-secret`):
    /// each caller gets a credential signed with it.
    #[arg(long, env = "TURN_SHARED_SECRET", hide_env_values = true)]
    pub turn_shared_secret: Option<String>,

    /// How long a handed-out TURN credential is accepted, in seconds.
    #[arg(long, env = "TURN_CREDENTIAL_TTL_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=MAX_TURN_CREDENTIAL_TTL_SECS))]
    pub turn_credential_ttl_secs: u64,

    /// Comma-separated STUN URLs handed to callers (`stun:host:port`). Unset: the hosts of the
    /// `turn:` URLs (a TURN server answers STUN too); set it empty for none.
    #[arg(long, env = "STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Option<Vec<String>>,
}

/// The longest a TURN credential may last: a day, the TURN REST draft's suggestion.
const MAX_TURN_CREDENTIAL_TTL_SECS: u64 = 86_400;

impl CallSettings {
    /// The settings for the core, or an error naming the setting that is wrong.
    pub fn ice(&self) -> anyhow::Result<IceSettings> {
        let turn_urls = non_empty(&self.turn_urls);
        for url in &turn_urls {
            check_ice_url(url, IceUrlKind::Turn).map_err(|e| anyhow!("TURN_URLS: {e}"))?;
        }
        let relay = match (turn_urls.is_empty(), &self.turn_shared_secret) {
            (true, None) => None,
            (false, Some(secret)) => Some(TurnRelay {
                urls: turn_urls.clone(),
                secret: TurnSecret::new(secret.as_str()).map_err(|e| anyhow!("TURN_SHARED_SECRET: {e}"))?,
            }),
            (false, None) => bail!("TURN_URLS needs TURN_SHARED_SECRET: TURN credentials are signed with it"),
            (true, Some(_)) => bail!("TURN_SHARED_SECRET is set but TURN_URLS is not: name the TURN servers"),
        };
        let stun_urls = match &self.stun_urls {
            Some(urls) => non_empty(urls),
            None => stun_urls_from_turn(&turn_urls),
        };
        for url in &stun_urls {
            check_ice_url(url, IceUrlKind::Stun).map_err(|e| anyhow!("STUN_URLS: {e}"))?;
        }
        // clap keeps it within a day; the clamp keeps a hand-built value from overflowing.
        let credential_ttl = chat_core::domain::Duration::seconds(
            i64::try_from(self.turn_credential_ttl_secs.min(MAX_TURN_CREDENTIAL_TTL_SECS)).unwrap_or(0),
        );
        Ok(IceSettings { stun_urls, relay, credential_ttl })
    }
}

/// The list without blanks and surrounding spaces (`TURN_URLS="a, b,"`).
fn non_empty(urls: &[String]) -> Vec<String> {
    urls.iter().map(|url| url.trim()).filter(|url| !url.is_empty()).map(str::to_owned).collect()
}

/// The longest the default heartbeat flush waits.
const DEFAULT_HEARTBEAT_FLUSH: Duration = Duration::from_secs(1);

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
        // Clients beat every ¾ TTL at the latest (see `http`); a renewal held back longer
        // than the remaining quarter would let a beating socket flicker offline.
        if let Some(flush_ms) = self.heartbeat_flush_ms
            && flush_ms.saturating_mul(4) >= self.presence_ttl_secs * 1000
        {
            bail!(
                "--heartbeat-flush-ms (CHAT_HEARTBEAT_FLUSH_MS) must be under a quarter of the presence TTL ({} ms)",
                self.presence_ttl_secs * 1000 / 4
            );
        }
        self.calls.ice()?;
        self.media.validate()?;
        self.processing.validate(self.media.s3_bucket.is_some())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            chat: Quota::per_window(self.messages_per_minute, self.rate_window_secs * 1000),
            media_quota_bytes: self.media.media_quota_mib * 1024 * 1024,
            av_processing: crate::processing::av_tools_present(),
            presence_ttl: chat_core::domain::Duration::seconds(i64::try_from(self.presence_ttl_secs).unwrap_or(40)),
            // `validate` refused wrong call settings before the limits are read.
            ice: self.calls.ice().unwrap_or_default(),
            ..Limits::default()
        }
    }

    /// How often a node tries to claim the media cleanup.
    pub fn media_cleanup_interval(&self) -> Duration {
        Duration::from_secs(self.media.media_cleanup_interval_secs)
    }

    /// How often this node looks for users whose node died: a fraction of the presence TTL,
    /// so they show offline at most ~TTL + TTL/8 after their last heartbeat.
    pub fn presence_sweep_interval(&self) -> Duration {
        Duration::from_millis((self.presence_ttl_secs * 1000 / 8).max(250))
    }

    /// How long heartbeats gather before one store call renews them all: the setting, or
    /// 1 s, shortened to an eighth of a short presence TTL.
    pub fn heartbeat_flush_interval(&self) -> Duration {
        match self.heartbeat_flush_ms {
            Some(flush_ms) => Duration::from_millis(flush_ms),
            None => DEFAULT_HEARTBEAT_FLUSH.min(Duration::from_millis(self.presence_ttl_secs * 1000 / 8)),
        }
    }

    pub fn http(&self) -> HttpConfig {
        let defaults = HttpConfig::default();
        // Clients must beat well within the presence TTL, or they would flicker offline.
        let ttl = Duration::from_secs(self.presence_ttl_secs);
        let heartbeat_interval = defaults.heartbeat_interval.min(ttl * 3 / 4);
        HttpConfig {
            allowed_origins: self.allowed_origins.clone(),
            heartbeat_interval,
            heartbeat_flush_interval: self.heartbeat_flush_interval(),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("chat-server").chain(args.iter().copied()))
    }

    fn parsed(args: &[&str]) -> Config {
        parse(args).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn migrate_flag_takes_boolish_values() {
        assert!(parsed(&["--migrate"]).migrate);
        assert!(parsed(&["--migrate", "yes"]).migrate);
        assert!(!parsed(&["--migrate", "0"]).migrate);
        assert!(parse(&["--migrate", "maybe"]).is_err());
    }

    #[test]
    fn settings_are_validated_with_errors_that_name_them() {
        let error = |args: &[&str]| parsed(args).validate().err().map(|e| e.to_string());
        assert!(error(&["--database-url", "mysql://x"]).is_some_and(|e| e.contains("DATABASE_URL")));
        assert!(error(&["--redis-url", "http://x"]).is_some_and(|e| e.contains("REDIS_URL")));
        assert!(error(&["--jwt-secret", "short"]).is_some_and(|e| e.contains("JWT_SECRET")));
        assert!(error(&["--allowed-origins", "chat.vn"]).is_some_and(|e| e.contains("CHAT_ALLOWED_ORIGINS")));
        assert!(
            error(&["--presence-ttl-secs", "4", "--heartbeat-flush-ms", "1000"])
                .is_some_and(|e| e.contains("CHAT_HEARTBEAT_FLUSH_MS"))
        );
        assert_eq!(error(&["--presence-ttl-secs", "4", "--heartbeat-flush-ms", "999"]), None);
        // DATABASE_URL may be set in the environment (CI sets it): clear it by hand.
        let mut migrate_only = parsed(&["--migrate"]);
        migrate_only.database_url = None;
        assert!(migrate_only.validate().is_err_and(|e| e.to_string().contains("DATABASE_URL")));
        assert_eq!(error(&["--database-url", "postgres://x/y", "--migrate"]), None);
    }

    #[test]
    fn the_heartbeat_flush_is_a_second_unless_set_or_the_ttl_is_short() {
        let flush = |args: &[&str]| parsed(args).http().heartbeat_flush_interval;
        assert_eq!(flush(&[]), Duration::from_secs(1));
        assert_eq!(flush(&["--presence-ttl-secs", "4"]), Duration::from_millis(500));
        assert_eq!(flush(&["--heartbeat-flush-ms", "20"]), Duration::from_millis(20));
        assert!(parse(&["--heartbeat-flush-ms", "0"]).is_err());
    }

    #[test]
    fn the_job_policy_is_production_unless_set() {
        let policy = |args: &[&str]| parsed(args).jobs.policy();
        assert_eq!(policy(&[]), chat_core::domain::job::JobPolicy::production());
        let short = policy(&["--job-visibility-timeout-secs", "3", "--job-backoff-secs", "1,2"]);
        assert_eq!(short.visibility_timeout, Duration::from_secs(3));
        assert_eq!(short.backoff, [Duration::from_secs(1), Duration::from_secs(2)]);
        assert_eq!(short.max_attempts, chat_core::domain::job::JobPolicy::production().max_attempts);
        assert_eq!(crate::JobSettings::default().policy(), chat_core::domain::job::JobPolicy::production());
        assert!(parse(&["--job-visibility-timeout-secs", "0"]).is_err());
        assert!(parse(&["--job-backoff-secs", "1,x"]).is_err());
    }

    #[test]
    fn call_settings_give_turn_with_stun_on_its_hosts_unless_stun_is_set() {
        assert_eq!(parsed(&[]).limits().ice, IceSettings::default());
        let turn = ["--turn-urls", "turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp"];
        let with_secret =
            [&turn[..], &["--turn-shared-secret", "s3cret", "--turn-credential-ttl-secs", "600"]].concat();
        let ice = parsed(&with_secret).limits().ice;
        assert_eq!(ice.stun_urls, ["stun:127.0.0.1:3478"]);
        assert_eq!(ice.relay.map(|relay| relay.urls.len()), Some(2));
        assert_eq!(ice.credential_ttl, chat_core::domain::Duration::seconds(600));
        let stun_set = [&with_secret[..], &["--stun-urls", "stun:stun.example.vn:3478"]].concat();
        assert_eq!(parsed(&stun_set).limits().ice.stun_urls, ["stun:stun.example.vn:3478"]);
        let stun_none = [&with_secret[..], &["--stun-urls", ""]].concat();
        assert!(parsed(&stun_none).limits().ice.stun_urls.is_empty());
        assert!(parse(&["--turn-credential-ttl-secs", "5"]).is_err());
    }

    #[test]
    fn wrong_call_settings_are_refused_by_name() {
        let error = |args: &[&str]| parsed(args).validate().err().map(|e| e.to_string());
        assert!(error(&["--turn-urls", "turn:h:3478"]).is_some_and(|e| e.contains("TURN_SHARED_SECRET")));
        assert!(error(&["--turn-shared-secret", "s"]).is_some_and(|e| e.contains("TURN_URLS")));
        assert!(
            error(&["--turn-urls", "http://h", "--turn-shared-secret", "s"]).is_some_and(|e| e.contains("TURN_URLS"))
        );
        assert!(
            error(&["--turn-urls", "turn:h", "--turn-shared-secret", ""])
                .is_some_and(|e| e.contains("TURN_SHARED_SECRET"))
        );
        assert!(error(&["--stun-urls", "turn:h"]).is_some_and(|e| e.contains("STUN_URLS")));
        assert_eq!(error(&["--stun-urls", "stun:h:3478"]), None);
    }

    #[test]
    fn log_format_is_text_unless_asked_for_json() {
        assert_eq!(parsed(&[]).log_format, LogFormat::Text);
        assert_eq!(parsed(&["--log-format", "json"]).log_format, LogFormat::Json);
        assert!(parse(&["--log-format", "xml"]).is_err());
    }
}
