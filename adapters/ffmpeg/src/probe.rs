//! ffprobe's JSON (`-print_format json -show_format -show_streams`) read into the domain's
//! `Probe`. Only the fields used are declared; anything else ffprobe adds is ignored.

use std::collections::HashMap;

use chat_core::domain::media::{AvStream, Probe, StreamKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Format {
    format_name: String,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    pix_fmt: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<String>,
    #[serde(default)]
    tags: HashMap<String, String>,
    #[serde(default)]
    side_data_list: Vec<SideData>,
    #[serde(default)]
    disposition: HashMap<String, i64>,
}

#[derive(Deserialize)]
struct SideData {
    side_data_type: Option<String>,
    rotation: Option<f64>,
}

/// The probe in ffprobe's JSON; an error for JSON that is not ffprobe's, or has no format.
pub fn parse_probe(json: &[u8]) -> Result<Probe, String> {
    let output: Output = serde_json::from_slice(json).map_err(|error| format!("unreadable ffprobe JSON: {error}"))?;
    let format = output.format.ok_or("ffprobe found no format")?;
    let stream_duration = output.streams.iter().filter_map(|stream| seconds_to_ms(stream.duration.as_deref())).max();
    Ok(Probe {
        container: format.format_name,
        duration_ms: seconds_to_ms(format.duration.as_deref()).or(stream_duration),
        streams: output.streams.into_iter().map(stream).collect(),
    })
}

fn stream(stream: Stream) -> AvStream {
    // Cover art in audio files is a one-picture "video" stream: not a video.
    let cover = stream.disposition.get("attached_pic").is_some_and(|flag| *flag != 0);
    let kind = match stream.codec_type.as_deref() {
        Some("video") if !cover => StreamKind::Video,
        Some("audio") => StreamKind::Audio,
        _ => StreamKind::Other,
    };
    AvStream {
        kind,
        codec: stream.codec_name.clone().unwrap_or_default(),
        pixel_format: stream.pix_fmt.clone(),
        width: stream.width.unwrap_or(0),
        height: stream.height.unwrap_or(0),
        rotation: rotation(&stream),
    }
}

/// Clockwise degrees to turn the picture upright. The display matrix (ffmpeg >= 5) gives the
/// counter-clockwise angle; the older `rotate` tag gives the clockwise one.
fn rotation(stream: &Stream) -> u16 {
    let from_matrix = stream
        .side_data_list
        .iter()
        .filter(|side| side.side_data_type.as_deref() == Some("Display Matrix"))
        .find_map(|side| side.rotation)
        .map(|counter_clockwise| -counter_clockwise);
    let from_tag = || stream.tags.get("rotate").and_then(|tag| tag.trim().parse::<f64>().ok());
    let degrees = from_matrix.or_else(from_tag).unwrap_or(0.0);
    if !degrees.is_finite() {
        return 0;
    }
    // Nearest quarter turn, in 0..360.
    ((degrees / 90.0).round() as i64).rem_euclid(4) as u16 * 90
}

fn seconds_to_ms(seconds: Option<&str>) -> Option<u64> {
    let seconds: f64 = seconds?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn fixture(name: &str) -> Probe {
        let path = format!("{}/../../fixtures/ffprobe/{name}", env!("CARGO_MANIFEST_DIR"));
        let json = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        parse_probe(&json).unwrap()
    }

    #[test]
    fn webm_vp8_with_opus() {
        let probe = fixture("vp8.webm.json");
        assert_eq!(probe.container, "matroska,webm");
        let video = probe.video().unwrap();
        assert_eq!((video.codec.as_str(), video.width, video.height, video.rotation), ("vp8", 320, 240, 0));
        assert_eq!(probe.audio().unwrap().codec, "opus");
        assert!((1900..=2100).contains(&probe.duration_ms.unwrap()), "{:?}", probe.duration_ms);
    }

    #[test]
    fn avi_mpeg4_with_mp3() {
        let probe = fixture("mpeg4.avi.json");
        assert_eq!(probe.container, "avi");
        let video = probe.video().unwrap();
        assert_eq!((video.codec.as_str(), video.rotation), ("mpeg4", 0));
        assert_eq!(probe.audio().unwrap().codec, "mp3");
    }

    #[test]
    fn display_matrix_rotation_is_turned_clockwise() {
        for name in ["rotated.mov.json", "rotated.mp4.json"] {
            let probe = fixture(name);
            let video = probe.video().unwrap();
            assert_eq!((video.width, video.height, video.rotation), (320, 240, 90), "{name}");
            assert_eq!(video.display_size(), (240, 320));
        }
        assert_eq!(fixture("rotated.mov.json").video().unwrap().codec, "mpeg4");
    }

    #[test]
    fn h264_without_audio() {
        let probe = fixture("silent.mp4.json");
        assert_eq!(probe.container, "mov,mp4,m4a,3gp,3g2,mj2");
        let video = probe.video().unwrap();
        assert_eq!((video.codec.as_str(), video.pixel_format.as_deref()), ("h264", Some("yuv420p")));
        assert!(probe.audio().is_none());
    }

    #[test]
    fn opus_voice_note_in_ogg() {
        let probe = fixture("voice.ogg.json");
        assert_eq!(probe.container, "ogg");
        assert!(probe.video().is_none());
        assert_eq!(probe.audio().unwrap().codec, "opus");
        assert!((2900..=3100).contains(&probe.duration_ms.unwrap()));
    }

    #[test]
    fn cover_art_is_not_a_video_and_odd_rotations_round() {
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"mjpeg","disposition":{"attached_pic":1}},
            {"codec_type":"video","codec_name":"h264","side_data_list":[{"side_data_type":"Display Matrix","rotation":90.0}]},
            {"codec_type":"audio","codec_name":"mp3","duration":"4.5"}],"format":{"format_name":"mp3"}}"#;
        let probe = parse_probe(json).unwrap();
        assert_eq!(probe.streams[0].kind, StreamKind::Other);
        assert_eq!(probe.video().unwrap().rotation, 270);
        assert_eq!(probe.duration_ms, Some(4500));
        assert!(parse_probe(b"{}").is_err());
        assert!(parse_probe(b"not json").is_err());
    }
}
