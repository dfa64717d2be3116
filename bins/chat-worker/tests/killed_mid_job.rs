//! A `chat-worker` process killed with SIGKILL in the middle of a transcode loses nothing:
//! after the visibility timeout the job goes to the next worker process, which transcodes the
//! video (for longer than the timeout, renewing its claim, so no third run starts) and makes it
//! `ready` once, with its variants, with no one stepping in; and the files the killed worker
//! left in its folder under `work/` are removed when the next worker starts. Real processes
//! on Postgres and Redis, with the real ffmpeg; the server runs in the test.
//!
//! Everything is observed through the API (the owner's socket and `GET /media/{id}`) and the
//! queue's stats, each wait polled or awaited with a deadline: the test never sleeps to
//! let something happen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chat_core::domain::job::JobPolicy;
use chat_core::ports::QueueStats;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Stack, WorkerProcess, clip};

/// Short, so the reclaim comes quickly; the transcode below takes several of it.
const VISIBILITY_TIMEOUT_SECS: u64 = 3;

/// Far beyond anything that must happen here (a loaded CI machine included).
const PATIENCE: Duration = Duration::from_secs(240);

/// Fifteen seconds of 720p MPEG-4 part 2 (which the worker must transcode to H.264) with
/// AAC: several seconds of ffmpeg work, long enough to kill the first worker in the middle
/// of it and to outlast the second worker's visibility timeout. Coarsely quantised, so it
/// stays under the single-PUT limit (3 MB; 8 MiB and more are multipart).
fn long_clip() -> Vec<u8> {
    clip(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30:duration=15",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:duration=15",
            "-c:v",
            "mpeg4",
            "-q:v",
            "20",
            "-c:a",
            "aac",
            "-shortest",
        ],
        "mp4",
    )
}

/// The folders in the workers' `work/` directory: each live worker's own (beside its lock
/// file), and what dead ones left.
fn work_folders(data_dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(data_dir.join("work")).unwrap();
    let mut folders: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).filter(|path| path.is_dir()).collect();
    folders.sort();
    folders
}

fn of(id: &str) -> impl Fn(&Value) -> bool + '_ {
    move |frame| frame["media_id"] == id || frame["media"]["id"] == id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_transcode_loses_nothing_and_the_video_is_ready_once() {
    let policy =
        JobPolicy { visibility_timeout: Duration::from_secs(VISIBILITY_TIMEOUT_SECS), ..JobPolicy::production() };
    let stack = Stack::start(policy).await;
    let (an_id, an) = stack.register("an.le").await;
    let mut socket = stack.connect(&an).await;
    let first = WorkerProcess::start(&stack, "first", VISIBILITY_TIMEOUT_SECS);
    let id = stack.upload(&an, "video", "clip.mp4", "video/mp4", long_clip()).await;

    // The first worker is transcoding once ffmpeg reports progress: killed there, it neither
    // finishes nor fails nor releases the job.
    let transcoding = |frame: &Value| of(&id)(frame) && frame["status"] == "processing" && frame["percent"].is_u64();
    let reported = socket.wait_for("media.progress", PATIENCE, transcoding).await;
    let first_log = first.log();
    let first_folder = match work_folders(stack.data_dir()).as_slice() {
        [folder] => folder.clone(),
        others => panic!("one folder per worker under work/: {others:?}"),
    };
    assert!(first_folder.file_name().unwrap().to_string_lossy().starts_with("chat-worker-"), "{first_folder:?}");
    let jobs_in_hand = std::fs::read_dir(&first_folder).unwrap().count();
    assert_eq!(jobs_in_hand, 1, "the job's directory in {}", first_folder.display());
    first.kill();
    let killed_at = Instant::now();
    // Its ffmpeg gets SIGKILL from the kernel as the worker dies (the parent-death signal),
    // a moment after, not with it: anything still running in the data dir is killed here,
    // as a safety net, so it cannot write into the folder the next worker sweeps.
    let orphans = support::kill_orphans_of(stack.data_dir());
    let (_, record) = stack.get(&format!("/api/v1/media/{id}"), &an).await;
    assert_eq!(
        record["media"]["status"], "processing",
        "the first worker finished before it was killed (at {reported}); the clip is too short: {record}\n{first_log}"
    );
    assert_eq!(stack.jobs.stats().await.unwrap(), QueueStats { in_flight: 1, ..QueueStats::default() });

    // Nobody steps in: a second worker process reclaims the job after the timeout.
    let second = WorkerProcess::start(&stack, "second", VISIBILITY_TIMEOUT_SECS);
    let restarted = |frame: &Value| of(&id)(frame) && frame["status"] == "processing" && frame["percent"].is_null();
    socket.wait_for("media.progress", PATIENCE, restarted).await;
    let reclaimed_after = killed_at.elapsed();
    // The second worker, at start, removed the folder the first left with the job's files in
    // it (nobody held its lock any more), and works in a folder of its own.
    let folders = work_folders(stack.data_dir());
    assert!(!first_folder.exists(), "{} left behind: {folders:?}", first_folder.display());
    assert_eq!(folders.len(), 1, "{folders:?}");
    let ready = socket.wait_for("media.ready", PATIENCE, of(&id)).await;
    let second_run = killed_at.elapsed() - reclaimed_after;
    assert_eq!(ready["media"]["status"], "ready", "{ready}");
    assert_eq!(ready["media"]["variants"], json!(["mp4", "poster"]), "{ready}");
    assert!(ready["media"]["duration_ms"].as_u64().is_some_and(|ms| (14_000..=16_000).contains(&ms)), "{ready}");
    let (status, record) = stack.get(&format!("/api/v1/media/{id}"), &an).await;
    assert_eq!((status, &record["media"]["status"]), (StatusCode::OK, &json!("ready")));
    let names: Vec<&Value> = record["media"]["variants"].as_array().unwrap().iter().map(|v| &v["name"]).collect();
    assert_eq!(names, [&json!("mp4"), &json!("poster")], "{record}");
    let mp4 = stack.download(&an, &id, "mp4").await;
    assert_eq!(&mp4[4..8], b"ftyp", "an MP4");
    assert!(!stack.download(&an, &id, "poster").await.is_empty());

    // The second worker stops cleanly with nothing left in the queue: the job was completed
    // (by the claim that made it ready) and is neither in flight, waiting nor dead.
    let second_log = second.log();
    assert!(second_log.contains(&*first_folder.to_string_lossy()), "the removal is logged: {second_log}");
    assert!(second.terminate().await.success(), "{second_log}");
    assert_eq!(stack.jobs.stats().await.unwrap(), QueueStats::default());
    // Stopped cleanly, it removed its own folder too.
    let left: Vec<_> = std::fs::read_dir(stack.data_dir().join("work")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "{left:?}");

    // Ready once: everything the workers published is on the socket before an event the
    // server publishes after they stopped (one Redis channel, in order). Then count.
    let (_, binh) = stack.register("binh").await;
    let (status, body) = stack.post("/api/v1/friend-requests", &binh, json!({"user_id": an_id})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    socket.wait_for("friend.request", PATIENCE, |_| true).await;
    assert_eq!(socket.count("media.ready", of(&id)), 1, "media.ready sent more than once: {:#?}", socket.seen);
    assert_eq!(socket.count("media.failed", of(&id)), 0, "{:#?}", socket.seen);
    // Two runs started (the killed one and its successor): the successor, whose transcode
    // outlived the timeout, kept its claim, so no third worker slot took the job again.
    let started = |frame: &Value| of(&id)(frame) && frame["status"] == "processing" && frame["percent"].is_null();
    assert_eq!(socket.count("media.progress", started), 2, "{:#?}\n{second_log}", socket.seen);
    eprintln!(
        "reclaimed {reclaimed_after:?} after the kill (timeout {VISIBILITY_TIMEOUT_SECS} s); the second run took \
         {second_run:?}; the killed worker left {orphans} process(es) running"
    );
}
