//! Requesting an upload, resuming it, and completing it: the checks that decide whether what
//! arrived is what was declared, and the pinning that makes it what will be served.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::event::{Delivery, Event};
use crate::domain::ids::MediaId;
use crate::domain::job::JobTask;
use crate::domain::media::{
    BlobKey, Media, MediaKind, MediaStatus, NewMedia, PART_SIZE, SNIFF_BYTES, UploadPlan, UploadRefusal, UploadTarget,
    accepted_type, declare_upload, matches_container, upload_plan, upload_window, url_lifetime,
};
use crate::domain::rate_limit::RateLimitKey;
use crate::domain::{DateTime, Utc};
use crate::ports::{
    CompleteOutcome, CopyOutcome, CreateMediaOutcome, PartEtag, SignedRequest, StoredPart, UploadedOutcome,
};

use super::super::access::{WhenUnavailable, publish, rate_check};
use super::super::errors::MediaError;
use super::super::{Actor, Deps};

/// What a client declares before uploading.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestUpload {
    /// `image`, `video`, `audio` (voice messages) or `file`.
    pub kind: String,
    /// The file's name, shown to recipients; never part of a storage key.
    pub filename: String,
    /// The MIME type; must be one the kind accepts, and match the file name's extension.
    pub content_type: String,
    /// The exact size in bytes.
    pub size: u64,
}

/// One part of a multipart upload: PUT exactly its bytes to its URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartUpload {
    /// The part number, from 1; bytes `(number - 1) * part_size` onwards.
    pub number: u32,
    /// Always `PUT`.
    pub method: &'static str,
    /// The presigned URL.
    pub url: String,
    /// Headers to send exactly so.
    pub headers: BTreeMap<String, String>,
}

/// A part the store already holds, for a client that lost track of its ETags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadedPart {
    /// The part number, from 1.
    pub number: u32,
    /// The ETag the store gave it; pass it back at completion.
    pub etag: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
}

/// How to upload: one PUT, or the parts of a multipart upload still missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum UploadInstructions {
    /// Up to 8 MiB: one PUT of the whole file.
    Single {
        /// Always `PUT`.
        method: &'static str,
        /// The presigned URL.
        url: String,
        /// Headers to send exactly so (`content-type`; the length the URL is bound to is the
        /// declared size, which any HTTP client sends for a body of that size).
        headers: BTreeMap<String, String>,
        /// When the URL stops working (ask `GET /media/{id}/upload` for a fresh one).
        expires_at: DateTime<Utc>,
    },
    /// Above 8 MiB: parts of `part_size` bytes (the last one shorter).
    Multipart {
        /// Every part's size but the last.
        part_size: u64,
        /// The parts still to upload, with their URLs.
        parts: Vec<PartUpload>,
        /// The parts already uploaded.
        uploaded_parts: Vec<UploadedPart>,
        /// When these URLs stop working.
        expires_at: DateTime<Utc>,
    },
}

/// A new media record and how to upload its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadGrant {
    /// The record, `pending` until completed.
    pub media: Media,
    /// Where and how to PUT the bytes.
    pub upload: UploadInstructions,
}

/// What completing an upload sends: for a multipart upload, the ETag of every part (optional:
/// without it the server completes with the parts it holds).
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteUpload {
    /// The parts of a multipart upload, in any order.
    #[serde(default)]
    pub parts: Option<Vec<UploadedPart>>,
}

/// Validates the declaration, reserves its size against the caller's quota, and hands out
/// presigned upload URLs (valid 5 minutes) to a key only the server names.
pub async fn request_upload(deps: &Deps, actor: Actor, request: RequestUpload) -> Result<UploadGrant, MediaError> {
    let declared =
        declare_upload(&request.kind, &request.filename, &request.content_type, request.size).map_err(refused)?;
    if matches!(declared.kind, MediaKind::Video | MediaKind::Audio) && !deps.limits.av_processing {
        return Err(MediaError::ProcessingUnavailable);
    }
    rate_check(
        deps,
        &RateLimitKey::upload_requests(actor.user_id),
        deps.limits.upload_requests,
        WhenUnavailable::Refuse,
    )
    .await?
    .map_err(|retry_after_ms| MediaError::RateLimited { retry_after_ms })?;
    let id = MediaId(deps.ids.new_id());
    let key = BlobKey::incoming(actor.user_id, id);
    let content_type = declared.accepted.content_type;
    let upload = match upload_plan(declared.size) {
        UploadPlan::Single => UploadTarget::Single,
        UploadPlan::Multipart { parts } => {
            UploadTarget::Multipart { upload_id: deps.blobs.create_multipart(&key, content_type).await?, parts }
        }
    };
    let now = deps.clock.now();
    let new = NewMedia {
        id,
        owner_id: actor.user_id,
        kind: declared.kind,
        content_type: content_type.to_owned(),
        filename: declared.filename,
        size: declared.size,
        upload: upload.clone(),
        created_at: now,
        upload_expires_at: now + upload_window(),
    };
    let media = match deps.media.create_media(new, deps.limits.media_quota_bytes).await {
        Ok(CreateMediaOutcome::Created(media)) => media,
        Ok(CreateMediaOutcome::OverQuota { .. }) => {
            abandon_multipart(deps, &key, &upload).await;
            return Err(MediaError::QuotaExceeded);
        }
        Err(error) => {
            abandon_multipart(deps, &key, &upload).await;
            return Err(error.into());
        }
    };
    let upload = instructions(deps, &media, &[])?;
    Ok(UploadGrant { media, upload })
}

/// Fresh URLs for an upload still pending: the whole PUT again, or only the parts the store
/// does not hold yet (a phone that lost its network resumes instead of starting over).
pub async fn resume_upload(deps: &Deps, actor: Actor, id: MediaId) -> Result<UploadGrant, MediaError> {
    let media = pending_upload(deps, actor, id).await?;
    let held = match &media.upload {
        UploadTarget::Single => Vec::new(),
        UploadTarget::Multipart { upload_id, .. } => deps
            .blobs
            .list_parts(&BlobKey::incoming(media.owner_id, media.id), upload_id)
            .await?
            .ok_or(MediaError::UploadExpired)?,
    };
    let upload = instructions(deps, &media, &held)?;
    Ok(UploadGrant { media, upload })
}

/// Checks what arrived and pins it: the object exists with exactly the declared size, its first
/// bytes belong to the declared type, and it is copied (only if unchanged since the check) to
/// a key only the server writes, which is what will be served. A mismatch deletes the object
/// and the record (the reservation is released) and says why.
pub async fn complete(deps: &Deps, actor: Actor, id: MediaId, command: CompleteUpload) -> Result<Media, MediaError> {
    let media = pending_upload(deps, actor, id).await?;
    rate_check(
        deps,
        &RateLimitKey::upload_completions(actor.user_id),
        deps.limits.upload_completions,
        WhenUnavailable::Refuse,
    )
    .await?
    .map_err(|retry_after_ms| MediaError::RateLimited { retry_after_ms })?;
    let incoming = BlobKey::incoming(media.owner_id, media.id);
    if let UploadTarget::Multipart { upload_id, .. } = &media.upload {
        join_parts(deps, &incoming, upload_id, command.parts).await?;
    }
    let info = deps.blobs.head(&incoming).await?.ok_or(MediaError::NotUploaded)?;
    if info.size != media.size {
        discard(deps, &media).await?;
        return Err(MediaError::SizeMismatch);
    }
    let head = deps.blobs.read_prefix(&incoming, SNIFF_BYTES).await?.ok_or(MediaError::NotUploaded)?;
    let accepted = accepted_type(media.kind, &media.content_type).ok_or(MediaError::UnsupportedType)?;
    if !matches_container(accepted.container, &head) {
        discard(deps, &media).await?;
        return Err(MediaError::ContentMismatch);
    }
    let original = BlobKey::original(media.owner_id, media.id);
    let pinned = match deps.blobs.copy_if_match(&incoming, &original, &info.etag).await? {
        CopyOutcome::Copied(pinned) => pinned,
        CopyOutcome::SourceChanged => return Err(MediaError::UploadChanged),
        CopyOutcome::SourceMissing => return Err(MediaError::NotUploaded),
    };
    let media = match deps.media.mark_uploaded(media.id, &pinned.etag, deps.clock.now()).await? {
        Some(UploadedOutcome::Marked(media)) => media,
        Some(UploadedOutcome::NotPending(_)) => return Err(MediaError::AlreadyCompleted),
        None => return Err(MediaError::MediaNotFound),
    };
    // The pinned copy is what counts now; the upload key would only hold a second copy.
    if let Err(error) = deps.blobs.delete(&incoming).await {
        tracing::warn!(%error, media = %media.id, "incoming object not deleted; cleanup will");
    }
    // Told before the job is queued, so that `uploaded` never follows a fast worker's
    // `processing`. Queued after the record says `uploaded`: a worker that takes it at once
    // finds it so. A job lost here (the queue down) is queued again by the periodic cleanup
    // and at a worker's start, which re-enqueue media left `uploaded`.
    let event = Event::MediaProgress { media_id: media.id, status: MediaStatus::Uploaded, percent: None };
    publish(deps, Delivery { recipients: vec![media.owner_id], except_session: None, only_session: None, event }).await;
    if let Err(error) = deps.jobs.enqueue(JobTask::ProcessMedia(media.id)).await {
        tracing::warn!(%error, media = %media.id, "processing job not queued; the cleanup pass will queue it");
    }
    Ok(media)
}

/// The caller's own media, still pending and inside its upload window.
async fn pending_upload(deps: &Deps, actor: Actor, id: MediaId) -> Result<Media, MediaError> {
    let media = deps.media.media(id).await?.filter(|media| media.owner_id == actor.user_id);
    let media = media.ok_or(MediaError::MediaNotFound)?;
    if media.status != MediaStatus::Pending {
        return Err(MediaError::AlreadyCompleted);
    }
    if deps.clock.now() >= media.upload_expires_at {
        return Err(MediaError::UploadExpired);
    }
    Ok(media)
}

/// Joins a multipart upload's parts, with the client's ETags or else the parts the store holds.
/// An upload the store no longer knows was joined by an earlier attempt: the object decides.
async fn join_parts(
    deps: &Deps,
    key: &BlobKey,
    upload_id: &crate::domain::media::MultipartId,
    claimed: Option<Vec<UploadedPart>>,
) -> Result<(), MediaError> {
    let parts: Vec<PartEtag> = match claimed {
        Some(parts) => parts.into_iter().map(|part| PartEtag { number: part.number, etag: part.etag }).collect(),
        None => match deps.blobs.list_parts(key, upload_id).await? {
            Some(held) if held.is_empty() => return Err(MediaError::NotUploaded),
            Some(held) => held.into_iter().map(|part| PartEtag { number: part.number, etag: part.etag }).collect(),
            None => return Ok(()),
        },
    };
    let mut parts = parts;
    parts.sort_by_key(|part| part.number);
    match deps.blobs.complete_multipart(key, upload_id, &parts).await? {
        CompleteOutcome::Completed => Ok(()),
        CompleteOutcome::Refused(why) => {
            tracing::debug!(%why, "multipart completion refused");
            Err(MediaError::InvalidParts)
        }
    }
}

/// Deletes a refused upload: the object, then the record (which releases the reservation).
async fn discard(deps: &Deps, media: &Media) -> Result<(), MediaError> {
    deps.blobs.delete(&BlobKey::incoming(media.owner_id, media.id)).await?;
    deps.media.delete_unattached(media.id).await?;
    Ok(())
}

/// Best effort: a multipart upload made for a record that was not stored.
async fn abandon_multipart(deps: &Deps, key: &BlobKey, upload: &UploadTarget) {
    if let UploadTarget::Multipart { upload_id, .. } = upload
        && let Err(error) = deps.blobs.abort_multipart(key, upload_id).await
    {
        tracing::warn!(%error, %key, "multipart upload not aborted; cleanup will");
    }
}

/// Presigned URLs for what is still to upload (`held`: parts the store has).
fn instructions(deps: &Deps, media: &Media, held: &[StoredPart]) -> Result<UploadInstructions, MediaError> {
    let key = BlobKey::incoming(media.owner_id, media.id);
    let now = deps.clock.now();
    let ttl = url_lifetime();
    match &media.upload {
        UploadTarget::Single => {
            let signed = deps.blobs.presign_put(&key, &media.content_type, media.size, now, ttl)?;
            Ok(UploadInstructions::Single {
                method: "PUT",
                headers: headers(&signed),
                url: signed.url,
                expires_at: signed.expires_at,
            })
        }
        UploadTarget::Multipart { upload_id, parts } => {
            let mut urls = Vec::new();
            for number in 1..=*parts {
                if held.iter().any(|part| part.number == number) {
                    continue;
                }
                let size = part_size(media.size, number);
                let signed = deps.blobs.presign_part(&key, upload_id, number, size, now, ttl)?;
                urls.push(PartUpload { number, method: "PUT", headers: headers(&signed), url: signed.url });
            }
            let uploaded_parts = held
                .iter()
                .map(|part| UploadedPart { number: part.number, etag: part.etag.clone(), size: part.size })
                .collect();
            Ok(UploadInstructions::Multipart {
                part_size: PART_SIZE,
                parts: urls,
                uploaded_parts,
                expires_at: now + ttl,
            })
        }
    }
}

/// The size of part `number` of an upload of `size` bytes.
fn part_size(size: u64, number: u32) -> u64 {
    let start = u64::from(number - 1) * PART_SIZE;
    size.saturating_sub(start).min(PART_SIZE)
}

fn headers(signed: &SignedRequest) -> BTreeMap<String, String> {
    signed.headers.iter().cloned().collect()
}

fn refused(refusal: UploadRefusal) -> MediaError {
    match refusal {
        UploadRefusal::UnknownKind => MediaError::UnknownKind,
        UploadRefusal::InvalidFilename(message) => {
            MediaError::Invalid(crate::domain::error::Invalid::new("invalid_filename", message))
        }
        UploadRefusal::TooLarge { .. } => MediaError::TooLarge,
        UploadRefusal::UnsupportedType | UploadRefusal::ExtensionMismatch => MediaError::UnsupportedType,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::media::MIB;

    #[test]
    fn parts_cover_the_file_exactly() {
        let size = 50 * MIB;
        let total: u64 = (1..=7).map(|number| part_size(size, number)).sum();
        assert_eq!(total, size);
        assert_eq!(part_size(size, 7), 2 * MIB);
        assert_eq!(part_size(9 * MIB, 2), MIB);
    }
}
