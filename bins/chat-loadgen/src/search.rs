//! `chat-loadgen search`: the message search benchmark (docs/performance.md, "Message
//! search"). Logs in as the benchmark user of `chatctl seed-search`'s file, checks each query
//! once, then for `--duration-secs` searches at `--search-rate` (an open loop: a search starts
//! on schedule whether or not the previous ones have answered), the query shapes in turn,
//! while the file's senders send `--send-rate` messages a second in all, each into its group,
//! through the `chat` scenario's worker processes (WebSocket, as everywhere else in this
//! tool). Prints p50/p95/p99 per query shape against the 50 ms target.

mod client;
mod report;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::client::{Outcome, SearchClient};
use self::report::{SearchReport, ShapeStats};
use crate::coordinator;
use crate::plan::{Plan, Scenario, Users};
use crate::protocol::Protocol;

#[derive(clap::Args)]
pub struct SearchArgs {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    server: SocketAddr,
    /// The file `chatctl seed-search` wrote: the benchmark user, its queries, the senders.
    #[arg(long)]
    seed_file: PathBuf,
    /// How long to search (and send).
    #[arg(long, default_value_t = 60)]
    duration_secs: u64,
    /// Searches per second, over all query shapes (each shape gets its turn in order).
    #[arg(long, default_value_t = 20.0)]
    search_rate: f64,
    /// Messages per second sent meanwhile, over all senders (0: no sending).
    #[arg(long, default_value_t = 500.0)]
    send_rate: f64,
    /// Results asked for per search.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Worker processes for the senders.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// After sending stops, wait at most this long for outstanding acks.
    #[arg(long, default_value_t = 30)]
    drain_secs: u64,
    /// The server's process id(s), for its CPU while sending.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Also report the CPU of processes with this command name (e.g. postgres).
    #[arg(long = "watch")]
    watch_commands: Vec<String>,
    #[arg(long, default_value = "search")]
    label: String,
    /// Write the figures as JSON here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The parts of `chatctl seed-search`'s file read here (the senders are read by the workers).
#[derive(Deserialize)]
struct SeedFile {
    users: Vec<serde::de::IgnoredAny>,
    search: SearchUser,
}

#[derive(Deserialize)]
struct SearchUser {
    username: String,
    password: String,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Query {
    shape: String,
    q: String,
    expected: usize,
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let seed = read_seed(&args.seed_file)?;
    // With no searches asked for, this only sends: no login, no check (the search may not
    // work at all, as when its index is dropped to measure sends without it).
    let searching = args.search_rate > 0.0;
    let client = match searching {
        true => Some(SearchClient::login(args.server, &seed.search.username, &seed.search.password).await?),
        false => None,
    };
    let shapes = match &client {
        Some(client) => check_queries(client, &seed.search.queries, args.limit).await?,
        None => Vec::new(),
    };
    let duration = Duration::from_secs(args.duration_secs);
    let shapes = Arc::new(Mutex::new(shapes));
    let sends = if args.send_rate > 0.0 {
        let plan = send_plan(&args, seed.users.len())?;
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let options = coordinator::Options {
            label: format!("{}-sends", args.label),
            server_pids: args.server_pids.clone(),
            watch_commands: args.watch_commands.clone(),
            settle: Duration::from_secs(1),
            on_start: Some(started_tx),
        };
        let searching = async {
            started_rx.await.context("the senders did not start")?;
            search_for(client.as_ref(), &shapes, args.search_rate, duration, args.limit).await
        };
        let (sends, searched) = tokio::join!(coordinator::run(plan, options), searching);
        searched?;
        Some(sends?)
    } else {
        search_for(client.as_ref(), &shapes, args.search_rate, duration, args.limit).await?;
        None
    };
    let shapes = shapes.lock().unwrap_or_else(PoisonError::into_inner).iter().map(ShapeStats::report).collect();
    let report = SearchReport {
        label: args.label,
        duration_secs: args.duration_secs,
        search_rate: args.search_rate,
        send_rate: args.send_rate,
        limit: args.limit,
        shapes,
        sends,
    };
    report::print(&report);
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

fn read_seed(path: &Path) -> anyhow::Result<SeedFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing {} (written by `chatctl seed-search`?)", path.display()))
}

/// Searches each query once: refuses to go on if the server does not answer, warns if the
/// results disagree with what the seed counted. A query with a second page also gets a
/// shape for that page.
async fn check_queries(client: &SearchClient, queries: &[Query], limit: u32) -> anyhow::Result<Vec<ShapeStats>> {
    let mut shapes = Vec::new();
    for query in queries {
        let (took, outcome) = client.search(&query.q, None, limit).await?;
        let (results, next_cursor) = match outcome {
            Outcome::Found { results, next_cursor } => (results, next_cursor),
            Outcome::Refused { status, code } => bail!(
                "searching {:?} was refused: {status} {code}{}",
                query.q,
                if status == 429 { " (raise the server's search limit for the benchmark)" } else { "" }
            ),
        };
        let wanted = query.expected.min(limit as usize);
        if results < wanted || (query.expected == 0 && results > 0) {
            eprintln!(
                "*** search: {:?} gave {results} results, the seed counted {} matches ***",
                query.q, query.expected
            );
        }
        eprintln!(
            "check: {:<22} {:<16} {results:>3} results in {:.1} ms",
            query.shape,
            format!("{:?}", query.q),
            ms(took)
        );
        shapes.push(ShapeStats::new(query.shape.clone(), query.q.clone(), None, Some(query.expected), results));
        if query.shape == "common word"
            && let Some(cursor) = next_cursor
        {
            shapes.push(ShapeStats::new(query.shape.clone(), query.q.clone(), Some(cursor), None, limit as usize));
        }
    }
    Ok(shapes)
}

/// Searches at `rate` a second for `duration`, the shapes in turn, each search on its own
/// task so a slow one delays none after it.
async fn search_for(
    client: Option<&SearchClient>,
    shapes: &Arc<Mutex<Vec<ShapeStats>>>,
    rate: f64,
    duration: Duration,
    limit: u32,
) -> anyhow::Result<()> {
    let requests: Vec<(String, Option<String>)> = shapes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|shape| (shape.q.clone(), shape.cursor.clone()))
        .collect();
    let Some(client) = client.filter(|_| rate > 0.0 && !requests.is_empty()) else { return Ok(()) };
    let every = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut searches = JoinSet::new();
    for n in 0u64.. {
        let due = start + every.mul_f64(n as f64);
        if due >= start + duration {
            break;
        }
        tokio::time::sleep_until(due).await;
        let index = n as usize % requests.len();
        let (q, cursor) = requests[index].clone();
        let (client, shapes) = (client.clone(), shapes.clone());
        searches.spawn(async move {
            let outcome = client.search(&q, cursor.as_deref(), limit).await;
            shapes.lock().unwrap_or_else(PoisonError::into_inner)[index].record(outcome);
        });
        // Collect what finished, so the set does not grow with the run.
        while searches.try_join_next().is_some() {}
    }
    while searches.join_next().await.is_some() {}
    Ok(())
}

/// The `chat` scenario for the senders: each sends `send_rate / senders` a second into its
/// group (the file gives them no direct conversation) for the search's duration.
fn send_plan(args: &SearchArgs, senders: usize) -> anyhow::Result<Plan> {
    if senders == 0 {
        bail!("the seed file has no senders: seed with --senders, or search with --send-rate 0");
    }
    Ok(Plan {
        protocol: Protocol::Chat,
        server: args.server,
        users: Users::SeedFile { path: args.seed_file.clone(), limit: None },
        scenario: Scenario::Chat {
            rate: args.send_rate / senders as f64,
            duration_secs: args.duration_secs,
            group_share: 1.0,
        },
        connect_rate: 2000,
        source_addrs: (0..8).map(|n| Ipv4Addr::new(127, 0, 0, 2 + n)).collect(),
        workers: args.workers.max(1),
        body_bytes: 100,
        drain: Duration::from_secs(args.drain_secs),
        bodies_file: Some(args.seed_file.clone()),
        bodies: Vec::new(),
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
