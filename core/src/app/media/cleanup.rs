//! Cleanup: uploads never completed are aborted and their reservation released once their
//! window closes; media never attached to a message are deleted after 7 days; upload objects
//! nothing refers to any more are swept. Runs on one node at a time (a claim), periodically
//! and from `chatctl media cleanup`.

use serde::Serialize;

use crate::domain::error::PortError;
use crate::domain::ids::MediaId;
use crate::domain::job::JobTask;
use crate::domain::media::{BlobKey, Media, UploadTarget, unattached_lifetime, upload_window};
use crate::domain::{Duration, Timestamp};
use crate::ports::ClaimKey;

use super::super::Deps;

/// The claim that makes one node run the cleanup per interval.
pub const CLEANUP_TASK: &str = "media-cleanup";

/// How many records one pass handles per category: a pass stays short, the next one goes on.
const BATCH: usize = 500;

/// What a cleanup pass did (or, dry, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Uploads whose window closed without completion: aborted and their records deleted.
    pub expired_uploads: Vec<Media>,
    /// Media never attached to a message within 7 days: records and objects deleted.
    pub unattached: Vec<Media>,
    /// Upload objects older than twice the upload window (left by crashes): deleted.
    pub stray_uploads: Vec<BlobKey>,
    /// Media left `uploaded` or `processing` without a live job: queued again.
    pub requeued: Vec<MediaId>,
}

/// Runs one cleanup pass if this node wins the claim for the coming `interval`; `None` when
/// another node has it.
pub async fn cleanup_if_claimed(deps: &Deps, interval: Duration) -> Result<Option<CleanupReport>, PortError> {
    let now = deps.clock.now();
    if !deps.claims.claim(&ClaimKey::task(CLEANUP_TASK), now + interval, now).await? {
        return Ok(None);
    }
    cleanup(deps, now, false).await.map(Some)
}

/// One cleanup pass at `now`; with `dry_run` it only reports what it would delete.
pub async fn cleanup(deps: &Deps, now: Timestamp, dry_run: bool) -> Result<CleanupReport, PortError> {
    let mut report = CleanupReport::default();
    for media in deps.media.expired_uploads(now, BATCH).await? {
        if dry_run || remove(deps, &media).await? {
            report.expired_uploads.push(media);
        }
    }
    for media in deps.media.unattached_before(now - unattached_lifetime(), BATCH).await? {
        if dry_run || remove(deps, &media).await? {
            report.unattached.push(media);
        }
    }
    // Media whose processing job was lost (the queue was down when they completed) get one
    // again; the queue keeps one live job per media, so the others are left as they are.
    for media in deps.media.unfinished(BATCH).await? {
        if !dry_run && deps.jobs.enqueue(JobTask::ProcessMedia(media.id)).await? {
            report.requeued.push(media.id);
        }
    }
    let stray_before = now - upload_window() - upload_window();
    for listed in deps.blobs.list_older_than("incoming/", stray_before, BATCH).await? {
        if !dry_run {
            deps.blobs.delete(&listed.key).await?;
        }
        report.stray_uploads.push(listed.key);
    }
    Ok(report)
}

/// Deletes a record (unless a message took it meanwhile) and then its objects. The record goes
/// first, so nothing points at a deleted object; an object left by a failure here is swept
/// by a later pass (uploads) or stays unreferenced (a cost, not a leak of access).
async fn remove(deps: &Deps, media: &Media) -> Result<bool, PortError> {
    if deps.media.delete_unattached(media.id).await?.is_none() {
        return Ok(false);
    }
    let incoming = BlobKey::incoming(media.owner_id, media.id);
    if let UploadTarget::Multipart { upload_id, .. } = &media.upload {
        deps.blobs.abort_multipart(&incoming, upload_id).await?;
    }
    deps.blobs.delete(&incoming).await?;
    deps.blobs.delete(&BlobKey::original(media.owner_id, media.id)).await?;
    for variant in &media.variants {
        deps.blobs.delete(&BlobKey::variant(media.id, &variant.name)).await?;
    }
    Ok(true)
}
