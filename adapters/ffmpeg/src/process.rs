//! The one way ffmpeg and ffprobe are run: `nice`d, in a process group of their own, with no
//! standard input, a deadline after which the whole group is killed, killed too when the
//! process running them dies, and a cap on how many run at once. Output is read as it comes:
//! whole, up to a limit, or line by line.

use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::parent_thread;

/// The most stderr kept for the log (ffmpeg runs with `-loglevel error`).
const STDERR_LIMIT: u64 = 16 * 1024;

/// Called with the program's name and process id right after each spawn (tests use it to
/// stop a child and see the timeout kill it).
pub type SpawnHook = Arc<dyn Fn(&str, u32) + Send + Sync>;

/// How a run went wrong on the runner's account (not the file's).
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started (not installed?).
    Spawn(String, std::io::Error),
    /// Reading its output or waiting for it failed.
    Io(std::io::Error),
    /// It ran past the deadline; its process group was killed.
    TimedOut(Duration),
    /// It wrote more to stdout than the caller allowed; its process group was killed.
    TooMuchOutput(u64),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Spawn(program, error) => write!(f, "cannot start {program}: {error}"),
            RunError::Io(error) => write!(f, "reading a child's output failed: {error}"),
            RunError::TimedOut(after) => write!(f, "timed out after {} ms and was killed", after.as_millis()),
            RunError::TooMuchOutput(limit) => write!(f, "wrote more than {limit} bytes and was killed"),
        }
    }
}

/// What a finished run left.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output, when collected.
    pub stdout: Vec<u8>,
    /// The start of its standard error.
    pub stderr: String,
}

/// What to do with a child's standard output.
pub enum Stdout<'a> {
    /// Keep it, failing the run past this many bytes.
    Collect(u64),
    /// Hand each line to the callback as it arrives.
    Lines(&'a mut (dyn FnMut(&str) + Send)),
}

/// Runs programs under the rules above.
#[derive(Clone)]
pub struct Runner {
    timeout: Duration,
    nice: Option<u8>,
    permits: Arc<Semaphore>,
    on_spawn: Option<SpawnHook>,
}

impl Runner {
    /// At most `concurrency` jobs at a time, each process killed after `timeout`, run under
    /// `nice -n <nice>` when given.
    pub fn new(timeout: Duration, concurrency: usize, nice: Option<u8>) -> Runner {
        Runner { timeout, nice, permits: Arc::new(Semaphore::new(concurrency.max(1))), on_spawn: None }
    }

    /// The same runner, calling `hook` after each spawn.
    pub fn with_spawn_hook(mut self, hook: SpawnHook) -> Runner {
        self.on_spawn = Some(hook);
        self
    }

    /// Waits for a job slot; a job holds it while its processes run.
    pub async fn slot(&self) -> Result<SemaphorePermit<'_>, RunError> {
        self.permits.acquire().await.map_err(|closed| RunError::Io(std::io::Error::other(closed)))
    }

    /// Runs `program` with `args` to its end, or kills its process group at the deadline.
    pub async fn run(&self, program: &str, args: &[OsString], stdout: Stdout<'_>) -> Result<Finished, RunError> {
        let mut command = match self.nice {
            Some(level) => {
                let mut command = Command::new("nice");
                command.arg("-n").arg(level.to_string()).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so a kill reaches whatever it started too.
            .process_group(0)
            .kill_on_drop(true);
        // The child dies with this process (see `parent_thread`); `_parent_thread` lives to the
        // end of the run, past every path that reaps the child.
        let (mut child, _parent_thread) =
            parent_thread::spawn(command).await.map_err(|error| RunError::Spawn(program.to_owned(), error))?;
        let pid = child.id();
        if let (Some(hook), Some(pid)) = (&self.on_spawn, pid) {
            hook(program, pid);
        }
        let outcome = tokio::time::timeout(self.timeout, drive(&mut child, stdout)).await;
        match outcome {
            // `nice` says 126/127 when it cannot run the program.
            Ok(Ok(finished)) if self.nice.is_some() && matches!(finished.status.code(), Some(126 | 127)) => {
                Err(RunError::Spawn(program.to_owned(), std::io::Error::other(finished.stderr.trim().to_owned())))
            }
            Ok(Ok(finished)) => Ok(finished),
            Ok(Err(error)) => {
                kill_group(&mut child, pid).await;
                Err(error)
            }
            Err(_elapsed) => {
                kill_group(&mut child, pid).await;
                tracing::warn!(program, timeout_ms = self.timeout.as_millis() as u64, "killed at its deadline");
                Err(RunError::TimedOut(self.timeout))
            }
        }
    }
}

/// Kills the process group led by `pid` and reaps the leader.
async fn kill_group(child: &mut Child, pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|pid| i32::try_from(pid).ok()) {
        // ESRCH only means it is gone already.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill().await;
}

/// Reads both outputs while the child runs, then waits for it.
async fn drive(child: &mut Child, stdout: Stdout<'_>) -> Result<Finished, RunError> {
    let out = child.stdout.take().ok_or_else(|| RunError::Io(std::io::Error::other("no stdout pipe")))?;
    let err = child.stderr.take().ok_or_else(|| RunError::Io(std::io::Error::other("no stderr pipe")))?;
    let (stdout, stderr) = tokio::try_join!(read_stdout(out, stdout), read_limited(err, STDERR_LIMIT, false))?;
    let status = child.wait().await.map_err(RunError::Io)?;
    Ok(Finished { status, stdout, stderr: String::from_utf8_lossy(&stderr).into_owned() })
}

async fn read_stdout(out: impl AsyncRead + Unpin, mode: Stdout<'_>) -> Result<Vec<u8>, RunError> {
    match mode {
        Stdout::Collect(limit) => read_limited(out, limit, true).await,
        Stdout::Lines(on_line) => {
            let mut lines = BufReader::new(out).lines();
            while let Some(line) = lines.next_line().await.map_err(RunError::Io)? {
                on_line(&line);
            }
            Ok(Vec::new())
        }
    }
}

/// Reads to the end, keeping at most `limit` bytes; past it, an error if `strict`, else the
/// rest is read and dropped (so the child never blocks on a full pipe).
async fn read_limited(mut reader: impl AsyncRead + Unpin, limit: u64, strict: bool) -> Result<Vec<u8>, RunError> {
    let mut kept = Vec::new();
    (&mut reader).take(limit).read_to_end(&mut kept).await.map_err(RunError::Io)?;
    let mut rest = [0u8; 8192];
    loop {
        let read = reader.read(&mut rest).await.map_err(RunError::Io)?;
        if read == 0 {
            return Ok(kept);
        }
        if strict {
            return Err(RunError::TooMuchOutput(limit));
        }
    }
}
