//! Video → MP4 (H.264 + AAC, faststart, upright, at most 720p) and a poster JPEG.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use chat_core::domain::error::PortError;
use chat_core::domain::media::{AvRefusal, AvStream, MAX_VIDEO_MS, ProcessedVideo, served_size};

use chat_core::ports::AvProgress;

use crate::process::Stdout;
use crate::{Ffmpeg, allow, publish};

/// The least time between two progress reports.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Probe, check, transcode (or remux), poster, probe the result, publish.
pub async fn transcode(
    ffmpeg: &Ffmpeg,
    input: &Path,
    out_dir: &Path,
    progress: &dyn AvProgress,
) -> Result<Result<ProcessedVideo, AvRefusal>, PortError> {
    let probe = match ffmpeg.probe_file(None, input).await? {
        Ok(probe) => probe,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let (demuxer, video, audio) = match allow::check_video(&probe, MAX_VIDEO_MS) {
        Ok(checked) => checked,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let work = Ffmpeg::work_dir(out_dir)?;
    let mp4 = work.path().join("video.mp4");
    let mut args = allow::input(Some(demuxer), input);
    args.extend(
        ["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1", "-t"]
            .into_iter()
            .map(OsString::from),
    );
    // A file whose header lies about its length still stops just past the limit.
    args.push(format!("{}", MAX_VIDEO_MS / 1000 + 1).into());
    if can_remux(demuxer, video, audio.map(|audio| audio.codec.as_str())) {
        args.extend(["-c", "copy"].map(OsString::from));
    } else {
        let (display_width, display_height) = video.display_size();
        let (width, height) = served_size(display_width, display_height);
        // Autorotation (ffmpeg's default) turns the frames upright before this scale.
        args.extend(
            ["-vf", &format!("scale={width}:{height}"), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
                .into_iter()
                .chain(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"])
                .map(OsString::from),
        );
    }
    args.extend(["-movflags", "+faststart", "-f", "mp4", "-progress", "pipe:1", "-nostats"].map(OsString::from));
    args.push(allow::output(&mp4));
    let mut report = Progress::new(probe.duration_ms, progress);
    let (ok, _) = ffmpeg.ffmpeg(args, Stdout::Lines(&mut |line| report.line(line))).await?;
    if !ok {
        return Ok(Err(AvRefusal::Corrupt));
    }
    // Our own output from here on: read as MP4.
    let made = match ffmpeg.probe_file(Some("mov"), &mp4).await? {
        Ok(made) => made,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let Some(made_video) = made.video() else { return Ok(Err(AvRefusal::Corrupt)) };
    let duration_ms = made.duration_ms.unwrap_or(0);
    if duration_ms > MAX_VIDEO_MS {
        return Ok(Err(AvRefusal::TooLong { limit_ms: MAX_VIDEO_MS }));
    }
    let poster = work.path().join("poster.jpg");
    let at = format!("{:.3}", (duration_ms.min(2000) / 2) as f64 / 1000.0);
    let mut args: Vec<OsString> = vec!["-ss".into(), at.into()];
    args.extend(allow::input(Some("mov"), &mp4));
    // `-map_metadata -1` and bitexact: the poster carries no tags and no encoder comment.
    args.extend(
        ["-map", "0:v:0", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact"].map(OsString::from),
    );
    args.extend(["-frames:v", "1", "-q:v", "3", "-f", "image2", "-update", "1"].map(OsString::from));
    args.push(allow::output(&poster));
    let (ok, _) = ffmpeg.ffmpeg(args, Stdout::Collect(0)).await?;
    if !ok || tokio::fs::metadata(&poster).await.map(|meta| meta.len()).unwrap_or(0) == 0 {
        return Ok(Err(AvRefusal::Corrupt));
    }
    let (width, height) = made_video.display_size();
    let processed = ProcessedVideo {
        mp4: publish(&mp4, out_dir, "video.mp4").await?,
        poster: publish(&poster, out_dir, "poster.jpg").await?,
        width,
        height,
        duration_ms,
    };
    drop(work);
    Ok(Ok(processed))
}

/// Already what is served: H.264 in 4:2:0 within 720p, AAC or no sound, ISO media, upright.
fn can_remux(demuxer: &str, video: &AvStream, audio: Option<&str>) -> bool {
    let (width, height) = video.display_size();
    demuxer == "mov"
        && video.codec == "h264"
        && video.pixel_format.as_deref() == Some("yuv420p")
        && video.rotation == 0
        && served_size(width, height) == (width, height)
        && audio.is_none_or(|codec| codec == "aac")
}

/// Turns `-progress` lines into percentages, reported at most every `PROGRESS_EVERY` (and the
/// end, 100, always).
struct Progress<'a> {
    duration_us: Option<u64>,
    callback: &'a dyn AvProgress,
    last: Option<(Instant, u8)>,
}

impl<'a> Progress<'a> {
    fn new(duration_ms: Option<u64>, callback: &'a dyn AvProgress) -> Progress<'a> {
        Progress { duration_us: duration_ms.filter(|ms| *ms > 0).map(|ms| ms * 1000), callback, last: None }
    }

    fn line(&mut self, line: &str) {
        if let Some(percent) = percent(line, self.duration_us) {
            self.report(percent);
        }
    }

    fn report(&mut self, percent: u8) {
        let due = match self.last {
            None => true,
            // The end is always told, once.
            Some((_, last)) if percent == 100 => last != 100,
            Some((at, last)) => percent > last && at.elapsed() >= PROGRESS_EVERY,
        };
        if due {
            self.last = Some((Instant::now(), percent));
            self.callback.report(percent);
        }
    }
}

/// The percentage a `-progress` line tells: `out_time_us` against the duration (at most 99
/// while running), 100 at `progress=end`.
fn percent(line: &str, duration_us: Option<u64>) -> Option<u8> {
    let (key, value) = line.trim().split_once('=')?;
    match key {
        "progress" if value == "end" => Some(100),
        "out_time_us" => {
            let done: u64 = value.parse().ok()?;
            Some((done.saturating_mul(100) / duration_us?).min(99) as u8)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn progress_lines_become_percentages() {
        assert_eq!(percent("out_time_us=1000000", Some(4_000_000)), Some(25));
        assert_eq!(percent("out_time_us=9000000", Some(4_000_000)), Some(99));
        assert_eq!(percent("out_time_us=N/A", Some(4_000_000)), None);
        assert_eq!(percent("out_time_us=1000", None), None);
        assert_eq!(percent("progress=end", None), Some(100));
        assert_eq!(percent("progress=continue", Some(1)), None);
        assert_eq!(percent("frame=12", Some(1)), None);
    }

    #[test]
    fn progress_is_reported_at_most_twice_a_second() {
        let heard = Mutex::new(Vec::new());
        let callback = |percent: u8| heard.lock().map(|mut heard| heard.push(percent)).unwrap_or(());
        let mut progress = Progress::new(Some(10_000), &callback);
        for done in 0..=10_000u64 {
            progress.line(&format!("out_time_us={}", done * 1000));
        }
        // One report at once; the rest come within far less than half a second.
        progress.line("progress=end");
        progress.line("progress=end");
        assert_eq!(heard.lock().map(|heard| heard.clone()).unwrap_or_default(), vec![0, 100]);
    }
}
