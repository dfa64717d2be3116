//! What the wrapper costs: wall time of `transcode_video` (probe, transcode at nice 10, poster,
//! probe of the output) against the same transcode run as a bare ffmpeg command, on a generated
//! 25-second 1280x720 MPEG-4 clip. Run with `cargo bench -p chat-ffmpeg --bench transcode`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chat_core::domain::media::LocalFile;
use chat_core::ports::AvProcessor;
use chat_ffmpeg::{Ffmpeg, FfmpegConfig};

const ROUNDS: usize = 3;

fn bare(input: &Path, output: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-map", "0:a:0?", "-vf", "scale=1280:720", "-c:v", "libx264", "-preset", "veryfast"])
        .args(["-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"])
        .arg(output)
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

/// The steps `transcode_video` adds around the transcode, run bare: probe the input, cut the
/// poster from the output, probe the output.
fn extra_steps(input: &Path, output: &Path, poster: &Path) -> Duration {
    let started = Instant::now();
    for file in [input, output] {
        let probed = Command::new("ffprobe")
            .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
            .arg(file)
            .output()
            .unwrap();
        assert!(probed.status.success());
    }
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-ss", "1", "-i"])
        .arg(output)
        .args(["-frames:v", "1", "-q:v", "3", "-update", "1"])
        .arg(poster)
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/media/generate.sh");
    let generated = Command::new("bash").arg(script).arg(dir.path()).arg("bench720.mkv").status().unwrap();
    assert!(generated.success(), "generate.sh failed (is ffmpeg installed? run scripts/test)");
    let input = dir.path().join("bench720.mkv");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let ours = |nice: Option<u8>| {
        let processor = Ffmpeg::new(FfmpegConfig { nice, ..FfmpegConfig::default() });
        let out = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let video = runtime
            .block_on(processor.transcode_video(&LocalFile::new(input.clone()), out.path(), &|_| {}))
            .unwrap()
            .unwrap();
        let took = started.elapsed();
        assert_eq!((video.width, video.height), (1280, 720));
        took
    };
    println!(
        "input: 25 s, 1280x720 at 30 fps, MPEG-4 part 2 + MP3, {} bytes",
        std::fs::metadata(&input).unwrap().len()
    );
    for round in 1..=ROUNDS {
        let bare = bare(&input, &dir.path().join("bare.mp4"));
        let extra = extra_steps(&input, &dir.path().join("bare.mp4"), &dir.path().join("poster.jpg"));
        let niced = ours(Some(10));
        let plain = ours(None);
        println!(
            "round {round}: bare ffmpeg {:.2} s (+ probe, poster, probe run bare: {:.3} s) | transcode_video (nice 10) {:.2} s ({:+.1}%) | transcode_video (no nice) {:.2} s ({:+.1}%)",
            bare.as_secs_f64(),
            extra.as_secs_f64(),
            niced.as_secs_f64(),
            (niced.as_secs_f64() / bare.as_secs_f64() - 1.0) * 100.0,
            plain.as_secs_f64(),
            (plain.as_secs_f64() / bare.as_secs_f64() - 1.0) * 100.0,
        );
    }
}
