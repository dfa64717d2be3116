//! The `media` row and its conversion to and from the domain's record.

use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{MediaId, UserId};
use chat_core::domain::media::{Media, MediaKind, MediaStatus, MultipartId, NewMedia, UploadTarget, Variant};
use diesel::prelude::*;

use crate::error::corrupt;
use crate::schema::media;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = media, check_for_backend(diesel::pg::Pg))]
pub struct MediaRow {
    pub id: uuid::Uuid,
    pub owner_id: uuid::Uuid,
    pub kind: String,
    pub status: String,
    pub content_type: String,
    pub filename: String,
    pub size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i64>,
    pub variants: serde_json::Value,
    pub multipart_upload_id: Option<String>,
    pub parts: Option<i32>,
    pub etag: Option<String>,
    pub created_at: Timestamp,
    pub upload_expires_at: Timestamp,
    pub uploaded_at: Option<Timestamp>,
    pub attached_at: Option<Timestamp>,
    pub failure_reason: Option<String>,
    pub waveform: Option<Vec<u8>>,
}

impl MediaRow {
    /// The `pending` row of a new upload.
    pub fn from_new(new: &NewMedia) -> Result<MediaRow, PortError> {
        let (multipart_upload_id, parts) = match &new.upload {
            UploadTarget::Single => (None, None),
            UploadTarget::Multipart { upload_id, parts } => (
                Some(upload_id.as_str().to_owned()),
                Some(i32::try_from(*parts).map_err(|_| out_of_range("part count", parts))?),
            ),
        };
        Ok(MediaRow {
            id: new.id.0,
            owner_id: new.owner_id.0,
            kind: new.kind.as_str().to_owned(),
            status: status_name(MediaStatus::Pending).to_owned(),
            content_type: new.content_type.clone(),
            filename: new.filename.clone(),
            size: bytes_to_i64(new.size)?,
            width: None,
            height: None,
            duration_ms: None,
            variants: serde_json::Value::Array(Vec::new()),
            multipart_upload_id,
            parts,
            etag: None,
            created_at: new.created_at,
            upload_expires_at: new.upload_expires_at,
            uploaded_at: None,
            attached_at: None,
            failure_reason: None,
            waveform: None,
        })
    }

    pub fn into_media(self) -> Result<Media, PortError> {
        let upload = match (self.multipart_upload_id, self.parts) {
            (Some(upload_id), Some(parts)) => UploadTarget::Multipart {
                upload_id: MultipartId::from_stored(upload_id),
                parts: u32::try_from(parts).map_err(|e| corrupt("media part count", e))?,
            },
            (None, None) => UploadTarget::Single,
            _ => return Err(corrupt("media upload", "an upload id without a part count, or the reverse")),
        };
        let pixels = |value: Option<i32>| value.map(u32::try_from).transpose().map_err(|e| corrupt("media pixels", e));
        Ok(Media {
            id: MediaId(self.id),
            owner_id: UserId(self.owner_id),
            kind: MediaKind::parse(&self.kind).ok_or_else(|| corrupt("media kind", &self.kind))?,
            status: parse_status(&self.status)?,
            content_type: self.content_type,
            filename: self.filename,
            size: u64::try_from(self.size).map_err(|e| corrupt("media size", e))?,
            width: pixels(self.width)?,
            height: pixels(self.height)?,
            duration_ms: self.duration_ms.map(u64::try_from).transpose().map_err(|e| corrupt("media duration", e))?,
            variants: serde_json::from_value::<Vec<Variant>>(self.variants)
                .map_err(|e| corrupt("media variants", e))?,
            waveform: self.waveform,
            failure_reason: self.failure_reason,
            upload,
            etag: self.etag,
            created_at: self.created_at,
            upload_expires_at: self.upload_expires_at,
            uploaded_at: self.uploaded_at,
            attached_at: self.attached_at,
        })
    }
}

/// The stored name of a status (the `media.status` check lists them).
pub fn status_name(status: MediaStatus) -> &'static str {
    match status {
        MediaStatus::Pending => "pending",
        MediaStatus::Uploaded => "uploaded",
        MediaStatus::Processing => "processing",
        MediaStatus::Ready => "ready",
        MediaStatus::Failed => "failed",
    }
}

fn parse_status(stored: &str) -> Result<MediaStatus, PortError> {
    [MediaStatus::Pending, MediaStatus::Uploaded, MediaStatus::Processing, MediaStatus::Ready, MediaStatus::Failed]
        .into_iter()
        .find(|status| status_name(*status) == stored)
        .ok_or_else(|| corrupt("media status", stored))
}

/// A byte count as the database stores it. Sizes are bounded far below 2^63 by the kinds'
/// limits; one beyond is a caller's bug, refused rather than stored wrong.
pub fn bytes_to_i64(bytes: u64) -> Result<i64, PortError> {
    i64::try_from(bytes).map_err(|_| out_of_range("byte count", bytes))
}

fn out_of_range(what: &str, value: impl std::fmt::Display) -> PortError {
    PortError::Internal(format!("media {what} {value} is out of the stored range"))
}
