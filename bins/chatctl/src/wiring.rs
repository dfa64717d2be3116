//! The Postgres store and the use-case dependencies on it, for the commands that act through
//! the use cases (so validation, hashing and the rules apply as they do in the server).

use std::path::PathBuf;
use std::sync::Arc;

use chat_core::app::{Deps, Limits};
use chat_postgres::PgStore;
use chat_system::SystemClock;
use rand::RngCore as _;

/// Where media live, as the servers are configured (S3, or `CHAT_DATA_DIR/blobs`).
#[derive(Clone, Debug, clap::Args)]
pub struct MediaPlace {
    /// The servers' data directory (media are under `blobs/` unless S3_BUCKET is set).
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub settings: chat_server::MediaSettings,
}

/// Opens the store (refusing a stale schema, with the server's own message) and wires the
/// use cases to it. Tokens minted here are never handed out, so a random secret serves.
pub async fn connect(url: &str, limits: Limits, media: &MediaPlace) -> anyhow::Result<(Arc<PgStore>, Deps)> {
    connect_with_secret(url, limits, &random_secret(), 4, media).await
}

/// As [`connect`], but tokens are signed with the servers' secret (for `seed-load`, whose
/// tokens the load generator presents), over a pool of `pool_size` connections.
pub async fn connect_with_secret(
    url: &str,
    limits: Limits,
    jwt_secret: &[u8],
    pool_size: u32,
    media: &MediaPlace,
) -> anyhow::Result<(Arc<PgStore>, Deps)> {
    media.settings.validate()?;
    let store = Arc::new(chat_server::postgres_store(url, pool_size, false).await?);
    // No URL made here reaches a client, so the public URL only has to be well formed, and
    // one-time claims need not be shared.
    let wiring = media.settings.blob_wiring(
        &media.data_dir,
        "http://127.0.0.1",
        &random_secret(),
        Arc::new(chat_memory::MemoryClaims::new()),
    )?;
    let deps = chat_server::assemble_deps(store.clone(), limits, Arc::new(SystemClock), jwt_secret, wiring.blobs)?;
    Ok((store, deps))
}

fn random_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    secret
}
