//! The worker keeps its job's claim while it works: one extension per heartbeat beat, none
//! after the claim lapsed for good, and a failed extension tried again. The beats and the
//! work's end are driven by hand (channels), so nothing here depends on timing.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_channel::{mpsc, oneshot};
use futures_executor::block_on;
use futures_util::StreamExt as _;
use futures_util::future::join;

use super::worker::{JobEnd, Processors};
use super::worker_lease::{keep_claim, process_keeping_claim};
use crate::app::Deps;
use crate::app::mock_deps::mock_deps;
use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::event::Event;
use crate::domain::ids::{MediaId, UserId};
use crate::domain::job::{Job, JobId, JobTask};
use crate::domain::media::{
    ImageRefusal, LocalFile, Media, MediaKind, MediaStatus, MediaTransition, NewMedia, ProcessedImage, UploadTarget,
    upload_window,
};
use crate::ports::*;

fn start() -> Timestamp {
    chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn photo(status: MediaStatus) -> Media {
    let mut media = Media::new(NewMedia {
        id: MediaId(uuid::Uuid::from_u128(9)),
        owner_id: UserId(uuid::Uuid::from_u128(1)),
        kind: MediaKind::Image,
        content_type: "image/jpeg".into(),
        filename: "x.jpg".into(),
        size: 10,
        upload: UploadTarget::Single,
        created_at: start(),
        upload_expires_at: start() + upload_window(),
    });
    media.status = status;
    media
}

fn job() -> Job {
    Job { id: JobId::new("7"), task: JobTask::ProcessMedia(MediaId(uuid::Uuid::from_u128(9))), attempt: 1 }
}

/// A queue whose `extend` answers `answers` in turn (then `Ok(true)`), and reports each
/// call on the returned channel, so a test can wait for it.
fn queue_answering(answers: Vec<Result<bool, PortError>>, calls: usize) -> (MockJobQueue, mpsc::UnboundedReceiver<()>) {
    let (extended, extensions) = mpsc::unbounded();
    let mut answers = answers.into_iter();
    let mut jobs = MockJobQueue::new();
    jobs.expect_extend().withf(|claim| *claim == job()).times(calls).returning(move |_| {
        extended.unbounded_send(()).unwrap();
        answers.next().unwrap_or(Ok(true))
    });
    (jobs, extensions)
}

/// An image processor that works until the test opens its gate: a job as long as needed.
struct GatedImages {
    gate: Mutex<Option<oneshot::Receiver<()>>>,
}

#[async_trait]
impl ImageProcessor for GatedImages {
    async fn process(
        &self,
        _input: &LocalFile,
        _content_type: &str,
        _out_dir: &LocalFile,
    ) -> Result<Result<ProcessedImage, ImageRefusal>, PortError> {
        let gate = self.gate.lock().unwrap().take().unwrap();
        gate.await.unwrap();
        Ok(Ok(ProcessedImage { width: 4, height: 3, variants: Vec::new() }))
    }
}

#[test]
fn a_photo_being_processed_extends_its_claim_at_every_beat_and_then_is_ready() {
    let (jobs, mut extensions) = queue_answering(Vec::new(), 3);
    let mut media = MockMediaRepo::new();
    media.expect_media().returning(|_| Ok(Some(photo(MediaStatus::Uploaded))));
    media.expect_transition().returning(|_, step| {
        let status =
            if step == MediaTransition::StartProcessing { MediaStatus::Processing } else { MediaStatus::Ready };
        Ok(Some(TransitionOutcome::Applied(photo(status))))
    });
    media.expect_attached_conversations().returning(|_| Ok(Vec::new()));
    let mut blobs = MockBlobStore::new();
    blobs.expect_download_to().returning(|_, _| Ok(true));
    let mut events = MockEventBus::new();
    let ready = |delivery: &crate::domain::event::Delivery| matches!(delivery.event, Event::MediaReady { .. });
    events.expect_publish().withf(ready).times(1).returning(|_| Ok(()));
    events.expect_publish().withf(move |delivery| !ready(delivery)).returning(|_| Ok(()));
    let mut work = MockWorkArea::new();
    work.expect_create().returning(|name| Ok(LocalFile::new(format!("/work/{name}"))));
    work.expect_read_prefix().returning(|_, _| Ok(vec![0xFF, 0xD8, 0xFF, 0xE0]));
    work.expect_remove().times(1).returning(|_| Ok(()));
    let deps = Deps {
        media: Arc::new(media),
        devices: Arc::new(crate::ports::MockDeviceRepo::new()),
        blobs: Arc::new(blobs),
        events: Arc::new(events),
        jobs: Arc::new(jobs),
        push_jobs: None,
        calls: Arc::new(crate::ports::MockCallStore::new()),
        node: crate::domain::ids::NodeId(uuid::Uuid::from_u128(7)),
        nodes: Arc::new(crate::ports::MockNodeRegistry::new()),
        ..mock_deps(start())
    };
    let (open_gate, gate) = oneshot::channel();
    let processors = Processors {
        images: Arc::new(GatedImages { gate: Mutex::new(Some(gate)) }),
        av: Arc::new(MockAvProcessor::new()),
        scanner: None,
        work: Arc::new(work),
    };
    let (beat, heartbeat) = mpsc::unbounded();
    let job = job();
    let processing = process_keeping_claim(&deps, &processors, &job, heartbeat);
    let longer_than_the_timeout = async {
        for _ in 0..3 {
            beat.unbounded_send(()).unwrap();
            extensions.next().await.unwrap();
        }
        open_gate.send(()).unwrap();
    };
    let (end, ()) = block_on(join(processing, longer_than_the_timeout));
    assert_eq!(end, JobEnd::Finished);
}

#[test]
fn a_claim_that_lapsed_is_extended_no_more_and_the_work_still_ends() {
    let (jobs, mut extensions) = queue_answering(vec![Ok(false)], 1);
    let (beat, heartbeat) = mpsc::unbounded();
    let (finish, finished) = oneshot::channel::<&str>();
    let job = job();
    let working = keep_claim(&jobs, &job, heartbeat, async { finished.await.unwrap() });
    let driving = async {
        beat.unbounded_send(()).unwrap();
        extensions.next().await.unwrap();
        // Renewing stopped and let go of the heartbeat: no beat can ask for a second extension.
        assert!(beat.unbounded_send(()).is_err(), "the heartbeat is still listened to");
        finish.send("done").unwrap();
    };
    let (output, ()) = block_on(join(working, driving));
    assert_eq!(output, "done");
}

#[test]
fn a_failed_extension_is_tried_again_at_the_next_beat() {
    let unreachable = Err(PortError::Unavailable("redis down".into()));
    let (jobs, mut extensions) = queue_answering(vec![unreachable, Ok(true)], 2);
    let (beat, heartbeat) = mpsc::unbounded();
    let (finish, finished) = oneshot::channel::<u8>();
    let job = job();
    let working = keep_claim(&jobs, &job, heartbeat, async { finished.await.unwrap() });
    let driving = async {
        for _ in 0..2 {
            beat.unbounded_send(()).unwrap();
            extensions.next().await.unwrap();
        }
        finish.send(7).unwrap();
    };
    assert_eq!(block_on(join(working, driving)).0, 7);
}

#[test]
fn work_that_ends_between_beats_extends_nothing() {
    let (jobs, _extensions) = queue_answering(Vec::new(), 0);
    let (_beat, heartbeat) = mpsc::unbounded::<()>();
    let job = job();
    assert_eq!(block_on(keep_claim(&jobs, &job, heartbeat, async { 3 })), 3);
}
