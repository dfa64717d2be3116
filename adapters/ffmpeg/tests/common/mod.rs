//! Shared by the integration tests: the real tools, generated samples, and checks made with
//! a bare ffprobe on what the adapter produced.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chat_ffmpeg::{Ffmpeg, FfmpegConfig};
use serde_json::Value;

/// Fails (never skips) when ffmpeg or ffprobe is missing.
pub fn require_tools() {
    for tool in ["ffmpeg", "ffprobe"] {
        let ran = Command::new(tool).arg("-version").output();
        assert!(
            ran.is_ok_and(|output| output.status.success()),
            "{tool} is missing: run the tests through scripts/test (its ensure_ffmpeg installs Debian's ffmpeg)"
        );
    }
}

/// The processor as production configures it, with a test-sized timeout.
pub fn processor() -> Ffmpeg {
    require_tools();
    Ffmpeg::new(FfmpegConfig { timeout: Duration::from_secs(120), ..FfmpegConfig::default() })
}

/// A temporary directory holding the named samples from fixtures/media/generate.sh.
pub fn samples(names: &[&str], hls_port: Option<u16>) -> tempfile::TempDir {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/media/generate.sh");
    let mut command = Command::new("bash");
    command.arg(&script).arg(dir.path()).args(names);
    if let Some(port) = hls_port {
        command.env("HLS_PORT", port.to_string());
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "generate.sh failed: {}", String::from_utf8_lossy(&output.stderr));
    dir
}

/// A fresh, empty output directory.
pub fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The names in a directory, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A bare ffprobe's JSON for a file.
pub fn ffprobe(path: &Path) -> Value {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success(), "ffprobe {}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The first stream of a type in ffprobe's JSON.
pub fn stream<'a>(probe: &'a Value, codec_type: &str) -> Option<&'a Value> {
    probe["streams"].as_array().unwrap().iter().find(|stream| stream["codec_type"] == codec_type)
}

/// The types of an ISO media file's top-level boxes, in order.
pub fn top_level_boxes(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        let size = match size {
            0 => (bytes.len() - at) as u64,
            1 => u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()),
            size => size,
        };
        assert!(size >= 8, "bad box size in {}", path.display());
        at += size as usize;
    }
    boxes
}

/// A picture decoded to 8-bit gray: (width, height, pixels).
pub fn gray(path: &Path) -> (usize, usize, Vec<u8>) {
    let probe = ffprobe(path);
    let video = stream(&probe, "video").unwrap();
    let (width, height) = (video["width"].as_u64().unwrap() as usize, video["height"].as_u64().unwrap() as usize);
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(output.stdout.len(), width * height);
    (width, height, output.stdout)
}

/// Where a sample is.
pub fn sample(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
