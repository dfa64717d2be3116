//! Failure paths of the media use cases that real adapters cannot be made to take on cue,
//! forced with mockall: a re-upload between the check and the pin, a quota refusal after a
//! multipart upload was started, a wrong size.

use std::sync::Arc;

use futures_executor::block_on;

use super::{CompleteUpload, RequestUpload, complete, request_upload};
use crate::app::errors::MediaError;
use crate::app::mock_deps::mock_deps;
use crate::app::{Actor, Deps};
use crate::domain::Timestamp;
use crate::domain::ids::{MediaId, SessionId, UserId};
use crate::domain::media::{Media, MediaKind, MultipartId, NewMedia, UploadTarget, upload_window};
use crate::domain::rate_limit::RateDecision;
use crate::ports::*;

fn actor() -> Actor {
    Actor { user_id: UserId(uuid::Uuid::from_u128(1)), session_id: SessionId(uuid::Uuid::from_u128(2)) }
}

fn start() -> Timestamp {
    chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn pending_image(size: u64) -> Media {
    Media::new(NewMedia {
        id: MediaId(uuid::Uuid::from_u128(9)),
        owner_id: actor().user_id,
        kind: MediaKind::Image,
        content_type: "image/jpeg".into(),
        filename: "a.jpg".into(),
        size,
        upload: UploadTarget::Single,
        created_at: start(),
        upload_expires_at: start() + upload_window(),
    })
}

fn info(size: u64, etag: &str) -> BlobInfo {
    BlobInfo { size, etag: etag.into(), last_modified: start() }
}

struct Mocks {
    jobs: MockJobQueue,
    media: MockMediaRepo,
    blobs: MockBlobStore,
    rate_limits: MockRateLimitStore,
    events: MockEventBus,
}

impl Mocks {
    fn new() -> Self {
        let mut rate_limits = MockRateLimitStore::new();
        rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
        Mocks {
            jobs: MockJobQueue::new(),
            media: MockMediaRepo::new(),
            blobs: MockBlobStore::new(),
            rate_limits,
            events: MockEventBus::new(),
        }
    }

    fn into_deps(self) -> Deps {
        Deps {
            media: Arc::new(self.media),
            devices: Arc::new(crate::ports::MockDeviceRepo::new()),
            blobs: Arc::new(self.blobs),
            jobs: Arc::new(self.jobs),
            push_jobs: None,
            calls: Arc::new(crate::ports::MockCallStore::new()),
            node: crate::domain::ids::NodeId(uuid::Uuid::from_u128(7)),
            nodes: Arc::new(crate::ports::MockNodeRegistry::new()),
            rate_limits: Arc::new(self.rate_limits),
            events: Arc::new(self.events),
            ..mock_deps(start())
        }
    }
}

#[test]
fn an_upload_rewritten_between_check_and_pin_is_not_marked_uploaded() {
    let mut mocks = Mocks::new();
    let media = pending_image(100);
    mocks.media.expect_media().returning(move |_| Ok(Some(media.clone())));
    mocks.blobs.expect_head().returning(|_| Ok(Some(info(100, "first"))));
    mocks.blobs.expect_read_prefix().returning(|_, _| Ok(Some(vec![0xFF, 0xD8, 0xFF, 0xE0])));
    // The client PUT other bytes after the HEAD: the copy pinned on the checked ETag fails.
    mocks
        .blobs
        .expect_copy_if_match()
        .withf(|_, _, etag| etag == "first")
        .returning(|_, _, _| Ok(CopyOutcome::SourceChanged));
    mocks.media.expect_mark_uploaded().never();
    mocks.events.expect_publish().never();
    let result =
        block_on(complete(&mocks.into_deps(), actor(), MediaId(uuid::Uuid::from_u128(9)), CompleteUpload::default()));
    assert_eq!(result, Err(MediaError::UploadChanged));
}

#[test]
fn the_pinned_copys_etag_is_what_the_record_keeps() {
    let mut mocks = Mocks::new();
    let media = pending_image(100);
    let marked = media.clone();
    mocks.media.expect_media().returning(move |_| Ok(Some(media.clone())));
    mocks.blobs.expect_head().returning(|_| Ok(Some(info(100, "checked"))));
    mocks.blobs.expect_read_prefix().returning(|_, _| Ok(Some(vec![0xFF, 0xD8, 0xFF, 0xE0])));
    mocks.blobs.expect_copy_if_match().returning(|_, _, _| Ok(CopyOutcome::Copied(info(100, "pinned"))));
    mocks
        .media
        .expect_mark_uploaded()
        .withf(|_, etag, _| etag == "pinned")
        .times(1)
        .returning(move |_, _, _| Ok(Some(UploadedOutcome::Marked(marked.clone()))));
    mocks.blobs.expect_delete().times(1).returning(|_| Ok(()));
    mocks.jobs.expect_enqueue().times(1).returning(|_| Ok(true));
    mocks.events.expect_publish().times(1).returning(|_| Ok(()));
    let result =
        block_on(complete(&mocks.into_deps(), actor(), MediaId(uuid::Uuid::from_u128(9)), CompleteUpload::default()));
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_wrong_size_deletes_the_object_and_the_record() {
    let mut mocks = Mocks::new();
    let media = pending_image(100);
    mocks.media.expect_media().returning(move |_| Ok(Some(media.clone())));
    mocks.blobs.expect_head().returning(|_| Ok(Some(info(99, "short"))));
    mocks.blobs.expect_delete().times(1).returning(|_| Ok(()));
    mocks.media.expect_delete_unattached().times(1).returning(|_| Ok(None));
    mocks.blobs.expect_copy_if_match().never();
    let result =
        block_on(complete(&mocks.into_deps(), actor(), MediaId(uuid::Uuid::from_u128(9)), CompleteUpload::default()));
    assert_eq!(result, Err(MediaError::SizeMismatch));
}

#[test]
fn a_refused_quota_aborts_the_multipart_upload_it_started() {
    let mut mocks = Mocks::new();
    mocks.blobs.expect_create_multipart().times(1).returning(|_, _| Ok(MultipartId::from_stored("upload-1".into())));
    mocks.media.expect_create_media().returning(|_, _| Ok(CreateMediaOutcome::OverQuota { used: 1 }));
    mocks
        .blobs
        .expect_abort_multipart()
        .withf(|_, upload| upload.as_str() == "upload-1")
        .times(1)
        .returning(|_, _| Ok(()));
    let request = RequestUpload {
        kind: "video".into(),
        filename: "v.mp4".into(),
        content_type: "video/mp4".into(),
        size: 20 * 1024 * 1024,
    };
    let result = block_on(request_upload(&mocks.into_deps(), actor(), request));
    assert_eq!(result.err(), Some(MediaError::QuotaExceeded));
}

#[test]
fn an_upload_url_is_refused_while_the_limiter_is_down() {
    let mut mocks = Mocks::new();
    mocks.rate_limits = MockRateLimitStore::new();
    mocks
        .rate_limits
        .expect_check()
        .returning(|_, _, _| Err(crate::domain::error::PortError::Unavailable("down".into())));
    mocks.blobs.expect_create_multipart().never();
    mocks.media.expect_create_media().never();
    let request =
        RequestUpload { kind: "image".into(), filename: "a.jpg".into(), content_type: "image/jpeg".into(), size: 10 };
    let result = block_on(request_upload(&mocks.into_deps(), actor(), request));
    assert!(matches!(result, Err(MediaError::Unavailable(_))), "{result:?}");
}
