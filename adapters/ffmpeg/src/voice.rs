//! Voice message → M4A (AAC), its duration and a waveform of `WAVEFORM_PEAKS` peaks.

use std::ffi::OsString;
use std::path::Path;

use chat_core::domain::error::PortError;
use chat_core::domain::media::{AvRefusal, MAX_VOICE_MS, ProcessedVoice, waveform};

use crate::process::Stdout;
use crate::{Ffmpeg, allow, publish};

/// The sample rate the waveform is measured at: plenty for 64 peaks, 8 KB a second.
const WAVEFORM_RATE: u64 = 4000;

/// Probe, check, transcode, measure, publish.
pub async fn transcode(
    ffmpeg: &Ffmpeg,
    input: &Path,
    out_dir: &Path,
) -> Result<Result<ProcessedVoice, AvRefusal>, PortError> {
    let probe = match ffmpeg.probe_file(None, input).await? {
        Ok(probe) => probe,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let demuxer = match allow::check_voice(&probe, MAX_VOICE_MS) {
        Ok(demuxer) => demuxer,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let work = Ffmpeg::work_dir(out_dir)?;
    let m4a = work.path().join("voice.m4a");
    let mut args = allow::input(Some(demuxer), input);
    args.extend(["-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1", "-t"].into_iter().map(OsString::from));
    args.push(format!("{}", MAX_VOICE_MS / 1000 + 1).into());
    args.extend(["-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "ipod"].map(OsString::from));
    args.push(allow::output(&m4a));
    let (ok, _) = ffmpeg.ffmpeg(args, Stdout::Collect(0)).await?;
    if !ok {
        return Ok(Err(AvRefusal::Corrupt));
    }
    let made = match ffmpeg.probe_file(Some("mov"), &m4a).await? {
        Ok(made) => made,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let duration_ms = made.duration_ms.unwrap_or(0);
    if made.audio().is_none() || duration_ms == 0 {
        return Ok(Err(AvRefusal::Corrupt));
    }
    if duration_ms > MAX_VOICE_MS {
        return Ok(Err(AvRefusal::TooLong { limit_ms: MAX_VOICE_MS }));
    }
    // Decoded to 16-bit mono through a pipe: at most the limit's worth of samples, plus slack.
    let mut args = allow::input(Some("mov"), &m4a);
    args.extend(["-map", "0:a:0", "-ac", "1", "-ar"].map(OsString::from));
    args.push(WAVEFORM_RATE.to_string().into());
    args.extend(["-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"].map(OsString::from));
    let limit = (MAX_VOICE_MS / 1000 + 2) * WAVEFORM_RATE * 2;
    let (ok, pcm) = ffmpeg.ffmpeg(args, Stdout::Collect(limit)).await?;
    if !ok {
        return Ok(Err(AvRefusal::Corrupt));
    }
    let samples: Vec<i16> = pcm.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect();
    let processed =
        ProcessedVoice { m4a: publish(&m4a, out_dir, "voice.m4a").await?, duration_ms, waveform: waveform(&samples) };
    drop(work);
    Ok(Ok(processed))
}
