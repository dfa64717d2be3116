//! The worker's idempotency and retries, forced with mocks: what a second run of a job, a
//! second finisher, or clamd being down must not do.

use std::sync::Arc;

use futures_executor::block_on;

use super::worker::{JobEnd, Processors, process};
use crate::app::Deps;
use crate::app::mock_deps::mock_deps;
use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::event::Event;
use crate::domain::ids::{MediaId, UserId};
use crate::domain::job::{Job, JobId, JobTask};
use crate::domain::media::{
    LocalFile, Media, MediaKind, MediaStatus, MediaTransition, NewMedia, ProcessedImage, UploadTarget, upload_window,
};
use crate::ports::*;

fn start() -> Timestamp {
    chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn media(kind: MediaKind, content_type: &str, status: MediaStatus) -> Media {
    let mut media = Media::new(NewMedia {
        id: MediaId(uuid::Uuid::from_u128(9)),
        owner_id: UserId(uuid::Uuid::from_u128(1)),
        kind,
        content_type: content_type.into(),
        filename: "x".into(),
        size: 10,
        upload: UploadTarget::Single,
        created_at: start(),
        upload_expires_at: start() + upload_window(),
    });
    media.status = status;
    media
}

fn job() -> Job {
    Job { id: JobId::new("1"), task: JobTask::ProcessMedia(MediaId(uuid::Uuid::from_u128(9))), attempt: 1 }
}

struct Mocks {
    media: MockMediaRepo,
    blobs: MockBlobStore,
    events: MockEventBus,
    images: MockImageProcessor,
    scanner: MockVirusScanner,
}

impl Mocks {
    fn new() -> Self {
        Mocks {
            media: MockMediaRepo::new(),
            blobs: MockBlobStore::new(),
            events: MockEventBus::new(),
            images: MockImageProcessor::new(),
            scanner: MockVirusScanner::new(),
        }
    }

    /// Runs the job; the work area holds a file whose first bytes are `head`.
    fn run(self, head: &'static [u8]) -> JobEnd {
        let mut work = MockWorkArea::new();
        work.expect_create().returning(|name| Ok(LocalFile::new(format!("/work/{name}"))));
        work.expect_read_prefix().returning(move |_, _| Ok(head.to_vec()));
        work.expect_remove().times(1).returning(|_| Ok(()));
        let deps = Deps {
            media: Arc::new(self.media),
            devices: Arc::new(crate::ports::MockDeviceRepo::new()),
            blobs: Arc::new(self.blobs),
            events: Arc::new(self.events),
            ..mock_deps(start())
        };
        let processors = Processors {
            images: Arc::new(self.images),
            av: Arc::new(MockAvProcessor::new()),
            scanner: Some(Arc::new(self.scanner)),
            work: Arc::new(work),
        };
        block_on(process(&deps, &processors, &job()))
    }
}

#[test]
fn a_job_for_finished_media_is_completed_without_work() {
    let mut mocks = Mocks::new();
    mocks.media.expect_media().returning(|_| Ok(Some(media(MediaKind::Image, "image/jpeg", MediaStatus::Ready))));
    mocks.media.expect_transition().never();
    mocks.blobs.expect_download_to().never();
    mocks.events.expect_publish().never();
    assert_eq!(mocks.run(b""), JobEnd::Finished);
}

#[test]
fn a_second_finisher_sends_no_second_ready() {
    let mut mocks = Mocks::new();
    mocks.media.expect_media().returning(|_| Ok(Some(media(MediaKind::Image, "image/jpeg", MediaStatus::Processing))));
    mocks.media.expect_transition().returning(|_, step| {
        Ok(Some(match step {
            MediaTransition::StartProcessing => {
                TransitionOutcome::Applied(media(MediaKind::Image, "image/jpeg", MediaStatus::Processing))
            }
            // Another worker made it ready meanwhile.
            _ => TransitionOutcome::Refused(media(MediaKind::Image, "image/jpeg", MediaStatus::Ready)),
        }))
    });
    mocks.blobs.expect_download_to().returning(|_, _| Ok(true));
    mocks
        .images
        .expect_process()
        .returning(|_, _, _| Ok(Ok(ProcessedImage { width: 1, height: 1, variants: Vec::new() })));
    // The progress event only: no media.ready.
    mocks
        .events
        .expect_publish()
        .withf(|delivery| matches!(delivery.event, Event::MediaProgress { .. }))
        .times(1)
        .returning(|_| Ok(()));
    assert_eq!(mocks.run(&[0xFF, 0xD8, 0xFF, 0xE0]), JobEnd::Finished);
}

#[test]
fn clamd_down_is_a_retry_and_never_a_pass() {
    let mut mocks = Mocks::new();
    mocks.media.expect_media().returning(|_| Ok(Some(media(MediaKind::File, "text/plain", MediaStatus::Uploaded))));
    mocks.media.expect_transition().withf(|_, step| *step == MediaTransition::StartProcessing).times(1).returning(
        |_, _| Ok(Some(TransitionOutcome::Applied(media(MediaKind::File, "text/plain", MediaStatus::Processing)))),
    );
    mocks.blobs.expect_download_to().returning(|_, _| Ok(true));
    mocks.scanner.expect_scan().returning(|_| Err(PortError::Unavailable("clamd refused the connection".into())));
    mocks.events.expect_publish().returning(|_| Ok(()));
    let end = mocks.run(b"xin chao");
    assert!(matches!(end, JobEnd::Retry(reason) if reason.contains("clamd")));
}
