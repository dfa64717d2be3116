//! The media worker's use case: one job, one media item, from `uploaded` to `ready` or
//! `failed`. At least once and idempotent: variants go to fixed keys, `ready` and `failed` are
//! set once by the store (a second worker finishing the same job changes nothing and sends no
//! second event), and a job whose media is already done is simply completed.

use std::sync::Arc;

use futures_channel::mpsc;
use futures_util::StreamExt as _;

use crate::domain::error::PortError;
use crate::domain::event::{Delivery, Event};
use crate::domain::ids::{MediaId, UserId};
use crate::domain::job::Job;
use crate::domain::media::{
    Attachment, BlobKey, LocalFile, Media, MediaKind, MediaStatus, MediaTransition, Processed, SNIFF_BYTES, Variant,
    accepted_type, matches_container,
};
use crate::ports::{AvProcessor, FailOutcome, ImageProcessor, ScanVerdict, TransitionOutcome, VirusScanner, WorkArea};

use super::super::Deps;
use super::super::access::publish;

/// What a worker has besides the shared ports: the processors, and a directory of its own
/// for the files of the jobs in hand (each job in a subdirectory, removed when it ends).
#[derive(Clone)]
pub struct Processors {
    /// Thumbnails, orientation and metadata stripping of images.
    pub images: Arc<dyn ImageProcessor>,
    /// Videos and voice messages (ffmpeg).
    pub av: Arc<dyn AvProcessor>,
    /// Files before they are served (clamd); `None` when the operator turned scanning off,
    /// and files are then served unscanned (the server says so at start).
    pub scanner: Option<Arc<dyn VirusScanner>>,
    /// The worker's local disk, where job directories are made.
    pub work: Arc<dyn WorkArea>,
}

/// How a job ended, for the worker loop (which completes or fails it in the queue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnd {
    /// Done: the media is `ready`, or was refused (`failed`) for a reason of its own, or was
    /// already finished, or is gone. Complete the job.
    Finished,
    /// A dependency failed (clamd down, the store unreachable): fail the job so it is retried.
    Retry(String),
}

/// Processes the job's media. Never returns a port error: a failure to retry is `Retry`.
pub async fn process(deps: &Deps, processors: &Processors, job: &Job) -> JobEnd {
    let Some(media_id) = job.task.media() else {
        // Each kind of work has its own queue; another kind here is a wiring mistake, and
        // retrying would not mend it.
        tracing::error!(task = %job.task, "not a media job in the media queue; dropped");
        return JobEnd::Finished;
    };
    let dir = match processors.work.create(&format!("job-{media_id}-{}", job.attempt)).await {
        Ok(dir) => dir,
        Err(error) => return JobEnd::Retry(error.to_string()),
    };
    let result = process_in(deps, processors, media_id, &dir).await;
    // Every path removes the job's files.
    if let Err(error) = processors.work.remove(&dir).await {
        tracing::warn!(%error, dir = %dir.path().display(), "job directory not removed");
    }
    match result {
        Ok(()) => JobEnd::Finished,
        Err(error) => JobEnd::Retry(error.to_string()),
    }
}

/// After the queue gave up on a job (dead-lettered): the media fails, and its owner is told.
pub async fn give_up(deps: &Deps, job: &Job, outcome: FailOutcome) -> Result<(), PortError> {
    if outcome != FailOutcome::DeadLettered {
        return Ok(());
    }
    let step = MediaTransition::Failed { reason: "processing_failed".into() };
    let Some(media_id) = job.task.media() else { return Ok(()) };
    if let Some(TransitionOutcome::Applied(media)) = deps.media.transition(media_id, step).await? {
        announce_failure(deps, &media, "processing_failed").await;
    }
    Ok(())
}

async fn process_in(deps: &Deps, processors: &Processors, media_id: MediaId, dir: &LocalFile) -> Result<(), PortError> {
    let Some(media) = deps.media.media(media_id).await? else { return Ok(()) };
    if !matches!(media.status, MediaStatus::Uploaded | MediaStatus::Processing) {
        return Ok(());
    }
    let media = match deps.media.transition(media.id, MediaTransition::StartProcessing).await? {
        Some(TransitionOutcome::Applied(media)) => media,
        _ => return Ok(()),
    };
    progress(deps, &media, None).await;
    let original = dir.join("original");
    if !deps.blobs.download_to(&BlobKey::original(media.owner_id, media.id), &original).await? {
        return fail(deps, &media, "original_missing").await;
    }
    if !sniffed_as_declared(processors, &media, &original).await? {
        return refuse_and_delete(deps, &media, "content_mismatch").await;
    }
    let made = match media.kind {
        MediaKind::Image => images(processors, &media, &original, dir).await?,
        MediaKind::Video => video(deps, processors, &media, &original, dir).await?,
        MediaKind::Audio => voice(processors, &original, dir).await?,
        MediaKind::File => scan(processors, &original).await?,
    };
    match made {
        Made::Refused(code) => {
            if code == "malware_detected" {
                tracing::warn!(media = %media.id, owner = %media.owner_id, "malware detected in an upload");
                return refuse_and_delete(deps, &media, code).await;
            }
            fail(deps, &media, code).await
        }
        Made::Ready { processed, files } => {
            for (variant, file) in processed.variants.iter().zip(&files) {
                deps.blobs.upload_from(file, &BlobKey::variant(media.id, &variant.name), &variant.content_type).await?;
            }
            if let Some(TransitionOutcome::Applied(ready)) =
                deps.media.transition(media.id, MediaTransition::Ready(processed)).await?
            {
                announce_ready(deps, &ready).await?;
            }
            Ok(())
        }
    }
}

/// What processing made: the record's new facts with the files of its variants (in the same
/// order), or a refusal code.
enum Made {
    Ready { processed: Processed, files: Vec<LocalFile> },
    Refused(&'static str),
}

async fn images(
    processors: &Processors,
    media: &Media,
    original: &LocalFile,
    dir: &LocalFile,
) -> Result<Made, PortError> {
    match processors.images.process(original, &media.content_type, dir).await? {
        Err(refusal) => Ok(Made::Refused(refusal.code())),
        Ok(image) => {
            let files = image.variants.iter().map(|variant| variant.file.clone()).collect();
            let processed = Processed {
                width: Some(image.width),
                height: Some(image.height),
                variants: image.variants.iter().map(|variant| variant.variant()).collect(),
                ..Processed::default()
            };
            Ok(Made::Ready { processed, files })
        }
    }
}

async fn video(
    deps: &Deps,
    processors: &Processors,
    media: &Media,
    original: &LocalFile,
    dir: &LocalFile,
) -> Result<Made, PortError> {
    let input = original.clone();
    // The processor reports from its own task (at most twice a second); the reports are
    // published here, beside the transcode, in order, and the last one waits for nothing.
    let (reports, mut received) = mpsc::unbounded::<u8>();
    let report = move |percent: u8| {
        let _ = reports.unbounded_send(percent);
    };
    let transcode = async {
        let outcome = processors.av.transcode_video(&input, dir.path(), &report).await;
        drop(report);
        outcome
    };
    let announce = async {
        while let Some(percent) = received.next().await {
            progress(deps, media, Some(percent)).await;
        }
    };
    let (outcome, ()) = futures_util::future::join(transcode, announce).await;
    match outcome? {
        Err(refusal) => Ok(Made::Refused(refusal.code())),
        Ok(video) => {
            let variants = vec![
                variant_of(processors, "mp4", "video/mp4", &video.mp4, Some((video.width, video.height))).await?,
                variant_of(processors, "poster", "image/jpeg", &video.poster, Some((video.width, video.height)))
                    .await?,
            ];
            let files = vec![LocalFile::new(video.mp4.path()), LocalFile::new(video.poster.path())];
            let processed = Processed {
                width: Some(video.width),
                height: Some(video.height),
                duration_ms: Some(video.duration_ms),
                variants,
                waveform: None,
            };
            Ok(Made::Ready { processed, files })
        }
    }
}

async fn voice(processors: &Processors, original: &LocalFile, dir: &LocalFile) -> Result<Made, PortError> {
    match processors.av.transcode_voice(original, dir.path()).await? {
        Err(refusal) => Ok(Made::Refused(refusal.code())),
        Ok(voice) => {
            let variants = vec![variant_of(processors, "m4a", "audio/mp4", &voice.m4a, None).await?];
            let processed = Processed {
                duration_ms: Some(voice.duration_ms),
                variants,
                waveform: Some(voice.waveform),
                ..Processed::default()
            };
            Ok(Made::Ready { processed, files: vec![LocalFile::new(voice.m4a.path())] })
        }
    }
}

/// Files are served as uploaded, once clamd found nothing; clamd down is a retry, never a pass.
async fn scan(processors: &Processors, original: &LocalFile) -> Result<Made, PortError> {
    let Some(scanner) = &processors.scanner else {
        return Ok(Made::Ready { processed: Processed::default(), files: Vec::new() });
    };
    match scanner.scan(original).await? {
        ScanVerdict::Clean => Ok(Made::Ready { processed: Processed::default(), files: Vec::new() }),
        ScanVerdict::Infected { signature } => {
            tracing::warn!(%signature, "an upload is infected");
            Ok(Made::Refused("malware_detected"))
        }
    }
}

async fn variant_of(
    processors: &Processors,
    name: &str,
    content_type: &str,
    file: &LocalFile,
    size: Option<(u32, u32)>,
) -> Result<Variant, PortError> {
    Ok(Variant {
        name: name.into(),
        content_type: content_type.into(),
        size: processors.work.size(file).await?,
        width: size.map(|(width, _)| width),
        height: size.map(|(_, height)| height),
    })
}

/// The first bytes still belong to the declared type (checked again here: the worker trusts
/// no earlier step with what it hands to a decoder).
async fn sniffed_as_declared(processors: &Processors, media: &Media, original: &LocalFile) -> Result<bool, PortError> {
    let Some(accepted) = accepted_type(media.kind, &media.content_type) else { return Ok(false) };
    let head = processors.work.read_prefix(original, SNIFF_BYTES).await?;
    Ok(matches_container(accepted.container, &head))
}

async fn fail(deps: &Deps, media: &Media, reason: &str) -> Result<(), PortError> {
    let step = MediaTransition::Failed { reason: reason.to_owned() };
    if let Some(TransitionOutcome::Applied(failed)) = deps.media.transition(media.id, step).await? {
        announce_failure(deps, &failed, reason).await;
    }
    Ok(())
}

/// Fails the media and deletes what was uploaded: bytes that are not what they claim, or
/// malware, are kept nowhere.
async fn refuse_and_delete(deps: &Deps, media: &Media, reason: &str) -> Result<(), PortError> {
    // Deleted first: a failed delete is retried with the job, which would find the media
    // already `failed` (and finished) if it were marked first.
    deps.blobs.delete(&BlobKey::original(media.owner_id, media.id)).await?;
    fail(deps, media, reason).await
}

async fn progress(deps: &Deps, media: &Media, percent: Option<u8>) {
    let event = Event::MediaProgress { media_id: media.id, status: MediaStatus::Processing, percent };
    publish(deps, Delivery { recipients: vec![media.owner_id], except_session: None, only_session: None, event }).await;
}

/// `media.ready` to the owner and the members of every conversation it is attached to.
async fn announce_ready(deps: &Deps, media: &Media) -> Result<(), PortError> {
    let mut recipients: Vec<UserId> = vec![media.owner_id];
    for conversation in deps.media.attached_conversations(media.id).await? {
        recipients.extend(deps.conversations.member_ids(conversation).await?);
    }
    recipients.sort_unstable();
    recipients.dedup();
    let event = Event::MediaReady { media: Attachment::from(media) };
    publish(deps, Delivery { recipients, except_session: None, only_session: None, event }).await;
    Ok(())
}

async fn announce_failure(deps: &Deps, media: &Media, reason: &str) {
    let event = Event::MediaFailed { media_id: media.id, reason: reason.to_owned() };
    publish(deps, Delivery { recipients: vec![media.owner_id], except_session: None, only_session: None, event }).await;
}
