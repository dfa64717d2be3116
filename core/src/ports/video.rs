//! Video and voice processing: probing a local file, making the MP4 and poster a video is
//! served as, and the M4A and waveform of a voice message. Files cross as local paths; the
//! processor never reads a whole file into memory.

use std::path::Path;

use async_trait::async_trait;

use crate::domain::error::PortError;
use crate::domain::media::{AvRefusal, LocalFile, Probe, ProcessedVideo, ProcessedVoice};

/// Hears how far a transcode is, in percent (0-100). Any `Fn(u8) + Send + Sync` closure is one.
pub trait AvProgress: Send + Sync {
    /// The transcode is `percent` done.
    fn report(&self, percent: u8);
}

impl<F: Fn(u8) + Send + Sync> AvProgress for F {
    fn report(&self, percent: u8) {
        self(percent)
    }
}

/// Reads and converts videos and voice messages (ffmpeg in production).
///
/// Every method answers a refusal (`Ok(Err(_))`) for a file that breaks a rule, and a
/// `PortError` when the tool failed on its own account (missing, timed out, out of disk),
/// which a retry may cure. Outputs go into `out_dir` under names of the processor's choosing;
/// nothing else is left there, whatever the outcome.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait AvProcessor: Send + Sync {
    /// What the file is: container, duration, streams. Only allow-listed containers are read.
    async fn probe(&self, input: &LocalFile) -> Result<Result<Probe, AvRefusal>, PortError>;

    /// The served MP4 (H.264 + AAC, faststart, upright, at most 720p) and its poster JPEG.
    /// `progress` hears the percentage done, at most twice a second, and 100 at the end. (It
    /// owns what it captures — `'static` — because mockall cannot mock a borrowing one.)
    // The parentheses are needed; mockall's copy of the signature makes rustc think otherwise.
    #[allow(unused_parens)]
    async fn transcode_video(
        &self,
        input: &LocalFile,
        out_dir: &Path,
        progress: &(dyn AvProgress + 'static),
    ) -> Result<Result<ProcessedVideo, AvRefusal>, PortError>;

    /// The served M4A (AAC) of a voice message, with its duration and waveform.
    async fn transcode_voice(
        &self,
        input: &LocalFile,
        out_dir: &Path,
    ) -> Result<Result<ProcessedVoice, AvRefusal>, PortError>;
}
