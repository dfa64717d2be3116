//! A process killed with SIGKILL mid-run takes its ffmpeg with it: no orphan keeps running.
//!
//! The process to kill must run our spawn code, so this test binary plays both parts (it is a
//! `harness = false` target with its own `main`): run plainly, it is the test; run again by
//! itself with `CHAT_FFMPEG_PARENT_DEATH_ROLE=worker`, it is the worker, which starts a
//! ten-minute ffmpeg through `Runner` on a multi-threaded runtime's task, as chat-worker runs
//! a job, and prints its pid. A separate `[[bin]]` would also give a path
//! (`CARGO_BIN_EXE_…`), but would ship in every build of the crate for a test's sake; an
//! example gets no such variable at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chat_ffmpeg::process::{Runner, Stdout};

const ROLE: &str = "CHAT_FFMPEG_PARENT_DEATH_ROLE";

/// Far beyond what a signal takes to land, a loaded CI machine included.
const PATIENCE: Duration = Duration::from_secs(30);

fn main() {
    if std::env::var(ROLE).is_ok_and(|role| role == "worker") {
        run_as_worker();
        return;
    }
    a_worker_killed_mid_run_takes_its_ffmpeg_with_it();
    println!("test a_worker_killed_mid_run_takes_its_ffmpeg_with_it ... ok");
    println!("1 passed, 0 failed");
}

fn a_worker_killed_mid_run_takes_its_ffmpeg_with_it() {
    common::require_tools();
    let mut worker = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "worker")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let ffmpeg = read_spawned_pid(worker.stdout.take().unwrap());
    // Running ffmpeg itself, not still `nice` about to exec it.
    let running = wait_until(|| comm(ffmpeg).as_deref() == Some("ffmpeg"));
    let started = start_time(ffmpeg);
    if !running || started.is_none() {
        let _ = worker.kill();
        panic!("ffmpeg ({ffmpeg}) never ran: {:?}", comm(ffmpeg));
    }

    worker.kill().unwrap();
    worker.wait().unwrap();
    let killed_at = Instant::now();
    let ffmpeg_alive = || alive(ffmpeg, started);
    let gone = wait_until(|| !ffmpeg_alive());
    if !gone {
        // Not left to run for ten minutes after a failure.
        let _ = Command::new("kill").args(["-KILL", &ffmpeg.to_string()]).status();
        panic!("ffmpeg ({ffmpeg}) still ran {PATIENCE:?} after its worker was killed");
    }
    eprintln!("ffmpeg ({ffmpeg}) was gone {:?} after its worker was killed", killed_at.elapsed());
}

/// The worker's part: one long ffmpeg through the crate's runner, as production runs it
/// (`nice`d, on a task of a multi-threaded runtime); its pid goes to stdout.
fn run_as_worker() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let hook = Arc::new(|program: &str, pid: u32| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{program} {pid}").unwrap();
            out.flush().unwrap();
        });
        let runner = Runner::new(Duration::from_secs(600), 1, Some(10)).with_spawn_hook(hook);
        // Paced at its frame rate (`-re`), so it runs its ten minutes without hogging a core.
        let args: Vec<OsString> = ["-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i"]
            .into_iter()
            .chain(["testsrc=size=160x120:rate=10", "-t", "600", "-f", "null", "-"])
            .map(OsString::from)
            .collect();
        let job = tokio::spawn(async move { runner.run("ffmpeg", &args, Stdout::Collect(1024)).await.map(|_| ()) });
        let outcome = job.await;
        panic!("the ten-minute ffmpeg ended before the worker was killed: {outcome:?}");
    });
}

/// The pid the worker printed, waiting at most `PATIENCE` for it.
fn read_spawned_pid(stdout: std::process::ChildStdout) -> u32 {
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = received.recv_timeout(PATIENCE).expect("the worker printed no pid");
    let pid = line.trim().strip_prefix("ffmpeg ").and_then(|pid| pid.parse().ok());
    pid.unwrap_or_else(|| panic!("not an ffmpeg pid: {line:?}"))
}

/// Polls `condition` every 10 ms until it holds (true) or `PATIENCE` passes (false).
fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` is still the process that started at `started` and has not died. A killed
/// orphan may stay a zombie (`Z`) until whoever adopted it reaps it, and a reaped pid may be
/// reused: both count as gone.
fn alive(pid: u32, started: Option<u64>) -> bool {
    let Some(fields) = stat_fields(pid) else { return false };
    let state = fields.first().map(String::as_str);
    !matches!(state, Some("Z" | "X")) && start_time_in(&fields) == started
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|name| name.trim().to_owned())
}

fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid).and_then(|fields| start_time_in(&fields))
}

/// `starttime` is field 22 of /proc/<pid>/stat; the list here starts at field 3 (the state).
fn start_time_in(fields: &[String]) -> Option<u64> {
    fields.get(22 - 3).and_then(|field| field.parse().ok())
}

/// The fields of /proc/<pid>/stat after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}
