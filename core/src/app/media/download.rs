//! Who may see a media item, its record, the redirect to its bytes, and storage usage.

use serde::Serialize;

use crate::domain::ids::MediaId;
use crate::domain::ids::UserId;
use crate::domain::media::{BlobKey, FULL_VARIANT, KindUsage, Media, MediaKind, MediaStatus, url_lifetime};
use crate::ports::DownloadAs;

use super::super::access::membership;
use super::super::errors::MediaError;
use super::super::{Actor, Deps};

/// The variant `content` serves when none is named: the pinned upload.
pub const ORIGINAL: &str = "original";

/// Where to fetch the bytes: a signed URL valid for at most 5 minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentRedirect {
    /// The signed URL (a CDN, the object store, or the embedded blob endpoint).
    pub url: String,
}

/// A user's storage: what they use and what they may.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageView {
    /// Bytes used, uploads in progress included (their size is reserved when they start).
    pub used_bytes: u64,
    /// Bytes allowed.
    pub quota_bytes: u64,
    /// Per kind of media.
    pub by_kind: Vec<KindUsage>,
}

/// The record of a media item the caller may see.
pub async fn media(deps: &Deps, actor: Actor, id: MediaId) -> Result<Media, MediaError> {
    visible_media(deps, actor, id).await
}

/// A short-lived signed URL for a variant (`original` unless named) of a media item the caller
/// may see. Files are served as attachments (`Content-Disposition: attachment`, and with the
/// declared content type), never inline, so an HTML file cannot run in the browser that opens
/// it; the embedded endpoint adds `X-Content-Type-Options: nosniff` (S3 cannot be asked to;
/// a CloudFront response-headers policy can).
pub async fn content(
    deps: &Deps,
    actor: Actor,
    id: MediaId,
    variant: Option<&str>,
) -> Result<ContentRedirect, MediaError> {
    let media = visible_media(deps, actor, id).await?;
    let (key, content_type) = served_object(&media, actor.user_id, variant.unwrap_or(ORIGINAL))?;
    let filename = served_filename(&media.filename, &content_type);
    let download = DownloadAs { content_type, filename, attachment: media.kind == MediaKind::File };
    let signed = deps.blobs.presign_get(&key, &download, deps.clock.now(), url_lifetime())?;
    Ok(ContentRedirect { url: signed.url })
}

/// The object a request for `variant` gets. Nothing reaches anyone but the owner before it is
/// `ready` (the owner may fetch the upload itself meanwhile). Once ready, images, videos and
/// voice messages are served only as processed (upright, without metadata such as GPS, in a
/// format every phone plays): `original` means the processed full version; files, which are
/// scanned rather than processed, are served as uploaded.
fn served_object(media: &Media, caller: UserId, variant: &str) -> Result<(BlobKey, String), MediaError> {
    let original = || (BlobKey::original(media.owner_id, media.id), media.content_type.clone());
    match media.status {
        MediaStatus::Pending => return Err(MediaError::NotUploaded),
        MediaStatus::Failed => return Err(MediaError::MediaFailedProcessing),
        MediaStatus::Uploaded | MediaStatus::Processing if caller == media.owner_id && variant == ORIGINAL => {
            return Ok(original());
        }
        MediaStatus::Uploaded | MediaStatus::Processing => return Err(MediaError::NotReady),
        MediaStatus::Ready => {}
    }
    let wanted = match (variant, processed_default(media.kind)) {
        (ORIGINAL, None) => return Ok(original()),
        (ORIGINAL, Some(processed)) => processed,
        (named, _) => named,
    };
    let found = media.variants.iter().find(|candidate| candidate.name == wanted).ok_or(MediaError::VariantNotFound)?;
    Ok((BlobKey::variant(media.id, &found.name), found.content_type.clone()))
}

/// The variant that stands for the whole media item once processed; `None` for files.
fn processed_default(kind: MediaKind) -> Option<&'static str> {
    match kind {
        MediaKind::Image => Some(FULL_VARIANT),
        MediaKind::Video => Some("mp4"),
        MediaKind::Audio => Some("m4a"),
        MediaKind::File => None,
    }
}

/// The display name with the extension of what is served: a processed `clip.webm` saves as
/// `clip.mp4`, an iPhone's `IMG_1.HEIC` as `IMG_1.jpg`.
fn served_filename(filename: &str, content_type: &str) -> String {
    let extension = match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "video/mp4" => "mp4",
        "audio/mp4" => "m4a",
        _ => return filename.to_owned(),
    };
    let stem = filename.rsplit_once('.').map_or(filename, |(stem, _)| stem);
    if crate::domain::media::extension(filename).as_deref() == Some(extension) || stem.is_empty() {
        return filename.to_owned();
    }
    format!("{stem}.{extension}")
}

/// What the caller stores and may store.
pub async fn storage(deps: &Deps, actor: Actor) -> Result<StorageView, MediaError> {
    let usage = deps.media.usage(actor.user_id).await?;
    Ok(StorageView { used_bytes: usage.bytes, quota_bytes: deps.limits.media_quota_bytes, by_kind: usage.by_kind })
}

/// A media item the caller may see: their own, or attached to a message in a conversation they
/// are a member of now (as the message itself). Anything else is "not found", like a media
/// item that does not exist.
pub(crate) async fn visible_media(deps: &Deps, actor: Actor, id: MediaId) -> Result<Media, MediaError> {
    let media = deps.media.media(id).await?.ok_or(MediaError::MediaNotFound)?;
    if media.owner_id == actor.user_id {
        return Ok(media);
    }
    for conversation in deps.media.attached_conversations(id).await? {
        if membership(deps, conversation, actor.user_id).await?.is_some() {
            return Ok(media);
        }
    }
    // A profile's avatar is seen by whoever may see the profile: everyone but the blocked.
    if media.kind == MediaKind::Image
        && deps.users.user(media.owner_id).await?.is_some_and(|owner| owner.avatar_media_id == Some(id.0))
        && !deps.social.blocked_between(actor.user_id, media.owner_id).await?
    {
        return Ok(media);
    }
    Err(MediaError::MediaNotFound)
}

#[cfg(test)]
mod tests {
    use super::served_filename;

    #[test]
    fn a_processed_download_is_named_for_what_it_is() {
        assert_eq!(served_filename("clip.webm", "video/mp4"), "clip.mp4");
        assert_eq!(served_filename("IMG_0001.HEIC", "image/jpeg"), "IMG_0001.jpg");
        assert_eq!(served_filename("ảnh.jpg", "image/jpeg"), "ảnh.jpg");
        assert_eq!(served_filename("hợp đồng.pdf", "application/pdf"), "hợp đồng.pdf");
        assert_eq!(served_filename("voice", "audio/mp4"), "voice.m4a");
    }
}
