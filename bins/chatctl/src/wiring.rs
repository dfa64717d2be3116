//! The Postgres store and the use-case dependencies on it, for the commands that act through
//! the use cases (so validation, hashing and the rules apply as they do in the server).

use std::sync::Arc;

use chat_core::app::{Deps, Limits};
use chat_postgres::PgStore;
use chat_system::SystemClock;
use rand::RngCore as _;

/// Opens the store (refusing a stale schema, with the server's own message) and wires the
/// use cases to it. Tokens minted here are never handed out, so a random secret serves.
pub async fn connect(url: &str, limits: Limits) -> anyhow::Result<(Arc<PgStore>, Deps)> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    connect_with_secret(url, limits, &secret, 4).await
}

/// As [`connect`], but tokens are signed with the servers' secret (for `seed-load`, whose
/// tokens the load generator presents), over a pool of `pool_size` connections.
pub async fn connect_with_secret(
    url: &str,
    limits: Limits,
    jwt_secret: &[u8],
    pool_size: u32,
) -> anyhow::Result<(Arc<PgStore>, Deps)> {
    let store = Arc::new(chat_server::postgres_store(url, pool_size, false).await?);
    let deps = chat_server::assemble_deps(store.clone(), limits, Arc::new(SystemClock), jwt_secret)?;
    Ok((store, deps))
}
