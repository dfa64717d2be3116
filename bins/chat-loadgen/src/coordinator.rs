//! The coordinator: starts the worker processes, waits for their connections, starts the
//! scenario on all at once, samples the server from /proc meanwhile, merges the reports.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;

use crate::plan::Plan;
use crate::procfs::{self, Usage};
use crate::stats::{Percentiles, WorkerReport, latency_histogram};
use crate::worker::unix_micros;

pub struct Options {
    pub label: String,
    pub server_pids: Vec<u32>,
    /// Processes by command name whose CPU is reported beside the server's (postgres, ...).
    pub watch_commands: Vec<String>,
    /// How long to let the server settle after the last connection before measuring memory.
    pub settle: Duration,
    /// Told when the scenario starts (every worker has its connections up and is going).
    pub on_start: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Worker {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// The figures of one run, as printed and written to JSON.
#[derive(Serialize, Deserialize)]
pub struct RunReport {
    pub label: String,
    pub scenario: String,
    /// The scenario with its parameters: runs are compared only with a run of the same.
    #[serde(default)]
    pub parameters: Option<crate::plan::Scenario>,
    pub protocol: crate::protocol::Protocol,
    pub workers: usize,
    pub connections: u64,
    pub connect_failed: u64,
    pub connect_secs: f64,
    pub dropped: u64,
    pub dropped_by_reason: std::collections::HashMap<String, u64>,
    pub connect_latency: Percentiles,
    pub sent: u64,
    pub acked: u64,
    pub refused: std::collections::HashMap<String, u64>,
    pub unanswered: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub heartbeats: u64,
    /// From the start to the end of the first worker's drain: the CPU window.
    pub window_secs: f64,
    /// From the start to the last ack or delivery: the throughput window.
    pub traffic_secs: f64,
    pub acked_per_sec: f64,
    pub delivered_per_sec: f64,
    pub ack_latency: Percentiles,
    pub deliver_latency: Percentiles,
    pub server_rss_before_kib: u64,
    pub server_rss_connected_kib: u64,
    pub server_rss_max_kib: u64,
    pub server_kib_per_connection: f64,
    /// Server CPU over the scenario window, in % of one core.
    pub server_cpu_percent: f64,
    pub server_cpu_secs: f64,
    pub deliveries_per_server_cpu_sec: f64,
    pub watched_cpu_percent: std::collections::HashMap<String, f64>,
    pub loadgen_cpu_percent: f64,
}

pub async fn run(plan: Plan, mut options: Options) -> anyhow::Result<RunReport> {
    let before = procfs::total(&options.server_pids);
    let plan_json = serde_json::to_string(&plan)?;
    let exe = std::env::current_exe()?;
    let connect_started = Instant::now();
    let mut workers = Vec::new();
    for index in 0..plan.workers {
        let mut child = Command::new(&exe)
            .args(["worker", "--plan", &plan_json, "--index", &index.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a worker")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        workers.push(Worker { child, stdout: BufReader::new(stdout).lines() });
    }
    let (mut connected, mut connect_failed) = (0u64, 0u64);
    for worker in &mut workers {
        let line = next_line(worker).await?;
        let counts: Vec<u64> = line
            .strip_prefix("connected ")
            .context("expected `connected`")?
            .split(' ')
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let [ok, failed] = counts[..] else { bail!("bad connected line {line:?}") };
        connected += ok;
        connect_failed += failed;
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    eprintln!("{}: {connected} connected ({connect_failed} failed) in {connect_secs:.1} s", options.label);
    tokio::time::sleep(options.settle).await;
    let loaded = procfs::total(&options.server_pids);

    // Start a little ahead so every worker reads `go` before the moment comes.
    let start_unix = unix_micros() + 300_000;
    for worker in &mut workers {
        let stdin = worker.child.stdin.as_mut().context("worker stdin")?;
        stdin.write_all(format!("go {start_unix}\n").as_bytes()).await?;
        stdin.flush().await?;
    }
    let window_start = Instant::now() + Duration::from_micros(start_unix.saturating_sub(unix_micros()));
    tokio::time::sleep_until(window_start).await;
    if let Some(started) = options.on_start.take() {
        let _ = started.send(());
    }
    let at_start = procfs::total(&options.server_pids);
    let watched_start: Vec<_> = options.watch_commands.iter().map(|c| procfs::ticks_by_command(c)).collect();
    let worker_pids: Vec<u32> = workers.iter().filter_map(|w| w.child.id()).collect();
    let loadgen_start = procfs::total(&worker_pids);

    // Sample memory while waiting for the reports.
    let mut max_rss = loaded.rss_kib;
    let mut merged = WorkerReport::default();
    let mut at_end = at_start;
    let mut watched_end = watched_start.clone();
    let mut loadgen_end = loadgen_start;
    let mut window_end = Instant::now();
    let mut first_report = true;
    for worker in &mut workers {
        let line = loop {
            tokio::select! {
                line = next_line(worker) => break line?,
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    max_rss = max_rss.max(procfs::total(&options.server_pids).rss_kib);
                }
            }
        };
        if first_report {
            // The window ends when the first worker reports; later samples would count the
            // idle wait for the slower ones.
            first_report = false;
            at_end = procfs::total(&options.server_pids);
            watched_end = options.watch_commands.iter().map(|c| procfs::ticks_by_command(c)).collect();
            loadgen_end = procfs::total(&worker_pids);
            window_end = Instant::now();
        }
        let json = line.strip_prefix("report ").context("expected `report`")?;
        merged.merge(serde_json::from_str(json).context("parsing a worker report")?);
    }
    for worker in &mut workers {
        let _ = worker.child.wait().await;
    }
    let window_secs = window_end.duration_since(window_start).as_secs_f64().max(0.001);
    // Rates count from the start to the last ack or delivery, not to the end of the drain.
    let traffic_secs = if merged.last_activity_unix_micros > start_unix {
        (merged.last_activity_unix_micros - start_unix) as f64 / 1e6
    } else {
        window_secs
    };
    Ok(summarise(
        &plan,
        &options,
        merged,
        Summary {
            connect_secs,
            before,
            loaded,
            max_rss,
            at_start,
            at_end,
            window_secs,
            traffic_secs,
            watched: watched_start.iter().zip(&watched_end).map(|(a, b)| procfs::ticks_between(a, b)).collect(),
            loadgen: loadgen_end.cpu_seconds() - loadgen_start.cpu_seconds(),
        },
    ))
}

struct Summary {
    connect_secs: f64,
    before: Usage,
    loaded: Usage,
    max_rss: u64,
    at_start: Usage,
    at_end: Usage,
    window_secs: f64,
    traffic_secs: f64,
    watched: Vec<u64>,
    loadgen: f64,
}

fn summarise(plan: &Plan, options: &Options, report: WorkerReport, s: Summary) -> RunReport {
    let percentiles = |recorded: &crate::stats::Recorded| {
        let mut histogram = latency_histogram();
        recorded.add_to(&mut histogram);
        Percentiles::of(&histogram)
    };
    let server_cpu_secs = s.at_end.cpu_seconds() - s.at_start.cpu_seconds();
    let connections = report.connected;
    RunReport {
        label: options.label.clone(),
        scenario: plan.scenario.name().to_owned(),
        parameters: Some(plan.scenario),
        protocol: plan.protocol,
        workers: plan.workers,
        connections,
        connect_failed: report.connect_failed,
        connect_secs: s.connect_secs,
        dropped: report.dropped.values().sum(),
        dropped_by_reason: report.dropped.clone(),
        connect_latency: percentiles(&report.connect_latency),
        sent: report.sent,
        acked: report.acked,
        refused: report.refused.clone(),
        unanswered: report.unanswered,
        delivered: report.delivered,
        lost: report.lost(),
        duplicates: report.duplicates,
        heartbeats: report.heartbeats,
        window_secs: s.window_secs,
        traffic_secs: s.traffic_secs,
        acked_per_sec: report.acked as f64 / s.traffic_secs,
        delivered_per_sec: report.delivered as f64 / s.traffic_secs,
        ack_latency: percentiles(&report.ack_latency),
        deliver_latency: percentiles(&report.deliver_latency),
        server_rss_before_kib: s.before.rss_kib,
        server_rss_connected_kib: s.loaded.rss_kib,
        server_rss_max_kib: s.max_rss,
        server_kib_per_connection: if connections == 0 {
            0.0
        } else {
            s.loaded.rss_kib.saturating_sub(s.before.rss_kib) as f64 / connections as f64
        },
        server_cpu_percent: 100.0 * server_cpu_secs / s.window_secs,
        server_cpu_secs,
        deliveries_per_server_cpu_sec: if server_cpu_secs > 0.0 {
            report.delivered as f64 / server_cpu_secs
        } else {
            0.0
        },
        watched_cpu_percent: options
            .watch_commands
            .iter()
            .zip(&s.watched)
            .map(|(name, ticks)| (name.clone(), 100.0 * (*ticks as f64 / 100.0) / s.window_secs))
            .collect(),
        loadgen_cpu_percent: 100.0 * s.loadgen / s.window_secs,
    }
}

async fn next_line(worker: &mut Worker) -> anyhow::Result<String> {
    worker.stdout.next_line().await?.context("a worker exited early (its error is above)")
}

/// The report as a table for the terminal.
pub fn print_table(report: &RunReport) {
    let ms = |p: &Percentiles| {
        if p.count == 0 {
            "-".to_owned()
        } else {
            format!("p50 {:.2} / p99 {:.2} / p999 {:.2} / max {:.1} ms", p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms)
        }
    };
    let rows: Vec<(&str, String)> = vec![
        (
            "run",
            format!("{} ({} over {:?}, {} workers)", report.label, report.scenario, report.protocol, report.workers),
        ),
        (
            "connections",
            format!("{} up, {} failed, {} dropped", report.connections, report.connect_failed, report.dropped),
        ),
        ("connect", format!("{:.1} s for all; {}", report.connect_secs, ms(&report.connect_latency))),
        ("window", format!("{:.1} s (traffic {:.1} s)", report.window_secs, report.traffic_secs)),
        (
            "messages",
            format!(
                "{} sent, {} acked ({:.0}/s), {} refused, {} unanswered",
                report.sent,
                report.acked,
                report.acked_per_sec,
                report.refused.values().sum::<u64>(),
                report.unanswered
            ),
        ),
        (
            "deliveries",
            format!(
                "{} ({:.0}/s), {} lost, {} duplicated",
                report.delivered, report.delivered_per_sec, report.lost, report.duplicates
            ),
        ),
        ("send→ack", ms(&report.ack_latency)),
        ("send→deliver", ms(&report.deliver_latency)),
        (
            "server RSS",
            format!(
                "{:.1} MiB before, {:.1} MiB connected, {:.1} MiB max; {:.2} KiB per connection",
                report.server_rss_before_kib as f64 / 1024.0,
                report.server_rss_connected_kib as f64 / 1024.0,
                report.server_rss_max_kib as f64 / 1024.0,
                report.server_kib_per_connection
            ),
        ),
        (
            "server CPU",
            format!(
                "{:.1}% of a core ({:.1} CPU-s); {:.0} deliveries per CPU-second",
                report.server_cpu_percent, report.server_cpu_secs, report.deliveries_per_server_cpu_sec
            ),
        ),
        ("other CPU", {
            let mut parts: Vec<String> =
                report.watched_cpu_percent.iter().map(|(name, pct)| format!("{name} {pct:.1}%")).collect();
            parts.sort();
            parts.push(format!("load generator {:.1}%", report.loadgen_cpu_percent));
            parts.join(", ")
        }),
    ];
    for (name, value) in rows {
        println!("{name:<14} {value}");
    }
    if !report.refused.is_empty() {
        println!("{:<14} {:?}", "refused by", report.refused);
    }
    if !report.dropped_by_reason.is_empty() {
        println!("{:<14} {:?}", "dropped by", report.dropped_by_reason);
    }
}

/// One line per run, then how ours compares with the reference where both ran a scenario.
pub fn print_comparison(reports: &[RunReport]) {
    println!(
        "{:<22} {:>7} {:>7} {:>9} {:>10} {:>9} {:>9} {:>6} {:>5} {:>8} {:>7} {:>10}",
        "run",
        "conns",
        "drops",
        "acked/s",
        "deliver/s",
        "ack p99",
        "dlv p99",
        "lost",
        "dup",
        "KiB/conn",
        "CPU %",
        "dlv/CPU-s"
    );
    for r in reports {
        println!(
            "{:<22} {:>7} {:>7} {:>9.0} {:>10.0} {:>7.2}ms {:>7.2}ms {:>6} {:>5} {:>8.2} {:>7.1} {:>10.0}",
            r.label,
            r.connections,
            r.dropped,
            r.acked_per_sec,
            r.delivered_per_sec,
            r.ack_latency.p99_ms,
            r.deliver_latency.p99_ms,
            r.lost,
            r.duplicates,
            r.server_kib_per_connection,
            r.server_cpu_percent,
            r.deliveries_per_server_cpu_sec
        );
    }
    for ours in reports.iter().filter(|r| r.protocol == crate::protocol::Protocol::Chat) {
        let reference = reports.iter().find(|r| {
            r.protocol == crate::protocol::Protocol::SocketIo
                && r.scenario == ours.scenario
                && (r.parameters.is_none() || ours.parameters.is_none() || r.parameters == ours.parameters)
        });
        let Some(reference) = reference else { continue };
        let mut ratios = Vec::new();
        // Memory per connection is only meaningful on a fresh server, i.e. the idle run.
        if ours.scenario == "idle" && ours.server_kib_per_connection <= 0.0 {
            // The allocator gave back more than the sockets took: too few connections to tell.
            ratios.push("memory per connection not measured (server RSS did not grow)".to_string());
        } else if ours.scenario == "idle" && reference.server_kib_per_connection > 0.0 {
            let memory = ours.server_kib_per_connection / reference.server_kib_per_connection;
            ratios.push(format!("memory per connection ×{memory:.2} ({:.0}% less)", 100.0 * (1.0 - memory)));
        }
        if reference.deliveries_per_server_cpu_sec > 0.0 && ours.deliveries_per_server_cpu_sec > 0.0 {
            let cpu = ours.deliveries_per_server_cpu_sec / reference.deliveries_per_server_cpu_sec;
            ratios.push(format!("deliveries per CPU-second ×{cpu:.2}"));
        }
        if !ratios.is_empty() {
            println!("{} vs {}: {}", ours.label, reference.label, ratios.join(", "));
        }
    }
}
