//! Media rules: the four kinds and their size limits, the content types each kind accepts with
//! the file extensions that go with them, the magic-byte check made when an upload completes,
//! how an upload is split into parts, and the object keys, which only the server chooses.

use serde::{Deserialize, Serialize};

use super::ids::{MediaId, UserId};
use super::text::{Layout, is_blank, refuse_control_characters};

mod av;
mod processing;
mod record;

pub use av::{
    AvRefusal, AvStream, MAX_SHORT_SIDE, MAX_VIDEO_MS, MAX_VOICE_MS, Probe, ProcessedVideo, ProcessedVoice, StreamKind,
    WAVEFORM_PEAKS, served_size, waveform,
};
pub use processing::{
    FULL_VARIANT, IMAGE_THUMBNAILS, ImageLimits, ImageRefusal, LocalFile, ProcessedImage, ProducedVariant,
    fit_long_side,
};
pub use record::{
    Attachment, KindUsage, Media, MediaTransition, MultipartId, NewMedia, Processed, StorageUsage, UploadTarget,
    Variant, unattached_lifetime, upload_window, url_lifetime,
};

/// One mebibyte; the limits below are whole mebibytes.
pub const MIB: u64 = 1024 * 1024;

/// Uploads larger than this go up in parts, so a phone that loses its network resumes with the
/// parts still missing instead of starting over.
pub const MULTIPART_THRESHOLD: u64 = 8 * MIB;

/// The size of every part but the last (S3 wants at least 5 MiB for all but the last).
pub const PART_SIZE: u64 = 8 * MIB;

/// The longest display file name, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;

/// What a media item is for; it decides the limit, the accepted types and the processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A photo: JPEG, PNG, WebP, GIF, or HEIC/HEIF from iPhones.
    Image,
    /// A video: MP4, QuickTime (iPhone), 3GP (older Android), WebM.
    Video,
    /// A voice message: AAC/M4A, Opus/Ogg, AMR, MP3, WebM audio from browsers.
    Audio,
    /// Any other file: documents, archives, ... (scanned for malware before it is served).
    File,
}

impl MediaKind {
    /// Every kind, for tables and tests.
    pub const ALL: [MediaKind; 4] = [MediaKind::Image, MediaKind::Video, MediaKind::Audio, MediaKind::File];

    /// The kind named by its wire name, `None` for anything else.
    pub fn parse(name: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The wire name: `image`, `video`, `audio` or `file`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::File => "file",
        }
    }

    /// The largest upload of this kind, in bytes (SPEC section 8).
    pub fn max_bytes(self) -> u64 {
        match self {
            MediaKind::Image => 10 * MIB,
            MediaKind::Video => 50 * MIB,
            MediaKind::Audio => 10 * MIB,
            MediaKind::File => 25 * MIB,
        }
    }

    /// The content types this kind accepts.
    pub fn accepted_types(self) -> impl Iterator<Item = &'static AcceptedType> {
        ACCEPTED_TYPES.iter().filter(move |accepted| accepted.kind == self)
    }
}

/// Where a media item is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaStatus {
    /// An upload URL was handed out; no bytes are known to have arrived.
    Pending,
    /// The object was checked at completion (size, magic bytes) and waits for processing.
    Uploaded,
    /// The media worker is making its variants.
    Processing,
    /// Variants are made; recipients may download it.
    Ready,
    /// Refused by processing; never served.
    Failed,
}

/// The family of file formats a content type's bytes must belong to. The completion check
/// only tells families apart (an HTML page claimed as a JPEG fails); the media worker probes
/// the content itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// JPEG (FF D8 FF).
    Jpeg,
    /// PNG.
    Png,
    /// GIF87a / GIF89a.
    Gif,
    /// WebP (RIFF....WEBP).
    Webp,
    /// ISO base media files: MP4, QuickTime, 3GP, M4A, HEIC/HEIF (an `ftyp` box, or QuickTime's
    /// older leading atoms).
    IsoMedia,
    /// Matroska / WebM (EBML header).
    Ebml,
    /// Ogg (Opus or Vorbis voice notes).
    Ogg,
    /// AMR narrow or wide band (`#!AMR`).
    Amr,
    /// MPEG audio: an ID3 tag or an MPEG frame sync (MP3), or AAC in ADTS.
    MpegAudio,
    /// PDF (`%PDF-`).
    Pdf,
    /// ZIP and the formats built on it (docx, xlsx, pptx, odt, apk, ...).
    Zip,
    /// Legacy Office documents (OLE compound files: doc, xls, ppt).
    Ole,
    /// Plain text: no NUL byte in what was read.
    Text,
    /// Anything: `application/octet-stream` makes no claim to check.
    Any,
}

/// A content type a kind accepts, with the file extensions that go with it.
#[derive(Debug, PartialEq, Eq)]
pub struct AcceptedType {
    /// The kind it belongs to.
    pub kind: MediaKind,
    /// The MIME type, lowercase, without parameters.
    pub content_type: &'static str,
    /// File name extensions (lowercase, without the dot) a file of this type may carry.
    pub extensions: &'static [&'static str],
    /// The family its bytes must belong to.
    pub container: Container,
}

macro_rules! accepted {
    ($($kind:ident $content_type:literal [$($extension:literal),*] $container:ident;)*) => {
        &[$(AcceptedType {
            kind: MediaKind::$kind,
            content_type: $content_type,
            extensions: &[$($extension),*],
            container: Container::$container,
        }),*]
    };
}

/// What phones and browsers really send, per kind. Several names of one format are listed
/// because platforms disagree (Android's `audio/x-m4a`, iOS's `audio/mp4`).
pub static ACCEPTED_TYPES: &[AcceptedType] = accepted! {
    Image "image/jpeg" ["jpg", "jpeg"] Jpeg;
    Image "image/png" ["png"] Png;
    Image "image/gif" ["gif"] Gif;
    Image "image/webp" ["webp"] Webp;
    Image "image/heic" ["heic", "heif"] IsoMedia;
    Image "image/heif" ["heif", "heic"] IsoMedia;
    Video "video/mp4" ["mp4", "m4v"] IsoMedia;
    Video "video/quicktime" ["mov", "qt"] IsoMedia;
    Video "video/3gpp" ["3gp", "3gpp"] IsoMedia;
    Video "video/webm" ["webm"] Ebml;
    Audio "audio/mp4" ["m4a", "mp4", "aac"] IsoMedia;
    Audio "audio/x-m4a" ["m4a"] IsoMedia;
    Audio "audio/m4a" ["m4a"] IsoMedia;
    Audio "audio/aac" ["aac", "m4a"] MpegAudio;
    Audio "audio/ogg" ["ogg", "oga", "opus"] Ogg;
    Audio "audio/opus" ["opus", "ogg"] Ogg;
    Audio "audio/amr" ["amr"] Amr;
    Audio "audio/mpeg" ["mp3"] MpegAudio;
    Audio "audio/webm" ["webm", "weba"] Ebml;
    Audio "audio/3gpp" ["3gp", "3gpp"] IsoMedia;
    File "application/pdf" ["pdf"] Pdf;
    File "application/zip" ["zip"] Zip;
    File "application/vnd.openxmlformats-officedocument.wordprocessingml.document" ["docx"] Zip;
    File "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" ["xlsx"] Zip;
    File "application/vnd.openxmlformats-officedocument.presentationml.presentation" ["pptx"] Zip;
    File "application/vnd.oasis.opendocument.text" ["odt"] Zip;
    File "application/vnd.oasis.opendocument.spreadsheet" ["ods"] Zip;
    File "application/msword" ["doc"] Ole;
    File "application/vnd.ms-excel" ["xls"] Ole;
    File "application/vnd.ms-powerpoint" ["ppt"] Ole;
    File "text/plain" ["txt", "log", "md"] Text;
    File "text/csv" ["csv"] Text;
    File "application/octet-stream" [] Any;
};

/// Why an upload request was refused before any URL was handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadRefusal {
    /// The kind is none of image, video, audio, file.
    UnknownKind,
    /// The file name is empty, too long, or holds control characters.
    InvalidFilename(String),
    /// Size 0, or over the kind's limit (`limit` bytes).
    TooLarge {
        /// The kind's limit in bytes.
        limit: u64,
    },
    /// The content type is not one the kind accepts.
    UnsupportedType,
    /// The file name's extension does not go with the content type.
    ExtensionMismatch,
}

/// A validated upload request: what the client declared, checked against the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredUpload {
    /// The kind asked for.
    pub kind: MediaKind,
    /// The display name (never used to build a key).
    pub filename: String,
    /// The accepted type the client claimed.
    pub accepted: &'static AcceptedType,
    /// The declared size in bytes; completion checks the object has exactly this size.
    pub size: u64,
}

/// The accepted type a stored record's kind and content type name, `None` for a pair the
/// rules no longer accept.
pub fn accepted_type(kind: MediaKind, content_type: &str) -> Option<&'static AcceptedType> {
    kind.accepted_types().find(|accepted| accepted.content_type == content_type)
}

/// Checks an upload request against the kind's limit, accepted types and extensions.
pub fn declare_upload(
    kind: &str,
    filename: &str,
    content_type: &str,
    size: u64,
) -> Result<DeclaredUpload, UploadRefusal> {
    let kind = MediaKind::parse(kind).ok_or(UploadRefusal::UnknownKind)?;
    let filename = display_filename(filename)?;
    if size == 0 || size > kind.max_bytes() {
        return Err(UploadRefusal::TooLarge { limit: kind.max_bytes() });
    }
    let content_type = essence(content_type);
    let accepted = accepted_type(kind, &content_type).ok_or(UploadRefusal::UnsupportedType)?;
    if !accepted.extensions.is_empty() {
        let extension = extension(&filename).ok_or(UploadRefusal::ExtensionMismatch)?;
        if !accepted.extensions.contains(&extension.as_str()) {
            return Err(UploadRefusal::ExtensionMismatch);
        }
    }
    Ok(DeclaredUpload { kind, filename, accepted, size })
}

/// The file name a client gave, as a display name only: the last path component (phones and
/// old browsers send `C:\fakepath\...`), trimmed, without control characters, at most
/// `MAX_FILENAME_CHARS` characters.
pub fn display_filename(raw: &str) -> Result<String, UploadRefusal> {
    let name = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    refuse_control_characters(name, Layout::SingleLine, "filename")
        .map_err(|invalid| UploadRefusal::InvalidFilename(invalid.message))?;
    if is_blank(name) || name == "." || name == ".." {
        return Err(UploadRefusal::InvalidFilename("filename must not be blank".into()));
    }
    if name.chars().count() > MAX_FILENAME_CHARS {
        return Err(UploadRefusal::InvalidFilename(format!("filename is longer than {MAX_FILENAME_CHARS} characters")));
    }
    Ok(name.to_owned())
}

/// The lowercase extension of a file name, without the dot; `None` without one.
pub fn extension(filename: &str) -> Option<String> {
    let (stem, extension) = filename.rsplit_once('.')?;
    (!stem.is_empty() && !extension.is_empty()).then(|| extension.to_ascii_lowercase())
}

/// A content type without parameters, lowercase: `Image/JPEG; q=1` is `image/jpeg`.
pub fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// How many leading bytes `matches_container` needs to decide.
pub const SNIFF_BYTES: usize = 64;

/// Whether the first bytes of an object belong to the claimed family.
pub fn matches_container(container: Container, head: &[u8]) -> bool {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    match container {
        Container::Jpeg => at(0, &[0xFF, 0xD8, 0xFF]),
        Container::Png => at(0, b"\x89PNG\r\n\x1a\n"),
        Container::Gif => at(0, b"GIF87a") || at(0, b"GIF89a"),
        Container::Webp => at(0, b"RIFF") && at(8, b"WEBP"),
        // QuickTime files from old cameras may start with `moov`, `mdat`, `wide` or `free`.
        Container::IsoMedia => {
            ["ftyp", "moov", "mdat", "wide", "free", "skip"].iter().any(|atom| at(4, atom.as_bytes()))
        }
        Container::Ebml => at(0, &[0x1A, 0x45, 0xDF, 0xA3]),
        Container::Ogg => at(0, b"OggS"),
        Container::Amr => at(0, b"#!AMR"),
        Container::MpegAudio => at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0),
        Container::Pdf => at(0, b"%PDF-"),
        Container::Zip => at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06"),
        Container::Ole => at(0, &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
        Container::Text => !head.is_empty() && !head.contains(&0),
        Container::Any => true,
    }
}

/// How an upload of `size` bytes goes up: in one PUT, or in `parts` parts of `PART_SIZE`
/// (the last one shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadPlan {
    /// One presigned PUT.
    Single,
    /// A multipart upload.
    Multipart {
        /// How many parts, numbered from 1.
        parts: u32,
    },
}

/// The upload plan for a size.
pub fn upload_plan(size: u64) -> UploadPlan {
    if size <= MULTIPART_THRESHOLD {
        return UploadPlan::Single;
    }
    let parts = size.div_ceil(PART_SIZE);
    UploadPlan::Multipart { parts: u32::try_from(parts).unwrap_or(u32::MAX) }
}

/// The object key of an object the server owns. Clients never name a key: they get URLs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct BlobKey(String);

impl BlobKey {
    /// Where the client uploads: `incoming/{user}/{media}`. What lands here is not trusted.
    pub fn incoming(owner: UserId, media: MediaId) -> BlobKey {
        BlobKey(format!("incoming/{owner}/{media}"))
    }

    /// Where the checked upload is pinned at completion: `originals/{user}/{media}`. Only the
    /// server writes here, so a later PUT to the upload URL cannot change what is served.
    pub fn original(owner: UserId, media: MediaId) -> BlobKey {
        BlobKey(format!("originals/{owner}/{media}"))
    }

    /// A processed variant (thumbnail, poster, transcoded MP4): `variants/{media}/{name}`.
    pub fn variant(media: MediaId, name: &str) -> BlobKey {
        BlobKey(format!("variants/{media}/{name}"))
    }

    /// A key read back from a store that wrote it.
    pub fn from_stored(key: String) -> BlobKey {
        BlobKey(key)
    }

    /// The key as the object store knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_uploads_are_accepted_with_their_extensions() {
        for (kind, filename, content_type) in [
            ("image", "IMG_0001.HEIC", "image/heic"),
            ("image", "photo.jpg", "image/jpeg; charset=binary"),
            ("video", "IMG_0002.MOV", "video/quicktime"),
            ("video", "VID_2026.3gp", "video/3gpp"),
            ("audio", "voice.m4a", "audio/x-m4a"),
            ("audio", "ghi-am.opus", "audio/ogg"),
            ("audio", "note.amr", "audio/amr"),
            ("file", "Hợp đồng.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("file", "setup", "application/octet-stream"),
        ] {
            let declared = declare_upload(kind, filename, content_type, 1000);
            assert!(declared.is_ok(), "{kind} {filename} {content_type}: {declared:?}");
        }
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        assert_eq!(declare_upload("sticker", "a.png", "image/png", 1), Err(UploadRefusal::UnknownKind));
        assert_eq!(declare_upload("image", "a.png", "image/png", 0), Err(UploadRefusal::TooLarge { limit: 10 * MIB }));
        assert_eq!(
            declare_upload("video", "a.mp4", "video/mp4", 50 * MIB + 1),
            Err(UploadRefusal::TooLarge { limit: 50 * MIB })
        );
        assert!(declare_upload("video", "a.mp4", "video/mp4", 50 * MIB).is_ok());
        assert_eq!(declare_upload("image", "a.svg", "image/svg+xml", 10), Err(UploadRefusal::UnsupportedType));
        assert_eq!(declare_upload("image", "a.mp4", "video/mp4", 10), Err(UploadRefusal::UnsupportedType));
        assert_eq!(declare_upload("image", "a.png", "image/jpeg", 10), Err(UploadRefusal::ExtensionMismatch));
        assert_eq!(declare_upload("image", "jpeg", "image/jpeg", 10), Err(UploadRefusal::ExtensionMismatch));
        assert!(matches!(
            declare_upload("file", "a\0.pdf", "application/pdf", 10),
            Err(UploadRefusal::InvalidFilename(_))
        ));
        assert!(matches!(declare_upload("file", "  ", "application/pdf", 10), Err(UploadRefusal::InvalidFilename(_))));
    }

    #[test]
    fn a_filename_is_only_a_display_name() {
        assert_eq!(display_filename("C:\\fakepath\\ảnh.jpg").as_deref(), Ok("ảnh.jpg"));
        assert_eq!(display_filename("../../etc/passwd").as_deref(), Ok("passwd"));
        assert!(display_filename("dir/..").is_err());
        assert!(display_filename(&"a".repeat(256)).is_err());
    }

    #[test]
    fn every_accepted_type_is_lowercase_and_its_extensions_too() {
        for accepted in ACCEPTED_TYPES {
            assert_eq!(accepted.content_type, essence(accepted.content_type));
            assert!(accepted.extensions.iter().all(|e| *e == e.to_ascii_lowercase() && !e.starts_with('.')));
        }
        for kind in MediaKind::ALL {
            assert!(kind.accepted_types().count() > 0, "{kind:?} accepts nothing");
            assert_eq!(MediaKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn magic_bytes_tell_families_apart() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
        let iphone_mov = b"\0\0\0\x14ftypqt  \0\0\0\0qt  ";
        let html = b"<!doctype html><script>alert(1)</script>";
        assert!(matches_container(Container::Jpeg, &jpeg));
        assert!(!matches_container(Container::Jpeg, html));
        assert!(matches_container(Container::IsoMedia, iphone_mov));
        assert!(!matches_container(Container::IsoMedia, &jpeg));
        assert!(matches_container(Container::Webp, b"RIFF\x10\0\0\0WEBPVP8 "));
        assert!(!matches_container(Container::Webp, b"RIFF\x10\0\0\0WAVEfmt "));
        assert!(matches_container(Container::Text, b"xin chao"));
        assert!(!matches_container(Container::Text, b"MZ\x90\0"));
        assert!(!matches_container(Container::Png, b""));
        assert!(matches_container(Container::Any, b""));
    }

    #[test]
    fn large_uploads_go_in_parts() {
        assert_eq!(upload_plan(MULTIPART_THRESHOLD), UploadPlan::Single);
        assert_eq!(upload_plan(MULTIPART_THRESHOLD + 1), UploadPlan::Multipart { parts: 2 });
        assert_eq!(upload_plan(50 * MIB), UploadPlan::Multipart { parts: 7 });
    }

    #[test]
    fn keys_are_made_by_the_server() {
        let (user, media) = (UserId(uuid::Uuid::nil()), MediaId(uuid::Uuid::max()));
        assert!(BlobKey::incoming(user, media).as_str().starts_with("incoming/00000000-"));
        assert!(BlobKey::original(user, media).as_str().starts_with("originals/"));
        assert_eq!(BlobKey::variant(media, "thumb_320").as_str(), format!("variants/{media}/thumb_320"));
    }
}
