//! `MediaRepo` in memory: records, attachments and per-owner usage inside the store's one
//! lock, so a quota check and the reservation it admits are one step, as are a deletion and
//! the release of its bytes.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, MediaId, MessageId, UserId};
use chat_core::domain::media::{KindUsage, Media, MediaKind, MediaStatus, MediaTransition, NewMedia, StorageUsage};
use chat_core::ports::{CreateMediaOutcome, MediaRepo, TransitionOutcome, UploadedOutcome};

use crate::store::MemoryStore;

/// The media's state, kept inside the store's one lock.
#[derive(Default)]
pub(crate) struct MediaState {
    records: HashMap<MediaId, Media>,
    /// The messages (with their conversations) each attached record is attached to.
    attached_in: HashMap<MediaId, BTreeSet<(ConversationId, MessageId)>>,
    /// Records and bytes per owner and kind, kept as records come and go.
    usage: HashMap<UserId, HashMap<MediaKind, KindUsage>>,
}

impl MediaState {
    fn used(&self, owner: UserId) -> u64 {
        self.usage.get(&owner).map_or(0, |kinds| kinds.values().map(|line| line.bytes).sum())
    }

    fn reserve(&mut self, media: &Media) {
        let line = self.usage.entry(media.owner_id).or_default().entry(media.kind).or_insert(KindUsage {
            kind: media.kind,
            count: 0,
            bytes: 0,
        });
        line.count += 1;
        line.bytes += media.size;
    }

    fn release(&mut self, media: &Media) {
        let Some(kinds) = self.usage.get_mut(&media.owner_id) else { return };
        if let Some(line) = kinds.get_mut(&media.kind) {
            line.count = line.count.saturating_sub(1);
            line.bytes = line.bytes.saturating_sub(media.size);
            // Usage lists only kinds with records.
            if line.count == 0 {
                kinds.remove(&media.kind);
            }
        }
        if kinds.is_empty() {
            self.usage.remove(&media.owner_id);
        }
    }

    /// Up to `limit` records that `keep` selects, oldest first.
    fn oldest(&self, limit: usize, keep: impl Fn(&Media) -> bool) -> Vec<Media> {
        let mut found: Vec<&Media> = self.records.values().filter(|media| keep(media)).collect();
        found.sort_by_key(|media| (media.created_at, media.id));
        found.into_iter().take(limit).cloned().collect()
    }
}

#[async_trait]
impl MediaRepo for MemoryStore {
    async fn create_media(&self, new: NewMedia, quota_bytes: u64) -> Result<CreateMediaOutcome, PortError> {
        let mut state = self.state.lock();
        if !state.users.contains_key(&new.owner_id) {
            return Err(PortError::Internal(format!("media owner {} does not exist", new.owner_id)));
        }
        let media = &mut state.media;
        if media.records.contains_key(&new.id) {
            return Err(PortError::Internal(format!("media {} exists already", new.id)));
        }
        let used = media.used(new.owner_id);
        if used.checked_add(new.size).is_none_or(|total| total > quota_bytes) {
            return Ok(CreateMediaOutcome::OverQuota { used });
        }
        let record = Media::new(new);
        media.reserve(&record);
        media.records.insert(record.id, record.clone());
        Ok(CreateMediaOutcome::Created(record))
    }

    async fn media(&self, id: MediaId) -> Result<Option<Media>, PortError> {
        Ok(self.state.lock().media.records.get(&id).cloned())
    }

    async fn media_batch(&self, ids: &[MediaId]) -> Result<Vec<Media>, PortError> {
        let state = self.state.lock();
        let unique: BTreeSet<&MediaId> = ids.iter().collect();
        Ok(unique.into_iter().filter_map(|id| state.media.records.get(id)).cloned().collect())
    }

    async fn mark_uploaded(
        &self,
        id: MediaId,
        etag: &str,
        at: Timestamp,
    ) -> Result<Option<UploadedOutcome>, PortError> {
        let mut state = self.state.lock();
        let Some(media) = state.media.records.get_mut(&id) else { return Ok(None) };
        if media.status != MediaStatus::Pending {
            return Ok(Some(UploadedOutcome::NotPending(media.clone())));
        }
        media.status = MediaStatus::Uploaded;
        media.etag = Some(etag.to_owned());
        media.uploaded_at = Some(at);
        Ok(Some(UploadedOutcome::Marked(media.clone())))
    }

    async fn attach(
        &self,
        media: &[MediaId],
        conversation: ConversationId,
        message: MessageId,
        at: Timestamp,
    ) -> Result<(), PortError> {
        let mut state = self.state.lock();
        // Check everything first, as a database's foreign keys would: nothing half-attached.
        if state.message(message).is_none_or(|found| found.conversation_id != conversation) {
            return Err(PortError::Internal(format!("message {message} is not in conversation {conversation}")));
        }
        // Media deleted since the send checked them (by cleanup) are skipped, as the port says:
        // the message is stored already and shows what still exists.
        let state = &mut state.media;
        for id in media {
            if let Some(record) = state.records.get_mut(id) {
                record.attached_at.get_or_insert(at);
                state.attached_in.entry(*id).or_default().insert((conversation, message));
            }
        }
        Ok(())
    }

    async fn transition(&self, id: MediaId, step: MediaTransition) -> Result<Option<TransitionOutcome>, PortError> {
        let mut state = self.state.lock();
        let Some(record) = state.media.records.get_mut(&id) else { return Ok(None) };
        if !step.allowed_from(record.status) {
            return Ok(Some(TransitionOutcome::Refused(record.clone())));
        }
        step.apply(record);
        Ok(Some(TransitionOutcome::Applied(record.clone())))
    }

    async fn unfinished(&self, limit: usize) -> Result<Vec<Media>, PortError> {
        let state = self.state.lock();
        let mut unfinished: Vec<Media> = state
            .media
            .records
            .values()
            .filter(|media| matches!(media.status, MediaStatus::Uploaded | MediaStatus::Processing))
            .cloned()
            .collect();
        unfinished.sort_by_key(|media| (media.uploaded_at, media.id));
        unfinished.truncate(limit);
        Ok(unfinished)
    }

    async fn keep(&self, id: MediaId, at: Timestamp) -> Result<Option<Media>, PortError> {
        let mut state = self.state.lock();
        let Some(record) = state.media.records.get_mut(&id) else { return Ok(None) };
        record.attached_at.get_or_insert(at);
        Ok(Some(record.clone()))
    }

    async fn attached_conversations(&self, id: MediaId) -> Result<Vec<ConversationId>, PortError> {
        let state = self.state.lock();
        Ok(state
            .media
            .attached_in
            .get(&id)
            .map(|attachments| {
                let conversations: BTreeSet<_> = attachments.iter().map(|(conversation, _)| *conversation).collect();
                conversations.into_iter().collect()
            })
            .unwrap_or_default())
    }

    async fn detach_message(&self, media: &[MediaId], message: MessageId) -> Result<(), PortError> {
        let mut state = self.state.lock();
        for id in media {
            if let Some(attachments) = state.media.attached_in.get_mut(id) {
                attachments.retain(|(_, attached_to)| *attached_to != message);
                if attachments.is_empty() {
                    state.media.attached_in.remove(id);
                }
            }
        }
        Ok(())
    }

    async fn usage(&self, owner: UserId) -> Result<StorageUsage, PortError> {
        let state = self.state.lock();
        let Some(kinds) = state.media.usage.get(&owner) else { return Ok(StorageUsage::default()) };
        // In a fixed order, so two reads of the same usage compare equal.
        let by_kind: Vec<KindUsage> = MediaKind::ALL.iter().filter_map(|kind| kinds.get(kind).copied()).collect();
        Ok(StorageUsage { bytes: by_kind.iter().map(|line| line.bytes).sum(), by_kind })
    }

    async fn expired_uploads(&self, now: Timestamp, limit: usize) -> Result<Vec<Media>, PortError> {
        let state = self.state.lock();
        Ok(state.media.oldest(limit, |media| media.status == MediaStatus::Pending && media.upload_expires_at <= now))
    }

    async fn unattached_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Media>, PortError> {
        let state = self.state.lock();
        Ok(state.media.oldest(limit, |media| {
            media.status != MediaStatus::Pending && media.attached_at.is_none() && media.created_at <= cutoff
        }))
    }

    async fn delete_unattached(&self, id: MediaId) -> Result<Option<Media>, PortError> {
        let mut state = self.state.lock();
        let media = &mut state.media;
        let kept = media.records.get(&id).is_some_and(|record| record.attached_at.is_some());
        if kept || media.attached_in.contains_key(&id) {
            return Ok(None);
        }
        let Some(record) = media.records.remove(&id) else { return Ok(None) };
        media.release(&record);
        Ok(Some(record))
    }
}
