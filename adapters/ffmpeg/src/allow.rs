//! The allow-lists, and the input options every ffmpeg/ffprobe call reads a file with.

use std::ffi::OsString;
use std::path::Path;

use chat_core::domain::media::{AvRefusal, AvStream, Probe};

/// The demuxers a file may be read with: ISO media (MP4, QuickTime, 3GP, M4A), Matroska/WebM,
/// AVI, Ogg, AMR, MP3 and ADTS AAC. Anything else (HLS and other playlists, concat lists,
/// image sequences, ...) is never opened.
pub const DEMUXERS: &[&str] = &["mov", "matroska", "avi", "ogg", "amr", "mp3", "aac"];

/// The video codecs phones and browsers send.
pub const VIDEO_CODECS: &[&str] = &["h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "h263", "mjpeg"];

/// The audio codecs phones and browsers send.
pub const AUDIO_CODECS: &[&str] = &["aac", "mp3", "opus", "vorbis", "amr_nb", "amr_wb", "flac", "alac"];

/// The largest picture accepted (8K), so a crafted header cannot ask for a giant frame.
pub const MAX_PIXELS: u64 = 7680 * 4320;

/// The allowed demuxer that reads a container ffprobe named (`mov,mp4,m4a,...` → `mov`).
pub fn demuxer(container: &str) -> Option<&'static str> {
    container.split(',').find_map(|name| DEMUXERS.iter().copied().find(|allowed| *allowed == name))
}

/// The input options of every call, then `-i file:<path>`: only local files and pipes, only
/// allowed demuxers, and, once a probe has chosen it, that one demuxer explicitly.
pub fn input(demuxer: Option<&str>, path: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> =
        ["-protocol_whitelist", "file,pipe", "-format_whitelist"].iter().map(OsString::from).collect();
    args.push(DEMUXERS.join(",").into());
    if let Some(demuxer) = demuxer {
        args.extend(["-f".into(), demuxer.into()]);
    }
    // `file:` so that no part of the path is ever read as a protocol name.
    let mut file = OsString::from("file:");
    file.push(path.as_os_str());
    args.extend(["-i".into(), file]);
    args
}

/// `file:<path>`, for outputs.
pub fn output(path: &Path) -> OsString {
    let mut file = OsString::from("file:");
    file.push(path.as_os_str());
    file
}

/// What a video must be before it is transcoded: its demuxer, its video stream and its first
/// audio stream, or the refusal.
pub fn check_video(probe: &Probe, max_ms: u64) -> Result<(&'static str, &AvStream, Option<&AvStream>), AvRefusal> {
    let demuxer = demuxer(&probe.container).ok_or(AvRefusal::UnsupportedFormat)?;
    let video = probe.video().ok_or(AvRefusal::NoVideoStream)?;
    if !VIDEO_CODECS.contains(&video.codec.as_str()) {
        return Err(AvRefusal::UnsupportedFormat);
    }
    if video.width == 0 || video.height == 0 {
        return Err(AvRefusal::Corrupt);
    }
    if u64::from(video.width) * u64::from(video.height) > MAX_PIXELS {
        return Err(AvRefusal::UnsupportedFormat);
    }
    let audio = probe.audio();
    if audio.is_some_and(|audio| !AUDIO_CODECS.contains(&audio.codec.as_str())) {
        return Err(AvRefusal::UnsupportedFormat);
    }
    too_long(probe, max_ms)?;
    Ok((demuxer, video, audio))
}

/// What a voice message must be: its demuxer, or the refusal.
pub fn check_voice(probe: &Probe, max_ms: u64) -> Result<&'static str, AvRefusal> {
    let demuxer = demuxer(&probe.container).ok_or(AvRefusal::UnsupportedFormat)?;
    let audio = probe.audio().ok_or(AvRefusal::NoAudioStream)?;
    if !AUDIO_CODECS.contains(&audio.codec.as_str()) {
        return Err(AvRefusal::UnsupportedFormat);
    }
    too_long(probe, max_ms)?;
    Ok(demuxer)
}

fn too_long(probe: &Probe, max_ms: u64) -> Result<(), AvRefusal> {
    match probe.duration_ms {
        Some(duration) if duration > max_ms => Err(AvRefusal::TooLong { limit_ms: max_ms }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chat_core::domain::media::StreamKind;

    fn stream(kind: StreamKind, codec: &str) -> AvStream {
        AvStream { kind, codec: codec.into(), pixel_format: None, width: 640, height: 480, rotation: 0 }
    }

    #[test]
    fn only_allowed_demuxers_are_chosen() {
        assert_eq!(demuxer("mov,mp4,m4a,3gp,3g2,mj2"), Some("mov"));
        assert_eq!(demuxer("matroska,webm"), Some("matroska"));
        assert_eq!(demuxer("hls"), None);
        assert_eq!(demuxer("concat"), None);
        assert_eq!(demuxer("image2"), None);
    }

    #[test]
    fn videos_are_checked_against_the_lists_and_the_limit() {
        let probe = |container: &str, streams, duration_ms| Probe { container: container.into(), duration_ms, streams };
        let ok = probe("matroska,webm", vec![stream(StreamKind::Video, "vp8")], Some(1000));
        assert_eq!(check_video(&ok, 180_000).map(|(demuxer, ..)| demuxer), Ok("matroska"));
        let audio_only = probe("ogg", vec![stream(StreamKind::Audio, "opus")], Some(1000));
        assert_eq!(check_video(&audio_only, 180_000).err(), Some(AvRefusal::NoVideoStream));
        assert_eq!(check_voice(&audio_only, 300_000), Ok("ogg"));
        let prores = probe("mov,mp4", vec![stream(StreamKind::Video, "prores")], Some(1000));
        assert_eq!(check_video(&prores, 180_000).err(), Some(AvRefusal::UnsupportedFormat));
        let long = probe("mov,mp4", vec![stream(StreamKind::Video, "h264")], Some(181_000));
        assert_eq!(check_video(&long, 180_000).err(), Some(AvRefusal::TooLong { limit_ms: 180_000 }));
        let ac3 = probe("mov", vec![stream(StreamKind::Video, "h264"), stream(StreamKind::Audio, "ac3")], None);
        assert_eq!(check_video(&ac3, 180_000).err(), Some(AvRefusal::UnsupportedFormat));
        assert_eq!(check_voice(&ok, 300_000), Err(AvRefusal::NoAudioStream));
    }

    #[test]
    fn every_input_is_fenced() {
        let args = input(Some("mov"), Path::new("/tmp/a:b.mp4"));
        let args: Vec<_> = args.iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        assert_eq!(args[..2], ["-protocol_whitelist", "file,pipe"]);
        assert_eq!(args[3], "mov,matroska,avi,ogg,amr,mp3,aac");
        assert_eq!(args[4..], ["-f", "mov", "-i", "file:/tmp/a:b.mp4"]);
    }
}
