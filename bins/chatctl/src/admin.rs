//! `migrate` and `create-admin`.

use std::io::BufRead as _;

use anyhow::{Context, bail};
use chat_core::app::auth::{self, Register};
use chat_core::app::errors::AuthError;
use chat_core::app::{Actor, Limits};
use chat_postgres::{PgStore, PoolConfig};

use crate::wiring::{MediaPlace, connect};

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

/// Registers through the use case (so the username, display name and password rules and
/// argon2id apply as for anyone), then grants the admin role. The session that registration
/// opens is revoked at once: the admin logs in like everyone else.
pub async fn create_admin(
    url: &str,
    username: &str,
    display_name: &str,
    password: Option<String>,
    media: &MediaPlace,
) -> anyhow::Result<()> {
    // Connect first: a stale schema or an unreachable database fails before any prompt.
    let (store, deps) = connect(url, Limits::default(), media).await?;
    let password = match password {
        Some(password) => password,
        None => read_password()?,
    };
    let registration = Register {
        username: username.to_owned(),
        password,
        display_name: display_name.to_owned(),
        phone: None,
        device_name: Some("chatctl".to_owned()),
        client_ip: None,
    };
    let done = match auth::register(&deps, registration).await {
        Ok(done) => done,
        Err(AuthError::UsernameTaken) => bail!("the username {username:?} is taken; choose another"),
        Err(error) => bail!("registering {username:?} failed: {error}"),
    };
    let user = done.user;
    let granted = store.grant_admin(user.id).await.with_context(|| {
        format!("{} was registered but not made an admin; grant the role by hand", user.username.as_str())
    })?;
    if !granted {
        bail!("the new user vanished before the admin role was granted");
    }
    let actor = Actor { user_id: user.id, session_id: done.tokens.session_id };
    auth::logout(&deps, actor, false).await.context("closing the registration's session")?;
    println!("admin {} created (id {})", user.username.as_str(), user.id);
    Ok(())
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
