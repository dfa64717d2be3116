//! The media worker's settings and processors: images in-process, videos and voice messages
//! with ffmpeg, files scanned by clamd; and the job queue's timeout and backoffs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chat_clamav::{ClamdAddr, ClamdConfig, ClamdScanner};
use chat_core::app::media::worker::Processors;
use chat_core::domain::job::JobPolicy;
use chat_core::domain::media::ImageLimits;
use chat_core::ports::{HealthCheck, VirusScanner};
use chat_ffmpeg::{Ffmpeg, FfmpegConfig};
use chat_image::ImageAdapter;
use chat_system::LocalWorkArea;
use clap::Args;

/// How media are processed after upload.
#[derive(Clone, Debug, Args)]
pub struct ProcessingSettings {
    /// clamd's address (`host:port` or `unix:/path`): files are scanned before they are served.
    #[arg(long, env = "CLAMD_ADDR")]
    pub clamd_addr: Option<String>,

    /// Serve files without scanning them when no clamd is configured. Required to run with
    /// S3_BUCKET and without CLAMD_ADDR; embedded mode without clamd runs so by itself, and
    /// says so at start.
    #[arg(
        long,
        env = "CHAT_NO_VIRUS_SCAN",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub no_virus_scan: bool,

    /// Media jobs this process runs at once. Unset: 2 without REDIS_URL (the embedded
    /// server processes its own uploads), 0 with it (chat-worker processes do).
    #[arg(long, env = "CHAT_MEDIA_WORKERS", value_parser = clap::value_parser!(u32).range(0..=64))]
    pub media_workers: Option<u32>,
}

impl ProcessingSettings {
    /// Checks what clap cannot; `s3` says whether media live in S3 (production).
    pub fn validate(&self, s3: bool) -> anyhow::Result<()> {
        if let Some(addr) = &self.clamd_addr {
            ClamdAddr::parse(addr).map_err(anyhow::Error::msg)?;
        }
        if s3 && self.clamd_addr.is_none() && !self.no_virus_scan {
            bail!(
                "S3_BUCKET needs CLAMD_ADDR: files are scanned before they are served (or set CHAT_NO_VIRUS_SCAN=true)"
            );
        }
        Ok(())
    }

    /// How many jobs to run in this process.
    pub fn workers(&self, shared_queue: bool) -> usize {
        match self.media_workers {
            Some(workers) => workers as usize,
            None if shared_queue => 0,
            None => 2,
        }
    }

    /// The processors, working under `data_dir/work`, and the readiness check of clamd.
    pub fn processors(&self, data_dir: &Path) -> anyhow::Result<(Processors, Vec<Arc<dyn HealthCheck>>)> {
        let work = work_area(&data_dir.join("work"))?;
        let mut health: Vec<Arc<dyn HealthCheck>> = Vec::new();
        let scanner: Option<Arc<dyn VirusScanner>> = match &self.clamd_addr {
            Some(addr) => {
                let scanner =
                    Arc::new(ClamdScanner::new(ClamdConfig::new(ClamdAddr::parse(addr).map_err(anyhow::Error::msg)?)));
                health.push(scanner.clone());
                Some(scanner)
            }
            None => {
                tracing::warn!("no CLAMD_ADDR: uploaded files are served without a virus scan");
                None
            }
        };
        health.push(Arc::new(Capability {
            component: "virus_scanner",
            adapter: if self.clamd_addr.is_some() { "clamd" } else { "off" },
            present: true,
        }));
        if self.clamd_addr.is_some() {
            // clamd's own check (PING) stands for it; the line above only names the mode.
            health.pop();
        }
        let ffmpeg = av_tools_present();
        if !ffmpeg {
            tracing::warn!("ffmpeg/ffprobe not found in PATH: video and voice message uploads are refused");
        }
        health.push(Arc::new(Capability { component: "media_transcoder", adapter: "ffmpeg", present: ffmpeg }));
        let heif = chat_image::heif_tools_present();
        if !heif {
            tracing::warn!(
                "heif-convert not found in PATH (Debian's libheif-examples): iPhone HEIC photos will fail processing"
            );
        }
        health.push(Arc::new(Capability { component: "heic_decoder", adapter: "heif-convert", present: heif }));
        let processors = Processors {
            images: Arc::new(ImageAdapter::new(ImageLimits::default())),
            av: Arc::new(Ffmpeg::new(FfmpegConfig::default())),
            scanner,
            work: Arc::new(work),
        };
        Ok((processors, health))
    }
}

/// This process's folder under `work_dir`, after the folders of processes now gone (killed
/// mid-job, say) were removed.
fn work_area(work_dir: &Path) -> anyhow::Result<LocalWorkArea> {
    let (work, swept) = LocalWorkArea::new(work_dir, &process_name())
        .with_context(|| format!("setting up a work folder in {}", work_dir.display()))?;
    for (folder, error) in &swept.failed {
        tracing::warn!(folder = %folder.display(), %error, "could not remove the work folder of a process now gone");
    }
    let removed: Vec<_> = swept.removed.iter().map(|folder| folder.display().to_string()).collect();
    tracing::info!(folder = %work.dir().display(), ?removed, "media work folder");
    Ok(work)
}

/// Tells this process from the others that may share the data directory, on this host or
/// another: the program, the host name and the pid, e.g. `chat-worker-box1-4242`. It names
/// the process's work folder and the process as a queue consumer.
pub fn process_name() -> String {
    let program = std::env::current_exe().ok().and_then(|path| Some(path.file_stem()?.to_string_lossy().into_owned()));
    let host =
        std::fs::read_to_string("/etc/hostname").map_or_else(|_| "host".to_owned(), |name| name.trim().to_owned());
    format!("{}-{host}-{}", program.as_deref().unwrap_or("chat"), std::process::id())
}

/// How the media queue treats its jobs, in chat-server and chat-worker alike. On Redis a
/// lapsed claim is reclaimed by whichever process takes next, with its own timeout, and a
/// failed job is delayed by the failing process's backoff: give every process the same values.
#[derive(Clone, Debug, Args)]
pub struct JobSettings {
    /// Seconds a job's claim lasts without word from its worker. A living worker renews the
    /// claims of its jobs every third of it (so a long transcode stays with it); a job whose
    /// worker died goes to another worker after at most this long.
    #[arg(
        long,
        env = "CHAT_JOB_VISIBILITY_TIMEOUT_SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub job_visibility_timeout_secs: u64,

    /// Seconds before each retry of a failed job, comma-separated: the first after the first
    /// failure, and so on; the last repeats.
    #[arg(
        long,
        env = "CHAT_JOB_BACKOFF_SECS",
        value_delimiter = ',',
        num_args = 1..,
        default_values_t = [10, 60, 300, 900],
        value_parser = clap::value_parser!(u64).range(0..=86_400)
    )]
    pub job_backoff_secs: Vec<u64>,
}

impl JobSettings {
    /// The queue's policy: these settings, and the production policy's attempts.
    pub fn policy(&self) -> JobPolicy {
        JobPolicy {
            visibility_timeout: Duration::from_secs(self.job_visibility_timeout_secs),
            backoff: self.job_backoff_secs.iter().copied().map(Duration::from_secs).collect(),
            ..JobPolicy::production()
        }
    }
}

impl Default for JobSettings {
    /// The production policy's timeout and backoffs.
    fn default() -> Self {
        let production = JobPolicy::production();
        JobSettings {
            job_visibility_timeout_secs: production.visibility_timeout.as_secs(),
            job_backoff_secs: production.backoff.iter().map(Duration::as_secs).collect(),
        }
    }
}

/// Whether ffmpeg and ffprobe are in `PATH`.
pub fn av_tools_present() -> bool {
    which("ffmpeg").is_some() && which("ffprobe").is_some()
}

/// A part of the media pipeline named in `/ready`: which adapter serves it (`off` when the
/// operator turned it off), failing when its tool is missing.
struct Capability {
    component: &'static str,
    adapter: &'static str,
    present: bool,
}

#[async_trait::async_trait]
impl HealthCheck for Capability {
    fn component(&self) -> &'static str {
        self.component
    }

    fn adapter(&self) -> &'static str {
        self.adapter
    }

    async fn check(&self) -> Result<(), chat_core::domain::error::PortError> {
        if self.present {
            return Ok(());
        }
        Err(chat_core::domain::error::PortError::Unavailable(format!("{} is not installed", self.adapter)))
    }
}

/// The grace period of in-flight jobs at shutdown.
pub const WORKER_GRACE: Duration = Duration::from_secs(20);

/// Where `program` is in `PATH`, if anywhere.
fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}
