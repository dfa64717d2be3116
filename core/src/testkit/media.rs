// MEDIA SUITE READY
//! The media-repo contract: every `MediaRepo` (memory, Postgres) behaves so. Records,
//! the quota reserved atomically when they are created, usage counters kept as they come and
//! go, attachments to messages, and the scans the cleanup task makes. Times that matter are
//! given explicitly, never read from the wall clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::future::join_all;

use crate::domain::Timestamp;
use crate::domain::ids::{ConversationId, MediaId, MessageId, UserId};
use crate::domain::media::{
    KindUsage, MIB, Media, MediaKind, MediaStatus, MediaTransition, MultipartId, NewMedia, Processed, StorageUsage,
    UploadTarget, Variant, upload_window,
};
use crate::ports::{CreateMediaOutcome, InsertOutcome, MediaRepo, TransitionOutcome, UploadedOutcome};

use super::contract::{Store, group, new_id, now, text, user};

/// Everything a media store implements: media records reference users, conversations and
/// messages, so the checks make those through the same store.
pub trait MediaStore: Store + MediaRepo {}
impl<T: Store + MediaRepo> MediaStore for T {}

/// A quota no check reaches unless it means to.
const ROOMY: u64 = 1 << 40;

/// A pending upload of `size` bytes of `kind` by `owner`, requested at `at`, in one PUT.
fn upload(owner: UserId, kind: MediaKind, size: u64, at: Timestamp) -> NewMedia {
    let (content_type, filename) = match kind {
        MediaKind::Image => ("image/jpeg", "ảnh.jpg"),
        MediaKind::Video => ("video/mp4", "clip.mp4"),
        MediaKind::Audio => ("audio/mp4", "voice.m4a"),
        MediaKind::File => ("application/pdf", "report.pdf"),
    };
    NewMedia {
        id: MediaId(new_id()),
        owner_id: owner,
        kind,
        content_type: content_type.to_owned(),
        filename: filename.to_owned(),
        size,
        upload: UploadTarget::Single,
        created_at: at,
        upload_expires_at: at + upload_window(),
    }
}

/// Creates `new` under `quota`, which must admit it.
async fn created(store: &dyn MediaStore, new: NewMedia, quota: u64) -> Media {
    match store.create_media(new, quota).await.unwrap() {
        CreateMediaOutcome::Created(media) => media,
        CreateMediaOutcome::OverQuota { used } => panic!("refused under a quota of {quota} with {used} used"),
    }
}

/// Marks `id` uploaded at `at`, which must find it pending.
async fn uploaded(store: &dyn MediaStore, id: MediaId, at: Timestamp) -> Media {
    match store.mark_uploaded(id, "\"etag\"", at).await.unwrap() {
        Some(UploadedOutcome::Marked(media)) => media,
        other => panic!("{id} was pending, got {other:?}"),
    }
}

/// A conversation of `owner` and one message in it, for media to be attached to.
async fn message_of(store: &dyn MediaStore, owner: UserId) -> (ConversationId, MessageId) {
    let other = user(store, "b").await;
    let conversation = group(store, &[owner, other]).await;
    match store.insert_message(text(conversation, owner, None)).await.unwrap() {
        InsertOutcome::Inserted { message, .. } => (conversation, message.id),
        InsertOutcome::Existing(message) => panic!("a keyless message was taken as a retry: {message:?}"),
    }
}

/// The ids of `media`, sorted, for comparisons that ignore order.
fn ids(media: &[Media]) -> Vec<MediaId> {
    let mut ids: Vec<MediaId> = media.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    ids
}

/// One kind's line of `usage`, if it has one.
fn kind_usage(usage: &StorageUsage, kind: MediaKind) -> Option<KindUsage> {
    usage.by_kind.iter().find(|line| line.kind == kind).copied()
}

/// A created record reads back as given: pending, nothing processed yet, its upload target
/// (a multipart upload's id and part count included) kept. A missing id reads as `None`.
pub async fn a_created_record_reads_back_pending_as_given(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let single = upload(owner, MediaKind::Image, 1234, now());
    let mut multipart = upload(owner, MediaKind::Video, 20 * MIB, now());
    multipart.upload = UploadTarget::Multipart { upload_id: MultipartId::from_stored("2~nU4pVb-x".into()), parts: 3 };
    for new in [single, multipart] {
        let expected = Media::new(new.clone());
        assert_eq!(expected.status, MediaStatus::Pending);
        let media = created(store, new, ROOMY).await;
        assert_eq!(media, expected, "as created");
        assert_eq!(store.media(media.id).await.unwrap(), Some(expected), "as read back");
    }
    assert_eq!(store.media(MediaId(new_id())).await.unwrap(), None);
}

/// The quota admits records up to it exactly and refuses the next byte, storing nothing and
/// reporting what is used; another owner's quota is their own.
pub async fn the_quota_admits_up_to_it_and_refuses_past_it(store: &dyn MediaStore) {
    let (owner, other) = (user(store, "a").await, user(store, "b").await);
    let quota = 1000;
    created(store, upload(owner, MediaKind::Image, 600, now()), quota).await;
    created(store, upload(owner, MediaKind::File, 400, now()), quota).await;
    let refused = upload(owner, MediaKind::Image, 1, now());
    let refused_id = refused.id;
    assert_eq!(store.create_media(refused, quota).await.unwrap(), CreateMediaOutcome::OverQuota { used: 1000 });
    assert_eq!(store.media(refused_id).await.unwrap(), None, "a refused record is not stored");
    assert_eq!(store.usage(owner).await.unwrap().bytes, 1000, "a refusal reserves nothing");
    created(store, upload(other, MediaKind::Image, 1000, now()), quota).await;
}

/// Twenty creates at once against one quota store exactly as many as fit.
pub async fn concurrent_creates_never_exceed_the_quota(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let (size, quota) = (100, 750);
    let outcomes =
        join_all((0..20).map(|_| store.create_media(upload(owner, MediaKind::Image, size, now()), quota))).await;
    let created = outcomes.into_iter().filter(|o| matches!(o, Ok(CreateMediaOutcome::Created(_)))).count();
    assert_eq!(created, 7, "floor(750 / 100) fit");
    let usage = store.usage(owner).await.unwrap();
    assert_eq!(usage.bytes, 700);
    assert_eq!(kind_usage(&usage, MediaKind::Image), Some(KindUsage { kind: MediaKind::Image, count: 7, bytes: 700 }));
}

/// Usage counts records and bytes per kind and in total, pending ones included, as records
/// are created and deleted; a kind without records has no line.
pub async fn usage_follows_creates_and_deletes_per_kind(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    assert_eq!(store.usage(owner).await.unwrap(), StorageUsage::default(), "a new user stores nothing");
    let small = created(store, upload(owner, MediaKind::Image, 10, now()), ROOMY).await;
    created(store, upload(owner, MediaKind::Image, 20, now()), ROOMY).await;
    let video = created(store, upload(owner, MediaKind::Video, 300, now()), ROOMY).await;
    let usage = store.usage(owner).await.unwrap();
    assert_eq!(usage.bytes, 330);
    assert_eq!(usage.by_kind.len(), 2, "{usage:?}");
    assert_eq!(kind_usage(&usage, MediaKind::Image), Some(KindUsage { kind: MediaKind::Image, count: 2, bytes: 30 }));
    assert_eq!(kind_usage(&usage, MediaKind::Video), Some(KindUsage { kind: MediaKind::Video, count: 1, bytes: 300 }));

    store.delete_unattached(video.id).await.unwrap().unwrap();
    store.delete_unattached(small.id).await.unwrap().unwrap();
    let usage = store.usage(owner).await.unwrap();
    let image = KindUsage { kind: MediaKind::Image, count: 1, bytes: 20 };
    assert_eq!(usage, StorageUsage { bytes: 20, by_kind: vec![image] });
}

/// `mark_uploaded` moves a pending record to `uploaded` with the ETag and time; a second
/// call finds it not pending and changes nothing; a missing id is `None`.
pub async fn mark_uploaded_moves_a_pending_record_once(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let media = created(store, upload(owner, MediaKind::Image, 10, now()), ROOMY).await;
    let at = now();
    let marked = match store.mark_uploaded(media.id, "\"5d41402abc4b2a76\"", at).await.unwrap() {
        Some(UploadedOutcome::Marked(marked)) => marked,
        other => panic!("a pending record must be marked, got {other:?}"),
    };
    let expected = Media {
        status: MediaStatus::Uploaded,
        etag: Some("\"5d41402abc4b2a76\"".into()),
        uploaded_at: Some(at),
        ..media.clone()
    };
    assert_eq!(marked, expected);
    assert_eq!(store.media(media.id).await.unwrap().as_ref(), Some(&expected));

    let again = store.mark_uploaded(media.id, "\"other\"", at + chrono::Duration::seconds(5)).await.unwrap();
    assert_eq!(again, Some(UploadedOutcome::NotPending(expected.clone())), "a second completion is refused");
    assert_eq!(store.media(media.id).await.unwrap(), Some(expected), "and changes nothing");
    assert_eq!(store.mark_uploaded(MediaId(new_id()), "\"etag\"", at).await.unwrap(), None);
}

/// `media_batch` returns the records that exist among the ids asked for, each once.
pub async fn media_batch_returns_the_existing_ones_only(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let mut made = Vec::new();
    for kind in [MediaKind::Image, MediaKind::Audio, MediaKind::File] {
        made.push(created(store, upload(owner, kind, 10, now()), ROOMY).await);
    }
    let asked = [made[2].id, MediaId(new_id()), made[0].id, made[1].id, MediaId(new_id())];
    let mut found = store.media_batch(&asked).await.unwrap();
    assert_eq!(ids(&found), ids(&made));
    found.sort_by_key(|m| m.id);
    made.sort_by_key(|m| m.id);
    assert_eq!(found, made, "whole records");
    assert!(store.media_batch(&[]).await.unwrap().is_empty());
    assert!(store.media_batch(&[MediaId(new_id())]).await.unwrap().is_empty());
}

/// Attaching stamps `attached_at` the first time only; attaching again changes nothing, and
/// `attached_conversations` lists every conversation a record is attached in, once.
pub async fn attaching_is_idempotent_and_stamps_attached_at_once(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let (first_conversation, first_message) = message_of(store, owner).await;
    let (second_conversation, second_message) = message_of(store, owner).await;
    let photo = created(store, upload(owner, MediaKind::Image, 10, now()), ROOMY).await;
    let clip = created(store, upload(owner, MediaKind::Video, 10, now()), ROOMY).await;
    let loose = created(store, upload(owner, MediaKind::File, 10, now()), ROOMY).await;
    let first_at = now();
    store.attach(&[photo.id, clip.id], first_conversation, first_message, first_at).await.unwrap();
    let later = first_at + chrono::Duration::seconds(30);
    store.attach(&[photo.id, clip.id], first_conversation, first_message, later).await.unwrap();
    store.attach(&[photo.id], second_conversation, second_message, later).await.unwrap();

    for id in [photo.id, clip.id] {
        assert_eq!(store.media(id).await.unwrap().unwrap().attached_at, Some(first_at), "stamped once, first");
    }
    let mut photo_in = store.attached_conversations(photo.id).await.unwrap();
    photo_in.sort_unstable();
    let mut expected = vec![first_conversation, second_conversation];
    expected.sort_unstable();
    assert_eq!(photo_in, expected);
    assert_eq!(store.attached_conversations(clip.id).await.unwrap(), vec![first_conversation]);
    assert_eq!(store.attached_conversations(loose.id).await.unwrap(), Vec::<ConversationId>::new());
    assert_eq!(store.media(loose.id).await.unwrap().unwrap().attached_at, None);
}

/// `delete_unattached` deletes a record never attached, returns it and releases its bytes
/// (so the quota admits them again); an attached record is refused and kept; a missing one
/// is `None`.
pub async fn delete_unattached_deletes_and_releases_or_refuses(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let (conversation, message) = message_of(store, owner).await;
    let quota = 100;
    let loose = created(store, upload(owner, MediaKind::Image, 60, now()), quota).await;
    let kept = created(store, upload(owner, MediaKind::Audio, 40, now()), quota).await;
    store.attach(&[kept.id], conversation, message, now()).await.unwrap();
    let kept = store.media(kept.id).await.unwrap().unwrap();

    assert_eq!(store.delete_unattached(loose.id).await.unwrap(), Some(loose.clone()));
    assert_eq!(store.media(loose.id).await.unwrap(), None, "deleted");
    assert_eq!(store.usage(owner).await.unwrap().bytes, 40, "its bytes released");
    assert_eq!(store.delete_unattached(loose.id).await.unwrap(), None, "deleted once");
    created(store, upload(owner, MediaKind::Image, 60, now()), quota).await;

    assert_eq!(store.delete_unattached(kept.id).await.unwrap(), None, "an attached record stays");
    assert_eq!(store.media(kept.id).await.unwrap(), Some(kept));
    assert_eq!(store.usage(owner).await.unwrap().bytes, 100);
    assert_eq!(store.delete_unattached(MediaId(new_id())).await.unwrap(), None);
}

/// Detaching a recalled message's media removes that message's attachments only: the media
/// stays attached where another message carries it, and is still not "never attached".
pub async fn detaching_a_message_leaves_the_other_attachments(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let (first_conversation, recalled) = message_of(store, owner).await;
    let (second_conversation, other) = message_of(store, owner).await;
    let media = created(store, upload(owner, MediaKind::Image, 60, now()), ROOMY).await;
    let only_recalled = created(store, upload(owner, MediaKind::Image, 40, now()), ROOMY).await;
    store.attach(&[media.id, only_recalled.id], first_conversation, recalled, now()).await.unwrap();
    store.attach(&[media.id], second_conversation, other, now()).await.unwrap();

    store.detach_message(&[media.id, only_recalled.id, MediaId(new_id())], recalled).await.unwrap();
    assert_eq!(store.attached_conversations(media.id).await.unwrap(), vec![second_conversation]);
    assert_eq!(store.attached_conversations(only_recalled.id).await.unwrap(), vec![]);
    let later = now() + chrono::Duration::days(30);
    assert!(store.unattached_before(later, 10).await.unwrap().iter().all(|m| m.id != only_recalled.id));
}

/// Processing steps: a pending record refuses them; uploaded → processing (again on a retry)
/// → ready with what was made, set once: a second `ready` or a `failed` after it is refused
/// and changes nothing.
pub async fn processing_steps_move_forward_and_ready_is_set_once(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let media = created(store, upload(owner, MediaKind::Audio, 60, now()), ROOMY).await;
    let refused = store.transition(media.id, MediaTransition::StartProcessing).await.unwrap();
    assert!(matches!(refused, Some(TransitionOutcome::Refused(m)) if m.status == MediaStatus::Pending));
    uploaded(store, media.id, now()).await;
    for _ in 0..2 {
        let started = store.transition(media.id, MediaTransition::StartProcessing).await.unwrap();
        assert!(matches!(started, Some(TransitionOutcome::Applied(m)) if m.status == MediaStatus::Processing));
    }
    let processed = Processed {
        width: None,
        height: None,
        duration_ms: Some(4_200),
        variants: vec![Variant {
            name: "m4a".into(),
            content_type: "audio/mp4".into(),
            size: 40,
            width: None,
            height: None,
        }],
        waveform: Some((0..64).collect()),
    };
    let ready = match store.transition(media.id, MediaTransition::Ready(processed.clone())).await.unwrap() {
        Some(TransitionOutcome::Applied(ready)) => ready,
        other => panic!("not made ready: {other:?}"),
    };
    assert_eq!((ready.status, ready.duration_ms), (MediaStatus::Ready, Some(4_200)));
    assert_eq!((&ready.variants, &ready.waveform), (&processed.variants, &processed.waveform));
    assert_eq!(store.media(media.id).await.unwrap(), Some(ready.clone()), "stored as returned");
    let again = store.transition(media.id, MediaTransition::Ready(Processed::default())).await.unwrap();
    assert_eq!(again, Some(TransitionOutcome::Refused(ready.clone())));
    let late_failure = MediaTransition::Failed { reason: "corrupt".into() };
    assert_eq!(store.transition(media.id, late_failure).await.unwrap(), Some(TransitionOutcome::Refused(ready)));
    assert_eq!(store.transition(MediaId(new_id()), MediaTransition::StartProcessing).await.unwrap(), None);
}

/// A failure keeps its reason and is final for the worker; only an operator's reopen undoes it.
pub async fn a_failure_keeps_its_reason_and_is_final(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let media = created(store, upload(owner, MediaKind::Video, 60, now()), ROOMY).await;
    uploaded(store, media.id, now()).await;
    let failed = match store.transition(media.id, MediaTransition::Failed { reason: "too_long".into() }).await.unwrap()
    {
        Some(TransitionOutcome::Applied(failed)) => failed,
        other => panic!("not failed: {other:?}"),
    };
    assert_eq!((failed.status, failed.failure_reason.as_deref()), (MediaStatus::Failed, Some("too_long")));
    let retried = store.transition(media.id, MediaTransition::StartProcessing).await.unwrap();
    assert_eq!(retried, Some(TransitionOutcome::Refused(failed)));
    // An operator's reopen makes it `uploaded` again, without the reason; only from `failed`.
    let reopened = match store.transition(media.id, MediaTransition::Reopen).await.unwrap() {
        Some(TransitionOutcome::Applied(reopened)) => reopened,
        other => panic!("not reopened: {other:?}"),
    };
    assert_eq!((reopened.status, reopened.failure_reason), (MediaStatus::Uploaded, None));
    let again = store.transition(media.id, MediaTransition::Reopen).await.unwrap();
    assert!(matches!(again, Some(TransitionOutcome::Refused(_))));
}

/// `unfinished` lists what is uploaded or processing, oldest upload first, at most `limit`:
/// not pending, ready or failed records.
pub async fn unfinished_lists_uploaded_and_processing_records_oldest_first(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let at = now();
    let make = |minutes: i64| upload(owner, MediaKind::Image, 10, at - chrono::Duration::minutes(minutes));
    let older = created(store, make(30), ROOMY).await;
    let newer = created(store, make(20), ROOMY).await;
    let pending = created(store, make(40), ROOMY).await;
    let done = created(store, make(50), ROOMY).await;
    uploaded(store, older.id, at - chrono::Duration::minutes(29)).await;
    uploaded(store, newer.id, at - chrono::Duration::minutes(19)).await;
    uploaded(store, done.id, at - chrono::Duration::minutes(49)).await;
    store.transition(newer.id, MediaTransition::StartProcessing).await.unwrap();
    store.transition(done.id, MediaTransition::Ready(Processed::default())).await.unwrap();

    let listed: Vec<MediaId> = store.unfinished(10).await.unwrap().iter().map(|m| m.id).collect();
    let mine: Vec<MediaId> =
        listed.iter().copied().filter(|id| [older.id, newer.id, pending.id, done.id].contains(id)).collect();
    assert_eq!(mine, vec![older.id, newer.id]);
    assert_eq!(store.unfinished(1).await.unwrap().len(), 1);
}

/// A kept record (an avatar) is stamped once, stays out of the cleanup scan, and is not deleted.
pub async fn kept_media_stay_out_of_cleanup(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let media = created(store, upload(owner, MediaKind::Image, 60, now()), ROOMY).await;
    store.mark_uploaded(media.id, "\"e\"", now()).await.unwrap();
    let at = now();
    let kept = store.keep(media.id, at).await.unwrap().unwrap();
    assert_eq!(kept.attached_at, Some(at));
    let again = store.keep(media.id, at + chrono::Duration::hours(1)).await.unwrap().unwrap();
    assert_eq!(again.attached_at, Some(at), "stamped once");
    let later = at + chrono::Duration::days(30);
    assert!(store.unattached_before(later, 10).await.unwrap().iter().all(|m| m.id != media.id));
    assert_eq!(store.delete_unattached(media.id).await.unwrap(), None);
    assert_eq!(store.keep(MediaId(new_id()), at).await.unwrap(), None);
}

/// Ten deletes of one record at once: one gets it, and its bytes are released once.
pub async fn concurrent_deletes_release_usage_once(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let media = created(store, upload(owner, MediaKind::Image, 60, now()), ROOMY).await;
    created(store, upload(owner, MediaKind::Image, 40, now()), ROOMY).await;
    let outcomes = join_all((0..10).map(|_| store.delete_unattached(media.id))).await;
    let deleted = outcomes.into_iter().filter(|o| matches!(o, Ok(Some(_)))).count();
    assert_eq!(deleted, 1);
    let usage = store.usage(owner).await.unwrap();
    assert_eq!(usage.bytes, 40);
    assert_eq!(kind_usage(&usage, MediaKind::Image), Some(KindUsage { kind: MediaKind::Image, count: 1, bytes: 40 }));
}

/// `expired_uploads` returns the pending records whose upload window closed at or before
/// `now`, oldest first, at most `limit`: not those still open, nor completed ones.
pub async fn expired_uploads_are_the_pending_ones_past_their_window(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let at = now();
    let hours = chrono::Duration::hours;
    // Requested `hours_ago` ago, each window closing `upload_window()` after its request.
    let requested = |hours_ago: i64| upload(owner, MediaKind::Image, 10, at - upload_window() - hours(hours_ago));
    let newer_expired = created(store, requested(1), ROOMY).await;
    let _still_open = created(store, requested(-1), ROOMY).await;
    let oldest_expired = created(store, requested(3), ROOMY).await;
    let closing_now = created(store, requested(0), ROOMY).await;
    let completed = created(store, requested(5), ROOMY).await;
    uploaded(store, completed.id, at - hours(28)).await;

    let expired = store.expired_uploads(at, 10).await.unwrap();
    assert_eq!(expired, vec![oldest_expired.clone(), newer_expired.clone(), closing_now], "oldest first");
    assert_eq!(store.expired_uploads(at, 2).await.unwrap(), vec![oldest_expired, newer_expired], "limit");
    assert!(store.expired_uploads(at - hours(10), 10).await.unwrap().is_empty());
}

/// `unattached_before` returns the records never attached, not pending, created at or before
/// the cutoff, oldest first, at most `limit`.
pub async fn unattached_before_lists_never_attached_completed_records(store: &dyn MediaStore) {
    let owner = user(store, "a").await;
    let (conversation, message) = message_of(store, owner).await;
    let cutoff = now();
    let days = chrono::Duration::days;
    let completed = async |created_at: Timestamp| {
        let media = created(store, upload(owner, MediaKind::File, 10, created_at), ROOMY).await;
        uploaded(store, media.id, created_at + chrono::Duration::minutes(1)).await
    };
    let middle = completed(cutoff - days(1)).await;
    let oldest = completed(cutoff - days(2)).await;
    let at_cutoff = completed(cutoff).await;
    let _too_new = completed(cutoff + chrono::Duration::seconds(1)).await;
    let attached = completed(cutoff - days(3)).await;
    store.attach(&[attached.id], conversation, message, cutoff - days(2)).await.unwrap();
    let _pending = created(store, upload(owner, MediaKind::File, 10, cutoff - days(4)), ROOMY).await;

    let found = store.unattached_before(cutoff, 10).await.unwrap();
    assert_eq!(found, vec![oldest.clone(), middle.clone(), at_cutoff], "oldest first");
    assert_eq!(store.unattached_before(cutoff, 2).await.unwrap(), vec![oldest, middle], "limit");
    assert!(store.unattached_before(cutoff - days(5), 10).await.unwrap().is_empty());
}
