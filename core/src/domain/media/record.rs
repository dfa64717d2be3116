//! A media record: what was declared, where its upload stands, what processing found, and the
//! view of it a message carries.

use serde::{Deserialize, Serialize};

use super::{MediaKind, MediaStatus};
use crate::domain::ids::{MediaId, UserId};
// Timestamps are spelled `DateTime<Utc>` where OpenAPI schemas are derived: utoipa knows
// chrono's type by that name only.
use crate::domain::{DateTime, Duration, Timestamp, Utc};

/// How long an upload may stay incomplete: its presigned URLs last minutes and are renewed
/// (`GET /media/{id}/upload`), but a phone that lost its network may come back hours later.
/// After this the upload is aborted and its quota reservation released.
pub fn upload_window() -> Duration {
    Duration::hours(24)
}

/// How long a presigned upload or download URL is valid.
pub fn url_lifetime() -> Duration {
    Duration::minutes(5)
}

/// Media never attached to a message are deleted this long after they were created.
pub fn unattached_lifetime() -> Duration {
    Duration::days(7)
}

/// An object store's id of a multipart upload, opaque to the domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MultipartId(String);

impl MultipartId {
    /// An id read back from the store (or the record) that made it.
    pub fn from_stored(id: String) -> MultipartId {
        MultipartId(id)
    }

    /// The id as the object store knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How the bytes of a media item go up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadTarget {
    /// One presigned PUT to the incoming key.
    Single,
    /// A multipart upload of `parts` parts to the incoming key.
    Multipart {
        /// The store's id of the upload.
        upload_id: MultipartId,
        /// How many parts (see `upload_plan`).
        parts: u32,
    },
}

/// A processed rendition of a media item (made by the media worker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Variant {
    /// `thumb_320`, `thumb_1280`, `poster` or `mp4`.
    pub name: String,
    /// Its content type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its width in pixels, for images and videos.
    pub width: Option<u32>,
    /// Its height in pixels, for images and videos.
    pub height: Option<u32>,
}

/// A media record before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMedia {
    /// The media.
    pub id: MediaId,
    /// Who uploads it; only they may attach it.
    pub owner_id: UserId,
    /// Image, video, audio or file.
    pub kind: MediaKind,
    /// The declared content type (an accepted one, lowercase, no parameters).
    pub content_type: String,
    /// The display name.
    pub filename: String,
    /// The declared size in bytes, reserved against the owner's quota.
    pub size: u64,
    /// How the bytes go up.
    pub upload: UploadTarget,
    /// When it was requested.
    pub created_at: Timestamp,
    /// When an incomplete upload is abandoned.
    pub upload_expires_at: Timestamp,
}

/// A stored media record.

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Media {
    /// The media.
    pub id: MediaId,
    /// Who uploaded it.
    pub owner_id: UserId,
    /// Image, video, audio or file.
    pub kind: MediaKind,
    /// Where it is in its life.
    pub status: MediaStatus,
    /// The declared content type, checked against the bytes at completion.
    pub content_type: String,
    /// The display name; never part of a key.
    pub filename: String,
    /// The size in bytes.
    pub size: u64,
    /// Pixels across, once known.
    pub width: Option<u32>,
    /// Pixels down, once known.
    pub height: Option<u32>,
    /// Length of a video or voice message in milliseconds, once known.
    pub duration_ms: Option<u64>,
    /// Processed renditions, once made.
    pub variants: Vec<Variant>,
    /// A voice message's loudness over its length (64 peaks, 0-255), so clients draw it
    /// without downloading the file.
    pub waveform: Option<Vec<u8>>,
    /// Why processing refused it (a stable code: `content_mismatch`, `too_long`,
    /// `malware_detected`, ...), once `failed`.
    pub failure_reason: Option<String>,
    /// How the bytes go up (internal: clients get URLs, not upload ids).
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub upload: UploadTarget,
    /// The ETag of the object checked at completion: what was validated is what is served.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub etag: Option<String>,
    /// When the upload was requested.
    pub created_at: DateTime<Utc>,
    /// Until when an incomplete upload may be completed.
    pub upload_expires_at: DateTime<Utc>,
    /// When the upload was completed and checked.
    pub uploaded_at: Option<DateTime<Utc>>,
    /// When it was first attached to a message (media never attached are cleaned up).
    pub attached_at: Option<DateTime<Utc>>,
}

impl Media {
    /// The record of a new upload, as a store writes it.
    pub fn new(new: NewMedia) -> Media {
        Media {
            id: new.id,
            owner_id: new.owner_id,
            kind: new.kind,
            status: MediaStatus::Pending,
            content_type: new.content_type,
            filename: new.filename,
            size: new.size,
            width: None,
            height: None,
            duration_ms: None,
            variants: Vec::new(),
            waveform: None,
            failure_reason: None,
            upload: new.upload,
            etag: None,
            created_at: new.created_at,
            upload_expires_at: new.upload_expires_at,
            uploaded_at: None,
            attached_at: None,
        }
    }
}

/// Media as a message carries it: enough for a client to draw a placeholder of the right
/// size and to ask for the variant it needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// The media (download it with `GET /api/v1/media/{id}/content?variant=`).
    pub id: MediaId,
    /// Image, video, audio or file.
    pub kind: MediaKind,
    /// Recipients show a placeholder until `ready`.
    pub status: MediaStatus,
    /// The content type.
    pub content_type: String,
    /// The size in bytes.
    pub size: u64,
    /// The display name.
    pub filename: String,
    /// Pixels across, once known.
    pub width: Option<u32>,
    /// Pixels down, once known.
    pub height: Option<u32>,
    /// Length in milliseconds, once known.
    pub duration_ms: Option<u64>,
    /// The names of the variants ready to download.
    pub variants: Vec<String>,
    /// A voice message's waveform (64 peaks, 0-255), once processed.
    #[serde(default)]
    pub waveform: Option<Vec<u8>>,
}

impl From<&Media> for Attachment {
    fn from(media: &Media) -> Self {
        Attachment {
            id: media.id,
            kind: media.kind,
            status: media.status,
            content_type: media.content_type.clone(),
            size: media.size,
            filename: media.filename.clone(),
            width: media.width,
            height: media.height,
            duration_ms: media.duration_ms,
            variants: media.variants.iter().map(|variant| variant.name.clone()).collect(),
            waveform: media.waveform.clone(),
        }
    }
}

/// Bytes and items stored by one user of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindUsage {
    /// The kind.
    pub kind: MediaKind,
    /// How many media records (pending ones included: they hold a reservation).
    pub count: u64,
    /// Their declared sizes, summed.
    pub bytes: u64,
}

/// What a user stores, kept up to date as records come and go (never by scanning).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageUsage {
    /// All bytes, pending reservations included.
    pub bytes: u64,
    /// Per kind, only kinds with records.
    pub by_kind: Vec<KindUsage>,
}

/// What processing made of a media item, stored when it becomes `ready`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Processed {
    /// Pixels across (images and videos).
    pub width: Option<u32>,
    /// Pixels down (images and videos).
    pub height: Option<u32>,
    /// Length in milliseconds (videos and voice messages).
    pub duration_ms: Option<u64>,
    /// The renditions made, each stored under `BlobKey::variant`.
    pub variants: Vec<Variant>,
    /// A voice message's waveform.
    pub waveform: Option<Vec<u8>>,
}

/// A step in a media item's processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaTransition {
    /// A worker took it: `uploaded` (or `processing`, a retry) → `processing`.
    StartProcessing,
    /// Done: `uploaded` or `processing` → `ready`, with what was made. Set once.
    Ready(Processed),
    /// Refused: `uploaded` or `processing` → `failed`, with a stable reason code. Set once.
    Failed {
        /// Why, e.g. `too_long`.
        reason: String,
    },
    /// An operator's second chance after the queue gave up (`processing_failed`): `failed` →
    /// `uploaded`, the reason cleared.
    Reopen,
}

impl MediaTransition {
    /// Whether the step may be taken from `status`.
    pub fn allowed_from(&self, status: super::MediaStatus) -> bool {
        use super::MediaStatus::{Failed, Processing, Uploaded};
        match self {
            MediaTransition::Reopen => status == Failed,
            _ => matches!(status, Uploaded | Processing),
        }
    }

    /// Applies the step to a record (for stores that keep records whole).
    pub fn apply(self, media: &mut Media) {
        match self {
            MediaTransition::StartProcessing => media.status = super::MediaStatus::Processing,
            MediaTransition::Ready(processed) => {
                media.status = super::MediaStatus::Ready;
                media.width = processed.width;
                media.height = processed.height;
                media.duration_ms = processed.duration_ms;
                media.variants = processed.variants;
                media.waveform = processed.waveform;
            }
            MediaTransition::Failed { reason } => {
                media.status = super::MediaStatus::Failed;
                media.failure_reason = Some(reason);
            }
            MediaTransition::Reopen => {
                media.status = super::MediaStatus::Uploaded;
                media.failure_reason = None;
            }
        }
    }
}
