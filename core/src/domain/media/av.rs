//! Videos and voice messages: what probing a file tells, the limits a file must stay within,
//! the refusals, and what processing makes. The tool that reads the files (ffmpeg) lives behind
//! the `AvProcessor` port; the rules that need no tool live here.

use super::processing::LocalFile;

/// The longest video accepted, in milliseconds (3 minutes).
pub const MAX_VIDEO_MS: u64 = 3 * 60 * 1000;

/// The longest voice message accepted, in milliseconds (5 minutes).
pub const MAX_VOICE_MS: u64 = 5 * 60 * 1000;

/// The most pixels on the short side of a served video (720p).
pub const MAX_SHORT_SIDE: u32 = 720;

/// How many peaks a voice message's waveform has.
pub const WAVEFORM_PEAKS: usize = 64;

/// Why a video or voice message was refused; the code goes on the failed media record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvRefusal {
    /// Longer than the kind allows (`MAX_VIDEO_MS`, `MAX_VOICE_MS`).
    TooLong {
        /// The limit that was passed, in milliseconds.
        limit_ms: u64,
    },
    /// A video without a picture (audio only, or data streams).
    NoVideoStream,
    /// A voice message without sound.
    NoAudioStream,
    /// A container or codec outside the allow-list.
    UnsupportedFormat,
    /// Not readable as media in an accepted container: truncated, damaged, or not media at all.
    Corrupt,
}

impl AvRefusal {
    /// The stable snake_case code: `too_long`, `no_video_stream`, `no_audio_stream`,
    /// `unsupported_format` or `corrupt`.
    pub fn code(&self) -> &'static str {
        match self {
            AvRefusal::TooLong { .. } => "too_long",
            AvRefusal::NoVideoStream => "no_video_stream",
            AvRefusal::NoAudioStream => "no_audio_stream",
            AvRefusal::UnsupportedFormat => "unsupported_format",
            AvRefusal::Corrupt => "corrupt",
        }
    }
}

/// What a stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// Pictures.
    Video,
    /// Sound.
    Audio,
    /// Subtitles, data, attachments, ...
    Other,
}

/// One stream of a probed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvStream {
    /// What it carries.
    pub kind: StreamKind,
    /// The codec's short name as the tool reports it (`h264`, `vp8`, `aac`, `opus`, ...).
    pub codec: String,
    /// The pixel format of a video stream (`yuv420p`, ...), when known.
    pub pixel_format: Option<String>,
    /// The coded width of a video stream (before rotation), 0 for other streams.
    pub width: u32,
    /// The coded height of a video stream (before rotation), 0 for other streams.
    pub height: u32,
    /// How far a player turns the picture clockwise to show it upright: 0, 90, 180 or 270.
    pub rotation: u16,
}

impl AvStream {
    /// Width and height as shown, after rotation.
    pub fn display_size(&self) -> (u32, u32) {
        if self.rotation % 180 == 90 { (self.height, self.width) } else { (self.width, self.height) }
    }
}

/// What probing a file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The container as the tool names it (e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`).
    pub container: String,
    /// How long it plays, in milliseconds, when the file says.
    pub duration_ms: Option<u64>,
    /// Its streams, in file order.
    pub streams: Vec<AvStream>,
}

impl Probe {
    /// The first video stream (cover pictures excluded by the tool that probed).
    pub fn video(&self) -> Option<&AvStream> {
        self.streams.iter().find(|stream| stream.kind == StreamKind::Video)
    }

    /// The first audio stream.
    pub fn audio(&self) -> Option<&AvStream> {
        self.streams.iter().find(|stream| stream.kind == StreamKind::Audio)
    }
}

/// The size a video is served at: its display size scaled down, keeping the aspect ratio, so
/// the short side is at most `MAX_SHORT_SIDE`; both sides even (H.264 in 4:2:0 wants that).
pub fn served_size(display_width: u32, display_height: u32) -> (u32, u32) {
    let even = |side: u64| (side.max(2) & !1) as u32;
    let (width, height) = (u64::from(display_width.max(1)), u64::from(display_height.max(1)));
    let short = width.min(height);
    let limit = u64::from(MAX_SHORT_SIDE);
    if short <= limit {
        return (even(width), even(height));
    }
    // Rounded to the nearest pixel, then to even.
    let scale = |side: u64| (side * limit + short / 2) / short;
    (even(scale(width)), even(scale(height)))
}

/// A video ready to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessedVideo {
    /// H.264 + AAC in MP4 with the index first (`+faststart`), upright, at most 720p.
    pub mp4: LocalFile,
    /// A JPEG frame of it, upright, at the MP4's size.
    pub poster: LocalFile,
    /// The MP4's width.
    pub width: u32,
    /// The MP4's height.
    pub height: u32,
    /// How long it plays, in milliseconds.
    pub duration_ms: u64,
}

/// A voice message ready to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessedVoice {
    /// AAC in M4A.
    pub m4a: LocalFile,
    /// How long it plays, in milliseconds.
    pub duration_ms: u64,
    /// `WAVEFORM_PEAKS` loudness peaks over its length, 0 (silence) to 255 (full scale).
    pub waveform: Vec<u8>,
}

/// The waveform of 16-bit samples: the file split into `WAVEFORM_PEAKS` equal spans, the
/// loudest sample of each scaled to 0-255. Fewer samples than peaks leave the rest at 0.
pub fn waveform(samples: &[i16]) -> Vec<u8> {
    let mut peaks = vec![0u8; WAVEFORM_PEAKS];
    if samples.is_empty() {
        return peaks;
    }
    let len = samples.len();
    for (index, peak) in peaks.iter_mut().enumerate() {
        let (start, end) = (index * len / WAVEFORM_PEAKS, (index + 1) * len / WAVEFORM_PEAKS);
        let loudest = samples[start..end].iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        *peak = ((u32::from(loudest) * 255 + 16384) / 32768).min(255) as u8;
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_size_keeps_the_short_side_within_720p() {
        assert_eq!(served_size(1920, 1080), (1280, 720));
        assert_eq!(served_size(1080, 1920), (720, 1280));
        assert_eq!(served_size(640, 360), (640, 360));
        assert_eq!(served_size(3840, 2160), (1280, 720));
        assert_eq!(served_size(321, 241), (320, 240));
        assert_eq!(served_size(1000, 1000), (720, 720));
        assert_eq!(served_size(0, 0), (2, 2));
    }

    #[test]
    fn rotation_swaps_the_displayed_sides() {
        let stream = AvStream {
            kind: StreamKind::Video,
            codec: "h264".into(),
            pixel_format: None,
            width: 1920,
            height: 1080,
            rotation: 90,
        };
        assert_eq!(stream.display_size(), (1080, 1920));
        assert_eq!(AvStream { rotation: 180, ..stream }.display_size(), (1920, 1080));
    }

    #[test]
    fn the_waveform_has_64_peaks_scaled_to_a_byte() {
        let mut samples = vec![0i16; 6400];
        samples[0] = i16::MAX;
        samples[6399] = i16::MIN;
        samples[3200] = 16384;
        let peaks = waveform(&samples);
        assert_eq!(peaks.len(), WAVEFORM_PEAKS);
        assert_eq!((peaks[0], peaks[63], peaks[32], peaks[1]), (255, 255, 128, 0));
        assert_eq!(waveform(&[1000; 10]).iter().filter(|p| **p > 0).count(), 10);
        assert_eq!(waveform(&[]), vec![0; WAVEFORM_PEAKS]);
    }

    #[test]
    fn refusal_codes_are_stable() {
        assert_eq!(AvRefusal::TooLong { limit_ms: MAX_VIDEO_MS }.code(), "too_long");
        assert_eq!(AvRefusal::UnsupportedFormat.code(), "unsupported_format");
    }
}
