//! The process wrapper: a hung ffmpeg is killed with its process group at the deadline and
//! leaves no files; a run outlives the thread that started it; the probe reports what the
//! real ffprobe sees. (A worker killed mid-run taking its ffmpeg along: `parent_death.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_core::domain::error::PortError;
use chat_core::domain::media::{LocalFile, StreamKind};
use chat_core::ports::AvProcessor;
use chat_ffmpeg::process::{Runner, Stdout};
use chat_ffmpeg::{Ffmpeg, FfmpegConfig};
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_ffmpeg_is_killed_at_the_timeout_and_leaves_no_files() {
    require_tools();
    let samples = samples(&["vp8.webm"], None);
    let stopped = Arc::new(Mutex::new(Vec::new()));
    let hook = {
        let stopped = stopped.clone();
        Arc::new(move |program: &str, pid: u32| {
            if program == "ffmpeg" {
                // As if it hung: stopped, it never finishes and never reads or writes again.
                kill(Pid::from_raw(pid as i32), Signal::SIGSTOP).unwrap();
                stopped.lock().unwrap().push(pid);
            }
        })
    };
    let timeout = Duration::from_secs(2);
    let processor = Ffmpeg::new(FfmpegConfig { timeout, ..FfmpegConfig::default() }).with_spawn_hook(hook);
    let out = out_dir();
    let started = Instant::now();
    let outcome = processor.transcode_video(&LocalFile::new(sample(&samples, "vp8.webm")), out.path(), &|_| {}).await;
    match outcome {
        Err(PortError::Unavailable(message)) => assert!(message.contains("timed out"), "{message}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() >= timeout);
    let stopped = stopped.lock().unwrap().clone();
    assert_eq!(stopped.len(), 1, "one ffmpeg was started and stopped");
    // Killed and reaped: the pid (and its group) no longer exists.
    assert_eq!(kill(Pid::from_raw(stopped[0] as i32), None), Err(nix::errno::Errno::ESRCH));
    assert!(entries(out.path()).is_empty(), "the work directory was removed: {:?}", entries(out.path()));
}

/// The children die with the thread that forked them (the parent-death signal counts
/// threads): a run first polled on a thread that then ends, as a blocking-pool thread retires,
/// must still finish. ffmpeg runs paced (`-re`) for about two seconds, far longer than the
/// kill would take to land had the ended thread been its parent.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_outlives_the_thread_that_started_it() {
    require_tools();
    let (spawned, was_spawned) = tokio::sync::oneshot::channel::<u32>();
    let spawned = Mutex::new(Some(spawned));
    let hook = Arc::new(move |_: &str, pid: u32| {
        if let Some(spawned) = spawned.lock().unwrap().take() {
            spawned.send(pid).unwrap();
        }
    });
    let runner = Runner::new(Duration::from_secs(60), 1, Some(10)).with_spawn_hook(hook);
    let args: Vec<OsString> = ["-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i"]
        .into_iter()
        .chain(["testsrc=size=160x120:rate=10:duration=2", "-f", "null", "-"])
        .map(OsString::from)
        .collect();
    let mut run = Box::pin(async move { runner.run("ffmpeg", &args, Stdout::Collect(1024)).await });

    // Polled on a thread of its own until ffmpeg is spawned; then that thread ends.
    let runtime = tokio::runtime::Handle::current();
    let starter = std::thread::spawn(move || {
        let pid = runtime.block_on(async {
            tokio::select! {
                finished = &mut run => panic!("finished before its spawn was seen: {finished:?}"),
                pid = was_spawned => pid.unwrap(),
            }
        });
        (run, pid)
    });
    let (run, pid) = tokio::task::spawn_blocking(move || starter.join().unwrap()).await.unwrap();

    let finished = run.await.unwrap();
    assert!(finished.status.success(), "ffmpeg ({pid}) ended with {}: {}", finished.status, finished.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_probe_reads_streams_and_rotation() {
    let samples = samples(&["rotated.mov", "vp8.webm"], None);
    let processor = processor();
    let probe = processor.probe(&LocalFile::new(sample(&samples, "rotated.mov"))).await.unwrap().unwrap();
    let video = probe.video().unwrap();
    assert_eq!((video.codec.as_str(), video.rotation, video.display_size()), ("mpeg4", 90, (240, 320)));
    let probe = processor.probe(&LocalFile::new(sample(&samples, "vp8.webm"))).await.unwrap().unwrap();
    assert_eq!(probe.container, "matroska,webm");
    assert_eq!(probe.streams.iter().map(|s| s.kind).collect::<Vec<_>>(), [StreamKind::Video, StreamKind::Audio]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_tool_is_a_port_error_not_a_refusal() {
    let processor = Ffmpeg::new(FfmpegConfig { ffprobe: "/nonexistent/ffprobe".into(), ..FfmpegConfig::default() });
    let outcome = processor.probe(&LocalFile::new("/dev/null")).await;
    assert!(
        matches!(outcome, Err(PortError::Unavailable(ref message)) if message.contains("cannot start")),
        "{outcome:?}"
    );
    assert!(processor.version().await.is_err());
    assert!(common::processor().version().await.unwrap().starts_with(char::is_numeric));
}
