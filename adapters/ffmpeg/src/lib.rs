//! Video and voice processing with Debian's `ffmpeg` and `ffprobe` (the `AvProcessor` port).
//!
//! Every call goes through one process wrapper (`process::Runner`): no standard input, only
//! the `file` and `pipe` protocols, only allow-listed demuxers (the one a probe found is then
//! named with `-f`, so a playlist dressed up as a video never opens a URL), `nice`d, in a
//! process group of its own that is killed whole at the deadline, killed with the worker if the
//! worker dies first (Linux's parent-death signal), at most N jobs at a time.
//! Each job works in a private directory inside the caller's `out_dir`, removed on every path;
//! only the finished outputs are moved out of it.

mod allow;
mod parent_thread;
mod probe;
pub mod process;
mod video;
mod voice;

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::media::{AvRefusal, LocalFile, Probe, ProcessedVideo, ProcessedVoice};
use chat_core::ports::{AvProcessor, AvProgress};

pub use allow::{AUDIO_CODECS, DEMUXERS, VIDEO_CODECS};
pub use probe::parse_probe;
use process::{RunError, Runner, SpawnHook, Stdout};

/// The most ffprobe may print (its JSON for a sane file is a few KiB).
const PROBE_OUTPUT_LIMIT: u64 = 1024 * 1024;

/// How the tools are found and run.
#[derive(Clone, Debug)]
pub struct FfmpegConfig {
    /// The `ffmpeg` program (a name looked up in `PATH`, or a path).
    pub ffmpeg: String,
    /// The `ffprobe` program.
    pub ffprobe: String,
    /// How long one ffmpeg or ffprobe process may run before its group is killed.
    pub timeout: Duration,
    /// How many jobs may run at once.
    pub concurrency: usize,
    /// The `nice` level the tools run at (`None`: the server's own priority).
    pub nice: Option<u8>,
}

impl Default for FfmpegConfig {
    /// `ffmpeg`/`ffprobe` from `PATH`, 4 minutes per process (under the 5-minute job
    /// timeout), half the cores, `nice -n 10`.
    fn default() -> FfmpegConfig {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        FfmpegConfig {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            timeout: Duration::from_secs(240),
            concurrency: (cores / 2).max(1),
            nice: Some(10),
        }
    }
}

/// The `AvProcessor` on ffmpeg and ffprobe.
#[derive(Clone)]
pub struct Ffmpeg {
    config: FfmpegConfig,
    runner: Runner,
}

impl Ffmpeg {
    /// The processor for `config`; nothing is run until a method is called.
    pub fn new(config: FfmpegConfig) -> Ffmpeg {
        let runner = Runner::new(config.timeout, config.concurrency, config.nice);
        Ffmpeg { config, runner }
    }

    /// The same processor, calling `hook` with each child's program and pid (for tests).
    pub fn with_spawn_hook(mut self, hook: SpawnHook) -> Ffmpeg {
        self.runner = self.runner.with_spawn_hook(hook);
        self
    }

    /// The installed ffmpeg's version (`5.1.6-0+deb12u1`), or why it cannot be run: for the
    /// server's start and `/ready`.
    pub async fn version(&self) -> Result<String, PortError> {
        for program in [&self.config.ffprobe, &self.config.ffmpeg] {
            let args = [OsString::from("-version")];
            let finished = self.runner.run(program, &args, Stdout::Collect(PROBE_OUTPUT_LIMIT)).await.map_err(port)?;
            if !finished.status.success() {
                return Err(PortError::Unavailable(format!("{program} -version failed: {}", finished.status)));
            }
            if program == &self.config.ffmpeg {
                let text = String::from_utf8_lossy(&finished.stdout);
                return Ok(text.split_whitespace().nth(2).unwrap_or_default().to_owned());
            }
        }
        Ok(String::new())
    }

    /// Probes a file with ffprobe, reading it only with an allowed demuxer (`demuxer` when
    /// known). A file no allowed demuxer can read is `corrupt`.
    async fn probe_file(&self, demuxer: Option<&str>, path: &Path) -> Result<Result<Probe, AvRefusal>, PortError> {
        let mut args: Vec<OsString> = ["-hide_banner", "-loglevel", "error", "-print_format", "json"]
            .into_iter()
            .chain(["-show_format", "-show_streams"])
            .map(OsString::from)
            .collect();
        args.extend(allow::input(demuxer, path));
        let finished =
            self.runner.run(&self.config.ffprobe, &args, Stdout::Collect(PROBE_OUTPUT_LIMIT)).await.map_err(port)?;
        if !finished.status.success() {
            tracing::info!(stderr = %finished.stderr.trim(), "ffprobe refused a file");
            return Ok(Err(AvRefusal::Corrupt));
        }
        match parse_probe(&finished.stdout) {
            Ok(probe) => Ok(Ok(probe)),
            Err(error) => {
                tracing::info!(%error, "ffprobe's output for a file was unreadable");
                Ok(Err(AvRefusal::Corrupt))
            }
        }
    }

    /// Runs ffmpeg with `args` after the common options; `Ok(false)` when it failed on the
    /// file (a refusal), an error when it failed on its own account.
    async fn ffmpeg(&self, args: Vec<OsString>, stdout: Stdout<'_>) -> Result<(bool, Vec<u8>), PortError> {
        let mut all: Vec<OsString> =
            ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"].into_iter().map(OsString::from).collect();
        all.extend(args);
        let finished = self.runner.run(&self.config.ffmpeg, &all, stdout).await.map_err(port)?;
        if finished.status.success() {
            return Ok((true, finished.stdout));
        }
        let stderr = finished.stderr.trim();
        if stderr.contains("No space left on device") || stderr.contains("Cannot allocate memory") {
            return Err(PortError::Unavailable(format!("ffmpeg: {stderr}")));
        }
        tracing::info!(status = %finished.status, stderr, "ffmpeg failed on a file");
        Ok((false, finished.stdout))
    }

    /// A private work directory inside `out_dir`, removed when dropped.
    fn work_dir(out_dir: &Path) -> Result<tempfile::TempDir, PortError> {
        tempfile::Builder::new().prefix(".ffmpeg-").tempdir_in(out_dir).map_err(|error| {
            PortError::Unavailable(format!("cannot make a work directory in {}: {error}", out_dir.display()))
        })
    }
}

/// Moves a finished output out of the work directory.
async fn publish(from: &Path, out_dir: &Path, name: &str) -> Result<LocalFile, PortError> {
    let to = out_dir.join(name);
    tokio::fs::rename(from, &to).await.map_err(|error| {
        PortError::Unavailable(format!("cannot move {} to {}: {error}", from.display(), to.display()))
    })?;
    Ok(LocalFile::new(to))
}

fn port(error: RunError) -> PortError {
    match error {
        RunError::TooMuchOutput(_) => PortError::Internal(error.to_string()),
        _ => PortError::Unavailable(error.to_string()),
    }
}

#[async_trait]
impl AvProcessor for Ffmpeg {
    async fn probe(&self, input: &LocalFile) -> Result<Result<Probe, AvRefusal>, PortError> {
        let _slot = self.runner.slot().await.map_err(port)?;
        self.probe_file(None, input.path()).await
    }

    async fn transcode_video(
        &self,
        input: &LocalFile,
        out_dir: &Path,
        progress: &(dyn AvProgress + 'static),
    ) -> Result<Result<ProcessedVideo, AvRefusal>, PortError> {
        let _slot = self.runner.slot().await.map_err(port)?;
        video::transcode(self, input.path(), out_dir, progress).await
    }

    async fn transcode_voice(
        &self,
        input: &LocalFile,
        out_dir: &Path,
    ) -> Result<Result<ProcessedVoice, AvRefusal>, PortError> {
        let _slot = self.runner.slot().await.map_err(port)?;
        voice::transcode(self, input.path(), out_dir).await
    }
}
