//! Storage of media records, their attachments to messages, and each user's usage counters.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::ids::{ConversationId, MediaId, MessageId, UserId};
use crate::domain::media::{Media, MediaTransition, NewMedia, StorageUsage};

/// What storing a new media record did.
#[derive(Clone, Debug, PartialEq, Eq)]
// Made once per upload request and taken apart at once: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum CreateMediaOutcome {
    /// Stored, with its size reserved against the owner's quota.
    Created(Media),
    /// Storing it would take the owner past the quota; nothing was stored.
    OverQuota {
        /// What the owner uses now, reservations included.
        used: u64,
    },
}

/// What marking a pending upload as uploaded did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadedOutcome {
    /// It was pending and is `uploaded` now.
    Marked(Media),
    /// It was not pending (completed already, processed, failed): unchanged.
    NotPending(Media),
}

/// What a processing step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransitionOutcome {
    /// Taken; the record as it is now.
    Applied(Media),
    /// Not allowed from the record's status (already `ready` or `failed`, or still
    /// `pending`): unchanged, as it is.
    Refused(Media),
}

/// Storage of media records. Usage counters (per owner and kind) change in the same step as
/// the records they count, so quotas and the dashboard never need a scan.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait MediaRepo: Send + Sync {
    /// Stores a `pending` record and reserves its size, atomically and only if the owner's
    /// usage plus the size stays within `quota_bytes` (also under concurrent requests).
    async fn create_media(&self, media: NewMedia, quota_bytes: u64) -> Result<CreateMediaOutcome, PortError>;
    /// One record.
    async fn media(&self, id: MediaId) -> Result<Option<Media>, PortError>;
    /// The records among `ids` that exist, in any order.
    async fn media_batch(&self, ids: &[MediaId]) -> Result<Vec<Media>, PortError>;
    /// Moves a `pending` record to `uploaded`, pinning the ETag of the object that was checked.
    /// `None` if there is no such record.
    async fn mark_uploaded(&self, id: MediaId, etag: &str, at: Timestamp)
    -> Result<Option<UploadedOutcome>, PortError>;
    /// Records that `media` are attached to `message` in `conversation`, and stamps each
    /// record's `attached_at` if it had none. Idempotent: attaching again changes nothing.
    /// Media that no longer exist (deleted by cleanup after the send checked them) are
    /// skipped: the message is stored already, and shows what still exists.
    async fn attach(
        &self,
        media: &[MediaId],
        conversation: ConversationId,
        message: MessageId,
        at: Timestamp,
    ) -> Result<(), PortError>;
    /// Takes a processing step (see `MediaTransition`) atomically: only from a status that
    /// allows it, so `ready` and `failed` are set once even when two workers finish the same
    /// job. `None` if there is no such record.
    async fn transition(&self, id: MediaId, step: MediaTransition) -> Result<Option<TransitionOutcome>, PortError>;
    /// Up to `limit` records `uploaded` or `processing`, oldest upload first: what a worker
    /// starting up re-enqueues when their jobs are gone.
    async fn unfinished(&self, limit: usize) -> Result<Vec<Media>, PortError>;
    /// Marks a media item as in use outside messages (a profile avatar): stamps `attached_at`
    /// if it had none, so cleanup keeps it. Returns the record; `None` if there is none.
    async fn keep(&self, id: MediaId, at: Timestamp) -> Result<Option<Media>, PortError>;
    /// Removes `media`'s attachments to `message` (it was recalled): the members of its
    /// conversation no longer see them through it. `attached_at` stays, so a media item once
    /// sent is not taken by the cleanup of media never attached. Unknown ids are fine.
    async fn detach_message(&self, media: &[MediaId], message: MessageId) -> Result<(), PortError>;
    /// The conversations where a media item is attached.
    async fn attached_conversations(&self, id: MediaId) -> Result<Vec<ConversationId>, PortError>;
    /// What a user stores.
    async fn usage(&self, owner: UserId) -> Result<StorageUsage, PortError>;
    /// Up to `limit` records still `pending` whose upload window closed at or before `now`,
    /// oldest first.
    async fn expired_uploads(&self, now: Timestamp, limit: usize) -> Result<Vec<Media>, PortError>;
    /// Up to `limit` records never attached to a message and created at or before `cutoff`,
    /// oldest first (any status but `pending`: expired uploads are cleaned up on their own).
    async fn unattached_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Media>, PortError>;
    /// Deletes a record that is not attached to any message and releases its usage, in one
    /// step; returns it. `None` if there is no such record or it is attached (a message sent
    /// meanwhile keeps its media).
    async fn delete_unattached(&self, id: MediaId) -> Result<Option<Media>, PortError>;
}
