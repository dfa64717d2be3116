//! `chat-loadgen`: opens many WebSocket sessions against a chat server (ours, or the
//! Socket.IO reference in bench/socketio-ref) from several processes and source addresses,
//! drives a scenario (idle, chat, burst) and reports latency, loss and the server's
//! footprint; `search` times message search while messages are being sent. See
//! docs/performance.md for how the benchmarks use it.

mod conn;
mod coordinator;
mod plan;
mod procfs;
mod protocol;
mod search;
mod stats;
mod worker;
mod world;

/// The generator shares the machine with the server it measures: the less CPU it spends
/// (glibc's malloc cost a quarter of the server's, see chat-server), the more is left to
/// measure.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::plan::{Plan, Scenario, Users};
use crate::protocol::Protocol;

#[derive(Parser)]
#[command(version, about = "Load generator for the chat server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its figures.
    Run(Box<RunArgs>),
    /// The message search benchmark: search as `chatctl seed-search`'s benchmark user while its
    /// senders send, and print latency per query shape.
    Search(Box<search::SearchArgs>),
    /// Print runs side by side (from their `--out` JSON files), with ours against the
    /// reference where both ran the same scenario.
    Compare { reports: Vec<PathBuf> },
    /// (internal) One worker process of a run.
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        plan: String,
        #[arg(long)]
        index: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ScenarioName {
    Idle,
    Chat,
    Burst,
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long, value_enum, default_value = "idle")]
    scenario: ScenarioName,
    #[arg(long, value_enum, default_value = "chat")]
    protocol: Protocol,
    /// The server's address (several processes may share it with SO_REUSEPORT).
    #[arg(long, default_value = "127.0.0.1:8080")]
    server: SocketAddr,
    /// Users and tokens written by `chatctl seed-load` (for our server).
    #[arg(long, conflicts_with = "users")]
    users_file: Option<PathBuf>,
    /// Use only the first N users of the file.
    #[arg(long)]
    limit: Option<usize>,
    /// Made-up users, for a server that keeps none (the Socket.IO reference).
    #[arg(long)]
    users: Option<usize>,
    /// Group size of the made-up users (seed-load's files carry their own).
    #[arg(long, default_value_t = 10)]
    group_size: usize,
    /// Idle: how long to hold the connections.
    #[arg(long, default_value_t = 60)]
    hold_secs: u64,
    /// Chat: how long to send.
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    /// Chat: messages per second per user.
    #[arg(long, default_value_t = 0.5)]
    rate: f64,
    /// Chat and burst: the share of messages that go to the user's group (else its direct
    /// conversation).
    #[arg(long, default_value_t = 0.5)]
    group_share: f64,
    /// Burst: messages each user sends at once.
    #[arg(long, default_value_t = 5)]
    burst_messages: u32,
    /// Burst: users start within this many milliseconds of each other.
    #[arg(long, default_value_t = 100)]
    burst_spread_ms: u64,
    /// New connections per second, in all.
    #[arg(long, default_value_t = 2000)]
    connect_rate: u32,
    /// Worker processes (default: one per 16,000 connections, at least 2).
    #[arg(long)]
    workers: Option<usize>,
    /// Connect from this many loopback addresses (127.0.0.2, 127.0.0.3, ...); 0 lets the
    /// kernel choose.
    #[arg(long, default_value_t = 8)]
    source_addrs: u8,
    /// Message body size in bytes (at least 17: a timestamp and a space).
    #[arg(long, default_value_t = 100)]
    body_bytes: usize,
    /// After sending stops, wait at most this long for outstanding acks and deliveries.
    #[arg(long, default_value_t = 30)]
    drain_secs: u64,
    /// Seconds to let the server settle after the last connection before reading its memory.
    #[arg(long, default_value_t = 3)]
    settle_secs: u64,
    /// The server's process id(s), to sample memory and CPU from /proc.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Also report the CPU of processes with this command name (e.g. postgres, redis-server).
    #[arg(long = "watch")]
    watch_commands: Vec<String>,
    /// A name for this run in the output.
    #[arg(long, default_value = "run")]
    label: String,
    /// Write the figures as JSON here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Connections one worker process holds at most: each is a file descriptor, and a process
/// may have 20,000 open here.
const CONNECTIONS_PER_WORKER: usize = 16_000;

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Worker { plan, index } => {
            let plan: Plan = serde_json::from_str(&plan).context("reading the plan")?;
            worker::run(plan, index)
        }
        Command::Compare { reports } => {
            let reports = reports
                .iter()
                .map(|path| {
                    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            coordinator::print_comparison(&reports);
            Ok(())
        }
        Command::Search(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(search::run(*args))
        }
        Command::Run(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(run(*args))
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let users = match (&args.users_file, args.users) {
        (Some(path), None) => Users::SeedFile { path: path.clone(), limit: args.limit },
        (None, Some(users)) => Users::Synthetic { users, group_size: args.group_size },
        _ => bail!("give --users-file (our server, from `chatctl seed-load`) or --users (made-up users)"),
    };
    let scenario = match args.scenario {
        ScenarioName::Idle => Scenario::Idle { hold_secs: args.hold_secs },
        ScenarioName::Chat => {
            Scenario::Chat { rate: args.rate, duration_secs: args.duration_secs, group_share: args.group_share }
        }
        ScenarioName::Burst => Scenario::Burst {
            messages: args.burst_messages,
            spread_ms: args.burst_spread_ms,
            group_share: args.group_share,
        },
    };
    if args.body_bytes < 17 {
        bail!("--body-bytes must be at least 17");
    }
    let mut plan = Plan {
        protocol: args.protocol,
        server: args.server,
        users,
        scenario,
        connect_rate: args.connect_rate,
        source_addrs: (0..args.source_addrs).map(|n| Ipv4Addr::new(127, 0, 0, 2 + n)).collect(),
        workers: 1,
        body_bytes: args.body_bytes,
        drain: Duration::from_secs(args.drain_secs),
        bodies_file: None,
        bodies: Vec::new(),
    };
    let total = plan.load_users()?.len();
    plan.workers = args.workers.unwrap_or_else(|| total.div_ceil(CONNECTIONS_PER_WORKER).max(2)).max(1);
    let options = coordinator::Options {
        label: args.label,
        server_pids: args.server_pids,
        watch_commands: args.watch_commands,
        settle: Duration::from_secs(args.settle_secs),
        on_start: None,
    };
    let report = coordinator::run(plan, options).await?;
    coordinator::print_table(&report);
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
