//! `seed-load`: users with sessions and conversations for the load generator
//! (`bins/chat-loadgen`), written to a JSON file it reads.
//!
//! The world is regular so runs compare: users are cut into groups of `group_size` (the
//! first of each owns the group) and paired into direct conversations (0-1, 2-3, ...).
//! Everything goes through the use cases, as in `seed-demo`; only the password hash is
//! computed once and reused, because argon2id per user would make 50,000 users take
//! half an hour. Every load user can still log in with [`LOAD_PASSWORD`].

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use async_trait::async_trait;
use chat_core::app::auth::{self, Register};
use chat_core::app::profile::{self, SettingsPatch};
use chat_core::app::{Actor, Deps, Limits, conversations};
use chat_core::domain::account::{Audience, Password, PasswordHash};
use chat_core::domain::error::PortError;
use chat_core::ports::PasswordHasher;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use crate::wiring::{MediaPlace, connect_with_secret};

/// The password of every load user.
pub const LOAD_PASSWORD: &str = "load password 123";
/// Use cases in flight at once: enough to keep the pool busy without queueing on it.
pub(crate) const CONCURRENCY: usize = 32;

/// What `chat-loadgen` reads (its `world` module mirrors this shape).
#[derive(Serialize)]
pub(crate) struct SeedFile {
    pub(crate) tag: String,
    pub(crate) group_size: usize,
    pub(crate) users: Vec<LoadUser>,
}

#[derive(Serialize)]
pub(crate) struct LoadUser {
    pub(crate) user_id: String,
    pub(crate) access_token: String,
    pub(crate) direct: Option<String>,
    pub(crate) group: Option<String>,
}

pub struct SeedLoad<'a> {
    pub database_url: &'a str,
    pub jwt_secret: &'a str,
    pub users: usize,
    pub group_size: usize,
    pub token_ttl_minutes: i64,
    pub out: &'a Path,
    pub media: &'a MediaPlace,
}

pub async fn seed_load(args: SeedLoad<'_>) -> anyhow::Result<()> {
    let started = Instant::now();
    let limits =
        Limits { access_token_ttl: chat_core::domain::Duration::minutes(args.token_ttl_minutes), ..Limits::default() };
    let (_store, mut deps) =
        connect_with_secret(args.database_url, limits, args.jwt_secret.as_bytes(), 24, args.media).await?;
    hash_load_password_once(&mut deps).await?;
    let tag = uuid::Uuid::now_v7().simple().to_string()[24..].to_owned();

    let registered: Vec<(Actor, String)> =
        stream::iter(0..args.users).map(|n| register(&deps, n, &tag)).buffered(CONCURRENCY).try_collect().await?;
    let actors: Vec<Actor> = registered.iter().map(|(actor, _)| *actor).collect();
    println!("registered {} users in {:.1} s", actors.len(), started.elapsed().as_secs_f64());

    let groups: Vec<&[Actor]> = actors.chunks(args.group_size.max(2)).filter(|chunk| chunk.len() >= 2).collect();
    let group_ids: Vec<String> = stream::iter(groups.iter().enumerate())
        .map(|(n, members)| create_group(&deps, n, members))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let direct_ids: Vec<String> = stream::iter(actors.chunks_exact(2))
        .map(|pair| open_direct(&deps, pair[0], pair[1]))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;

    let users = registered
        .into_iter()
        .enumerate()
        .map(|(n, (actor, access_token))| LoadUser {
            user_id: actor.user_id.0.to_string(),
            access_token,
            direct: direct_ids.get(n / 2).cloned(),
            group: group_ids.get(n / args.group_size.max(2)).cloned(),
        })
        .collect();
    let file = SeedFile { tag: tag.clone(), group_size: args.group_size, users };
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let json = serde_json::to_vec(&file)?;
    std::fs::write(args.out, json).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "seeded {} load users ({} groups of up to {}, {} direct conversations) in {:.1} s; tokens valid {} min; wrote {}",
        args.users,
        group_ids.len(),
        args.group_size,
        direct_ids.len(),
        started.elapsed().as_secs_f64(),
        args.token_ttl_minutes,
        args.out.display()
    );
    Ok(())
}

/// Hashes [`LOAD_PASSWORD`] once and makes `deps` hand that hash out for it from then on;
/// returns the hash, for users stored straight through the port.
pub(crate) async fn hash_load_password_once(deps: &mut Deps) -> anyhow::Result<PasswordHash> {
    let hash = deps.passwords.hash(&Password::parse(LOAD_PASSWORD)?).await?;
    deps.passwords = Arc::new(OneHash { inner: deps.passwords.clone(), password: LOAD_PASSWORD, hash: hash.clone() });
    Ok(hash)
}

/// Registers load user `n` (`load{n}.{tag}`, password [`LOAD_PASSWORD`]) whom anyone may add
/// to groups; returns them and their access token.
pub(crate) async fn register(deps: &Deps, n: usize, tag: &str) -> anyhow::Result<(Actor, String)> {
    let registration = Register {
        username: format!("load{n}.{tag}"),
        password: LOAD_PASSWORD.to_owned(),
        display_name: format!("Người dùng {n}"),
        phone: None,
        device_name: Some("chat-loadgen".to_owned()),
        client_ip: None,
    };
    let done = auth::register(deps, registration).await.with_context(|| format!("registering load{n}.{tag}"))?;
    let actor = Actor { user_id: done.user.id, session_id: done.tokens.session_id };
    // Group owners add members who are not their friends: let anyone add load users.
    let patch = SettingsPatch { who_can_add_to_groups: Some(Audience::Everyone), ..SettingsPatch::default() };
    profile::update_settings(deps, actor, patch).await?;
    Ok((actor, done.tokens.access_token))
}

async fn create_group(deps: &Deps, n: usize, members: &[Actor]) -> anyhow::Result<String> {
    let (owner, others) = members.split_first().context("a group needs members")?;
    let ids: Vec<_> = others.iter().map(|actor| actor.user_id).collect();
    let group = conversations::create_group(deps, *owner, &format!("Nhóm tải {n}"), &ids).await?;
    Ok(group.conversation.id.0.to_string())
}

async fn open_direct(deps: &Deps, first: Actor, second: Actor) -> anyhow::Result<String> {
    let (direct, _) = conversations::open_direct(deps, first, second.user_id).await?;
    Ok(direct.conversation.id.0.to_string())
}

/// Hands out one precomputed hash for the load password and defers everything else to the
/// real hasher, so logins with the load password still verify against argon2id.
struct OneHash {
    inner: Arc<dyn PasswordHasher>,
    password: &'static str,
    hash: PasswordHash,
}

#[async_trait]
impl PasswordHasher for OneHash {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PortError> {
        if password.expose() == self.password {
            return Ok(self.hash.clone());
        }
        self.inner.hash(password).await
    }

    async fn verify(&self, password: &Password, stored_hash: Option<PasswordHash>) -> Result<bool, PortError> {
        self.inner.verify(password, stored_hash).await
    }
}
