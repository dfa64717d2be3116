//! Videos through the real ffmpeg: every sample becomes a playable, faststart H.264 MP4 with a
//! poster, upright and at most 720p; the refusals; a disguised playlist opens no connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use chat_core::domain::media::{AvRefusal, LocalFile, MAX_VIDEO_MS, ProcessedVideo};
use chat_core::ports::AvProcessor;
use common::*;

async fn transcode(
    name: &str,
    samples: &tempfile::TempDir,
    out: &tempfile::TempDir,
) -> (Result<ProcessedVideo, AvRefusal>, Vec<u8>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let progress = {
        let heard = heard.clone();
        move |percent: u8| heard.lock().unwrap().push(percent)
    };
    let outcome =
        processor().transcode_video(&LocalFile::new(sample(samples, name)), out.path(), &progress).await.unwrap();
    let heard = heard.lock().unwrap().clone();
    (outcome, heard)
}

/// The checks every served video passes, by a bare ffprobe and by reading the file's boxes.
fn assert_served(video: &ProcessedVideo, out: &tempfile::TempDir, with_audio: bool) {
    assert_eq!(entries(out.path()), ["poster.jpg", "video.mp4"], "only the outputs are left");
    let probe = ffprobe(video.mp4.path());
    let picture = stream(&probe, "video").unwrap();
    assert_eq!(picture["codec_name"], "h264");
    assert_eq!(picture["pix_fmt"], "yuv420p");
    assert_eq!(
        (picture["width"].as_u64(), picture["height"].as_u64()),
        (Some(video.width.into()), Some(video.height.into()))
    );
    assert!(picture.get("side_data_list").is_none(), "no rotation left to apply: {picture}");
    assert_eq!(stream(&probe, "audio").map(|audio| audio["codec_name"].clone()), with_audio.then(|| "aac".into()));
    let boxes = top_level_boxes(video.mp4.path());
    let position =
        |name: &str| boxes.iter().position(|b| b == name).unwrap_or_else(|| panic!("no {name} in {boxes:?}"));
    assert!(position("moov") < position("mdat"), "moov before mdat (faststart): {boxes:?}");
    assert!(video.width.min(video.height) <= 720);
    assert_eq!(&std::fs::read(video.poster.path()).unwrap()[..3], &[0xFF, 0xD8, 0xFF], "the poster is a JPEG");
    let (width, height, _) = gray(video.poster.path());
    assert_eq!((width as u32, height as u32), (video.width, video.height), "the poster has the video's size");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_becomes_a_playable_faststart_mp4() {
    let names = ["vp8.webm", "mpeg4.avi", "silent.mp4", "compatible.mp4", "hd.mp4"];
    let samples = samples(&names, None);
    for (name, size, with_audio) in [
        ("vp8.webm", (320, 240), true),
        ("mpeg4.avi", (320, 240), true),
        ("silent.mp4", (320, 240), false),
        ("compatible.mp4", (320, 240), true),
        ("hd.mp4", (1280, 720), false),
    ] {
        let out = out_dir();
        let (outcome, heard) = transcode(name, &samples, &out).await;
        let video = outcome.unwrap_or_else(|refusal| panic!("{name}: {refusal:?}"));
        assert_eq!((video.width, video.height), size, "{name}");
        assert!(video.duration_ms > 500 && video.duration_ms < 2500, "{name}: {} ms", video.duration_ms);
        assert_served(&video, &out, with_audio);
        assert_eq!(heard.last(), Some(&100), "{name}: progress ends at 100: {heard:?}");
        assert!(heard.windows(2).all(|pair| pair[0] < pair[1]), "{name}: progress only grows: {heard:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_video_is_served_upright() {
    let samples = samples(&["rotated.mov", "rotated.mp4"], None);
    for name in ["rotated.mov", "rotated.mp4"] {
        let out = out_dir();
        let video = transcode(name, &samples, &out).await.0.unwrap();
        // Stored 320x240 with a rotation of 90 degrees clockwise: shown 240x320.
        assert_eq!((video.width, video.height), (240, 320), "{name}");
        assert_served(&video, &out, false);
        // The white marker in the stored picture's top-left corner turns to the top right.
        let (width, height, pixels) = gray(video.poster.path());
        let at = |x: usize, y: usize| pixels[y * width + x];
        let corners = [at(10, 10), at(width - 10, 10), at(10, height - 10), at(width - 10, height - 10)];
        assert!(corners[1] > 200 && corners[0] < 50 && corners[2] < 50 && corners[3] < 50, "{name}: {corners:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn over_three_minutes_is_too_long() {
    let samples = samples(&["long.mp4"], None);
    let out = out_dir();
    let (outcome, _) = transcode("long.mp4", &samples, &out).await;
    assert_eq!(outcome, Err(AvRefusal::TooLong { limit_ms: MAX_VIDEO_MS }));
    assert_eq!(outcome.unwrap_err().code(), "too_long");
    assert!(entries(out.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sound_alone_and_garbage_are_refused() {
    let samples = samples(&["tone.ogg"], None);
    let out = out_dir();
    assert_eq!(transcode("tone.ogg", &samples, &out).await.0, Err(AvRefusal::NoVideoStream));
    std::fs::write(sample(&samples, "garbage.mp4"), b"\0\0\0\x18ftypisom this is not a video at all").unwrap();
    assert_eq!(transcode("garbage.mp4", &samples, &out).await.0, Err(AvRefusal::Corrupt));
    std::fs::write(sample(&samples, "list.mp4"), b"ffconcat version 1.0\nfile /etc/passwd\n").unwrap();
    assert_eq!(transcode("list.mp4", &samples, &out).await.0.map(|_| ()).unwrap_err().code(), "corrupt");
    assert!(entries(out.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disguised_playlist_is_refused_and_opens_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let samples = samples(&["playlist.mp4"], Some(port));
    assert!(
        std::fs::read_to_string(sample(&samples, "playlist.mp4")).unwrap().contains(&format!("127.0.0.1:{port}/x.ts"))
    );
    let out = out_dir();
    let (outcome, _) = transcode("playlist.mp4", &samples, &out).await;
    assert_eq!(outcome, Err(AvRefusal::Corrupt));
    let probed = processor().probe(&LocalFile::new(sample(&samples, "playlist.mp4"))).await.unwrap();
    assert_eq!(probed, Err(AvRefusal::Corrupt));
    // Both calls have returned, so any connection they made is in the listener's backlog.
    match listener.accept() {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the playlist's URL was opened: {other:?}"),
    }
    assert!(entries(out.path()).is_empty());
}

/// The listener check above can fail: a bare ffprobe allowed to use http connects to it. And
/// the demuxer allow-list alone keeps the playlist shut, even with http allowed.
#[tokio::test(flavor = "multi_thread")]
async fn the_listener_would_see_a_playlist_let_open_urls() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let samples = samples(&["playlist.mp4"], Some(listener.local_addr().unwrap().port()));
    let playlist = sample(&samples, "playlist.mp4");
    let ffprobe = |extra: &[&str]| {
        std::process::Command::new("ffprobe")
            .args(["-v", "quiet", "-protocol_whitelist", "file,http,tcp"])
            .args(extra)
            .arg(&playlist)
            .spawn()
            .unwrap()
    };
    let mut open = ffprobe(&[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let connection = loop {
        match listener.accept() {
            Ok((connection, _)) => break connection,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(error) => panic!("no connection from a bare ffprobe: {error}"),
        }
    };
    drop(connection);
    open.wait().unwrap();
    let allowed = chat_ffmpeg::DEMUXERS.join(",");
    let status = ffprobe(&["-format_whitelist", &allowed]).wait().unwrap();
    assert!(!status.success());
    assert!(matches!(listener.accept(), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock));
}
