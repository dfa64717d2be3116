//! `seed-search`: a million messages of Vietnamese chat for the message search benchmark
//! (docs/performance.md, "Message search"), fast: users and conversations through the store's
//! ports, messages in bulk.
//!
//! The world: `--users` users in `--conversations` direct and group conversations, messages
//! spread over `--months` months up to now; one benchmark user in exactly
//! `--bench-conversations` of them holding `--bench-share` of the messages; `--senders` load
//! users (with access tokens, for `chat-loadgen`), each in one group the benchmark user is
//! not in (or in one of its groups, with `--senders-in-bench-groups`). Every user's password is [`LOAD_PASSWORD`]. The same `--seed` and `--newest`
//! give the same world (ids, members, times, text); only the registered users' ids differ.
//!
//! Writes `--out`: `seed-load`'s file for the senders, plus the benchmark user's credentials,
//! the query set with its expected matches, and sample bodies to send.

mod queries;
mod store;
mod text;
mod vocab;
mod world;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chat_core::app::auth::{self, Register};
use chat_core::app::{Deps, Limits};
use chat_core::domain::ids::UserId;
use chat_core::domain::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use self::queries::{BenchQuery, QueryTally};
use self::world::{Kind, Shape, World};
use crate::seed_load::{self, CONCURRENCY, LOAD_PASSWORD, LoadUser, SeedFile};
use crate::wiring::{MediaPlace, connect_with_secret};

#[derive(Debug, clap::Args)]
pub struct SeedSearchArgs {
    /// Messages in all.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    messages: u64,
    /// Users in all (the benchmark user and the senders included).
    #[arg(long, default_value_t = 20_000)]
    users: usize,
    /// Conversations in all.
    #[arg(long, default_value_t = 10_000)]
    conversations: usize,
    /// Share of conversations that are groups.
    #[arg(long, default_value_t = 0.3)]
    group_share: f64,
    /// Conversations the benchmark user is in.
    #[arg(long, default_value_t = 100)]
    bench_conversations: usize,
    /// Share of all messages that are in the benchmark user's conversations.
    #[arg(long, default_value_t = 0.05)]
    bench_share: f64,
    /// Load users to send as during the benchmark, each in one group (one each while there
    /// are enough) the benchmark user is not in.
    #[arg(long, default_value_t = 500)]
    senders: usize,
    /// Put the senders in the benchmark user's groups instead: the sends then land in the
    /// conversations searched (a few very busy groups).
    #[arg(long)]
    senders_in_bench_groups: bool,
    /// Months of history, up to now.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// The seed of everything generated.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The newest a message may be (RFC 3339); a minute ago when unset. Times and ids are
    /// reckoned back from it, so the same seed and moment give the same world.
    #[arg(long)]
    newest: Option<DateTime<Utc>>,
    /// Connections inserting messages at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    writers: u32,
    /// Bodies like the seeded ones written to the file, for the load generator to send.
    #[arg(long, default_value_t = 2_000)]
    sample_bodies: usize,
    /// The servers' JWT secret, so the senders' tokens are ones they accept.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// How long the senders' access tokens stay valid.
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(i64).range(1..=1440))]
    token_ttl_minutes: i64,
    /// Where to write the senders, the benchmark user and the queries.
    #[arg(long)]
    out: PathBuf,
}

/// What `chat-loadgen search` reads: `seed-load`'s file plus the search part.
#[derive(Serialize)]
struct SearchSeedFile {
    #[serde(flatten)]
    senders: SeedFile,
    search: SearchUser,
    sample_bodies: Vec<String>,
    dataset: Dataset,
}

#[derive(Serialize)]
struct SearchUser {
    username: String,
    password: &'static str,
    user_id: String,
    conversations: usize,
    /// Messages in its conversations that search can return (not recalled, with text).
    searchable_messages: usize,
    queries: Vec<BenchQuery>,
    /// Other terms in its messages and how many match each.
    known_terms: Vec<(String, usize)>,
}

#[derive(Serialize)]
struct Dataset {
    seed: u64,
    users: usize,
    direct_conversations: usize,
    group_conversations: usize,
    messages: usize,
    bench_messages: usize,
    months: u32,
    newest: String,
}

pub async fn seed_search(url: &str, media: &MediaPlace, args: SeedSearchArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let shape = Shape {
        users: args.users,
        senders: args.senders,
        senders_in_bench_groups: args.senders_in_bench_groups,
        conversations: args.conversations,
        group_share: args.group_share,
        bench_conversations: args.bench_conversations,
        messages: usize::try_from(args.messages)?,
        bench_share: args.bench_share,
        months: args.months,
    };
    let limits =
        Limits { access_token_ttl: chat_core::domain::Duration::minutes(args.token_ttl_minutes), ..Limits::default() };
    let (_store, mut deps) = connect_with_secret(url, limits, args.jwt_secret.as_bytes(), 24, media).await?;
    let end = args.newest.unwrap_or_else(|| deps.clock.now() - chat_core::domain::Duration::seconds(60));
    let world = World::plan(shape, args.seed, end)?;
    let hash = seed_load::hash_load_password_once(&mut deps).await?;
    let tag = format!("s{}", args.seed);

    let (bench_user, senders) = register_users(&deps, &tag, shape.senders).await?;
    let registered: Vec<UserId> = std::iter::once(bench_user).chain(senders.iter().map(|(id, _)| *id)).collect();
    let users = store::create_users(&deps, &world, &registered, &hash, &tag).await?;
    println!("{} users in {:.1} s", users.len(), started.elapsed().as_secs_f64());
    store::create_conversations(&deps, &world, &users).await?;
    println!("{} conversations in {:.1} s", world.conversations.len(), started.elapsed().as_secs_f64());
    let mut tally = QueryTally::default();
    let ends = store::write_messages(url, &world, &users, args.writers as usize, &mut tally).await?;
    store::finish_conversations(url, &ends).await?;

    let queries = tally.finish();
    let file = SearchSeedFile {
        senders: sender_file(&world, &tag, senders),
        search: SearchUser {
            username: bench_username(&tag),
            password: LOAD_PASSWORD,
            user_id: bench_user.0.to_string(),
            conversations: shape.bench_conversations,
            searchable_messages: tally.messages(),
            queries,
            known_terms: tally.known_terms(),
        },
        sample_bodies: world.sample_bodies(args.sample_bodies),
        dataset: dataset(&world),
    };
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    print_summary(&file, started.elapsed().as_secs_f64(), &args.out, shape.senders_in_bench_groups);
    Ok(())
}

fn bench_username(tag: &str) -> String {
    format!("bench.{tag}")
}

/// The benchmark user (user 0) and the senders (1..=senders), through registration: they
/// log in, and the senders get access tokens.
async fn register_users(deps: &Deps, tag: &str, senders: usize) -> anyhow::Result<(UserId, Vec<(UserId, String)>)> {
    let registration = Register {
        username: bench_username(tag),
        password: LOAD_PASSWORD.to_owned(),
        display_name: "Nguyễn Đức Minh".to_owned(),
        phone: None,
        device_name: Some("seed-search".to_owned()),
        client_ip: None,
    };
    let bench = auth::register(deps, registration).await.with_context(|| {
        format!("registering {} (seed a fresh database, or use another --seed)", bench_username(tag))
    })?;
    let senders: Vec<(UserId, String)> = stream::iter(1..=senders)
        .map(|n| async move {
            let (actor, token) = seed_load::register(deps, n, tag).await?;
            anyhow::Ok((actor.user_id, token))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok((bench.user.id, senders))
}

/// Each sender with the group they are in (their only conversation).
fn sender_file(world: &World, tag: &str, senders: Vec<(UserId, String)>) -> SeedFile {
    let users = senders
        .into_iter()
        .enumerate()
        .map(|(offset, (id, access_token))| {
            let number = offset + 1;
            let group = world.conversations.iter().find(|c| c.members.contains(&number)).map(|c| c.id.to_string());
            LoadUser { user_id: id.0.to_string(), access_token, direct: None, group }
        })
        .collect();
    SeedFile { tag: tag.to_owned(), group_size: 0, users }
}

fn dataset(world: &World) -> Dataset {
    let conversations = &world.conversations;
    let groups = conversations.iter().filter(|c| c.kind == Kind::Group).count();
    Dataset {
        seed: world.seed,
        users: world.users.len(),
        direct_conversations: conversations.len() - groups,
        group_conversations: groups,
        messages: conversations.iter().map(|c| c.messages).sum(),
        bench_messages: conversations.iter().filter(|c| c.bench).map(|c| c.messages).sum(),
        months: world.shape.months,
        newest: world.end.to_rfc3339(),
    }
}

fn print_summary(file: &SearchSeedFile, seconds: f64, out: &std::path::Path, sender_place_bench: bool) {
    let (data, search) = (&file.dataset, &file.search);
    println!(
        "seeded {} users, {} direct and {} group conversations, {} messages over {} months (seed {}) in {seconds:.1} s",
        data.users, data.direct_conversations, data.group_conversations, data.messages, data.months, data.seed
    );
    println!(
        "benchmark user: username {}, password {:?} (id {}), in {} conversations holding {} messages ({:.1}%), {} of them searchable",
        search.username,
        search.password,
        search.user_id,
        search.conversations,
        data.bench_messages,
        100.0 * data.bench_messages as f64 / data.messages.max(1) as f64,
        search.searchable_messages
    );
    println!(
        "senders: {} load users (load1.{} ...), each in one group {}; tokens and queries in {}",
        file.senders.users.len(),
        file.senders.tag,
        if sender_place_bench { "of the benchmark user" } else { "the benchmark user is not in" },
        out.display()
    );
    println!("queries, with the benchmark user's matching messages:");
    for query in &search.queries {
        println!("  {:<22} {:<16} {}", query.shape, format!("{:?}", query.q), query.expected);
    }
    let known: Vec<String> = search.known_terms.iter().map(|(term, count)| format!("{term} {count}")).collect();
    println!("also in its messages (matches): {}", known.join(", "));
}
