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
    let store = Arc::new(chat_server::postgres_store(url, 4, false).await?);
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let deps = chat_server::assemble_deps(store.clone(), limits, Arc::new(SystemClock), &secret)?;
    Ok((store, deps))
}
