//! Voice messages through the real ffmpeg: M4A (AAC) with its duration and 64 peaks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::domain::media::{AvRefusal, LocalFile, MAX_VOICE_MS, WAVEFORM_PEAKS};
use chat_core::ports::AvProcessor;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_note_becomes_m4a_with_its_duration_and_64_peaks() {
    let samples = samples(&["voice.ogg"], None);
    let out = out_dir();
    let voice =
        processor().transcode_voice(&LocalFile::new(sample(&samples, "voice.ogg")), out.path()).await.unwrap().unwrap();
    assert_eq!(entries(out.path()), ["voice.m4a"]);
    let probe = ffprobe(voice.m4a.path());
    assert_eq!(stream(&probe, "audio").unwrap()["codec_name"], "aac");
    assert!(stream(&probe, "video").is_none());
    assert!(probe["format"]["format_name"].as_str().unwrap().contains("m4a"));
    assert!((2900..=3200).contains(&voice.duration_ms), "{} ms", voice.duration_ms);
    assert_eq!(voice.waveform.len(), WAVEFORM_PEAKS);
    // The sample grows louder from silence to full scale.
    let mean = |peaks: &[u8]| peaks.iter().map(|p| u32::from(*p)).sum::<u32>() / peaks.len() as u32;
    let (first, last) = (mean(&voice.waveform[..8]), mean(&voice.waveform[56..]));
    assert!(first < 60 && last > 180, "{:?}", voice.waveform);
}

#[tokio::test(flavor = "multi_thread")]
async fn voice_refusals() {
    let samples = samples(&["long.ogg", "silent.mp4"], None);
    let out = out_dir();
    let processor = processor();
    let long = processor.transcode_voice(&LocalFile::new(sample(&samples, "long.ogg")), out.path()).await.unwrap();
    assert_eq!(long, Err(AvRefusal::TooLong { limit_ms: MAX_VOICE_MS }));
    let silent = processor.transcode_voice(&LocalFile::new(sample(&samples, "silent.mp4")), out.path()).await.unwrap();
    assert_eq!(silent, Err(AvRefusal::NoAudioStream));
    assert!(entries(out.path()).is_empty());
}
