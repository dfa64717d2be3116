//! `migrate` and `create-admin`.

use std::io::BufRead as _;
use std::sync::Arc;

use anyhow::{Context, bail};
use chat_core::app::auth::{self, Register};
use chat_core::app::errors::AuthError;
use chat_core::app::{Deps, Limits};
use chat_postgres::{PgStore, PoolConfig};
use chat_system::SystemClock;
use rand::RngCore as _;

pub async fn migrate(url: &str) -> anyhow::Result<()> {
    let store = PgStore::connect(url, PoolConfig { max_connections: 1, ..PoolConfig::default() }).await?;
    let applied = store.migrate().await.context("applying migrations")?;
    if applied.is_empty() {
        println!("schema up to date");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(())
}

pub async fn create_admin(
    url: &str,
    username: &str,
    display_name: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let password = match password {
        Some(password) => password,
        None => read_password()?,
    };
    let (store, deps) = connect(url, Limits::default()).await?;
    let registration = Register {
        username: username.to_owned(),
        password,
        display_name: display_name.to_owned(),
        phone: None,
        device_name: Some("chatctl".to_owned()),
        client_ip: None,
    };
    let user = match auth::register(&deps, registration).await {
        Ok(done) => done.user,
        Err(AuthError::UsernameTaken) => bail!("the username {username:?} is taken"),
        Err(error) => bail!("registering the admin failed: {error}"),
    };
    if !store.grant_admin(user.id).await? {
        bail!("the new user vanished before the admin role was granted");
    }
    println!("admin {} created (id {})", user.username.as_str(), user.id);
    Ok(())
}

/// The store and the use-case dependencies on it. Tokens minted here are never handed out,
/// so a random secret serves.
pub async fn connect(url: &str, limits: Limits) -> anyhow::Result<(Arc<PgStore>, Deps)> {
    let store = Arc::new(chat_server::postgres_store(url, 8, false).await?);
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let deps = chat_server::assemble_deps(store.clone(), limits, Arc::new(SystemClock), &secret)?;
    Ok((store, deps))
}

fn read_password() -> anyhow::Result<String> {
    eprintln!("password (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password given");
    }
    Ok(password)
}
