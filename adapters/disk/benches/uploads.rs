//! Twenty concurrent 50 MiB uploads through the embedded blob endpoint, served in this
//! process on 127.0.0.1: how much the process's memory grows (bodies are streamed to disk, so
//! it should stay small whatever the upload sizes) and the throughput, next to a plain `cp`
//! of the same bytes on the same disk.
//!
//! `cargo bench -p chat-disk --bench uploads`. The clients (reqwest, bodies streamed) run in
//! a second process, so the memory figures are the server's alone; the server runs with
//! mimalloc, as chat-server does, on hyper's HTTP/1 server with the read buffer capped at
//! 64 KiB as chat-http caps it (`CHAT_DISK_BENCH_READ_BUFFER=417792` measures hyper's default instead: that
//! buffer, grown to its maximum on every connection of a fast upload, is most of the memory).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use axum::body::Bytes;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{MediaId, UserId};
use chat_core::domain::media::BlobKey;
use chat_core::ports::{BlobStore, ClaimKey, ClaimStore};
use chat_disk::{DiskBlobConfig, DiskBlobStore, router};
use chrono::{Duration, Utc};
use uuid::Uuid;

/// chat-server's allocator, so the memory figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const UPLOADS: usize = 20;
const MIB: usize = 1024 * 1024;
const UPLOAD_SIZE: usize = 50 * MIB;
/// The size of the chunks a client sends (phones and reqwest send far smaller ones).
const CHUNK: usize = 64 * 1024;
/// hyper's largest read buffer per connection (chat-http's cap), unless `CHAT_DISK_BENCH_READ_BUFFER` says
/// otherwise (hyper's default is 417_792).
const READ_BUFFER: usize = 64 * 1024;
const READ_BUFFER_VAR: &str = "CHAT_DISK_BENCH_READ_BUFFER";
/// Set in the client process: the signed requests (URL and headers) to upload to, as JSON.
const CLIENT_MODE: &str = "CHAT_DISK_BENCH_UPLOADS";

/// One-time claims for the benchmark's tokens (the real stores live in other adapters).
#[derive(Default)]
struct OnceClaims(Mutex<HashSet<String>>);

#[async_trait]
impl ClaimStore for OnceClaims {
    async fn claim(&self, key: &ClaimKey, _until: Timestamp, _now: Timestamp) -> Result<bool, PortError> {
        Ok(self.0.lock().unwrap().insert(key.as_str().to_owned()))
    }
}

/// A `VmRSS`-style line of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux only)");
    let line = status.lines().find(|line| line.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn mib_per_second(bytes: usize, elapsed: StdDuration) -> f64 {
    bytes as f64 / MIB as f64 / elapsed.as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    match std::env::var(CLIENT_MODE) {
        Ok(requests) => runtime.block_on(upload_all(serde_json::from_str(&requests).unwrap())),
        Err(_) => runtime.block_on(run()),
    }
}

/// The client process: every upload at once, each body streamed from one shared chunk (a
/// clone of `Bytes` shares it), exiting with failure if any is not 200.
async fn upload_all(requests: Vec<(String, Vec<(String, String)>)>) {
    let chunk = content();
    let client = reqwest::Client::new();
    let uploads = requests.into_iter().map(|(url, headers)| {
        let chunks = (0..UPLOAD_SIZE / CHUNK).map({
            let chunk = chunk.clone();
            move |_| Ok::<_, Infallible>(chunk.clone())
        });
        let mut put = client.put(url).body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)));
        for (name, value) in headers {
            put = put.header(name, value);
        }
        put = put.header("content-length", UPLOAD_SIZE);
        tokio::spawn(async move { put.send().await.unwrap().status() })
    });
    for status in futures_util::future::join_all(uploads).await {
        let status = status.unwrap();
        if !status.is_success() {
            eprintln!("upload answered {status}");
            std::process::exit(1);
        }
    }
}

/// The router on hyper's HTTP/1 server, as chat-http's accept loop runs it, with the read
/// buffer capped: each connection's buffer grows to `read_buffer` under a fast upload, and at
/// hyper's default (about 400 KiB) that buffer, not the upload path, is most of the memory.
async fn serve(listener: tokio::net::TcpListener, app: axum::Router, read_buffer: usize) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(read_buffer);
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(app.clone()),
        );
        tokio::spawn(async move { connection.await.unwrap() });
    }
}

/// One chunk of the uploads' content.
fn content() -> Bytes {
    Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

async fn run() {
    let read_buffer = std::env::var(READ_BUFFER_VAR).map_or(READ_BUFFER, |bytes| bytes.parse().unwrap());
    // Under target/, on the disk the store would use; /tmp may be memory.
    let directory = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = DiskBlobConfig {
        root: directory.path().join("blobs"),
        public_base_url: format!("http://{}", listener.local_addr().unwrap()),
        signing_key: Uuid::new_v4().as_bytes().repeat(2),
    };
    let store = Arc::new(DiskBlobStore::open(config, Arc::new(OnceClaims::default())).unwrap());
    tokio::spawn(serve(listener, router(store.clone()), read_buffer));

    let keys: Vec<BlobKey> =
        (0..UPLOADS).map(|_| BlobKey::incoming(UserId(Uuid::now_v7()), MediaId(Uuid::now_v7()))).collect();
    let requests: Vec<(String, Vec<(String, String)>)> = keys
        .iter()
        .map(|key| {
            let request =
                store.presign_put(key, "video/mp4", UPLOAD_SIZE as u64, Utc::now(), Duration::minutes(10)).unwrap();
            (request.url, request.headers)
        })
        .collect();

    // Peak RSS counts from here ("5" resets VmHWM to the current RSS).
    let reset_peak = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = status_kib("VmRSS:");
    let started = Instant::now();
    // The clients are this program again, in a process of its own: what is measured here is
    // the server alone.
    let clients = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CLIENT_MODE, serde_json::to_string(&requests).unwrap())
        .status();
    let clients = tokio::task::spawn_blocking(move || clients).await.unwrap().unwrap();
    let upload_time = started.elapsed();
    let rss_after = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    assert!(clients.success(), "an upload failed");
    for key in &keys {
        assert_eq!(store.head(key).await.unwrap().unwrap().size, UPLOAD_SIZE as u64);
    }

    let chunk = content();
    let (cp_time, sync_time) = copy_with_cp(directory.path(), &chunk);
    let total = UPLOADS * UPLOAD_SIZE;
    println!(
        "== chat-disk: {UPLOADS} concurrent uploads of {} MiB through the blob endpoint (hyper read buffer {} KiB) ==",
        UPLOAD_SIZE / MIB,
        read_buffer / 1024
    );
    println!(
        "uploads:   {:>7.2} s  {:>7.1} MiB/s  (each body streamed, hashed and fsynced)",
        upload_time.as_secs_f64(),
        mib_per_second(total, upload_time)
    );
    println!(
        "cp x{UPLOADS}:    {:>7.2} s  {:>7.1} MiB/s  (20 cp processes at once, not flushed)",
        cp_time.as_secs_f64(),
        mib_per_second(total, cp_time)
    );
    println!(
        "cp + sync: {:>7.2} s  {:>7.1} MiB/s  (the same, then `sync` of the copies)",
        (cp_time + sync_time).as_secs_f64(),
        mib_per_second(total, cp_time + sync_time)
    );
    println!(
        "RSS before {:>6.1} MiB, after {:>6.1} MiB: growth {:>6.1} MiB",
        mib(rss_before),
        mib(rss_after),
        mib(rss_after.saturating_sub(rss_before))
    );
    println!(
        "peak RSS (VmHWM) {:>6.1} MiB: {:>6.1} MiB above the start{}",
        mib(peak),
        mib(peak.saturating_sub(rss_before)),
        if reset_peak { "" } else { " (VmHWM could not be reset: the peak may predate the uploads)" }
    );
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `cp` of one file of the same size into the same directory, twenty processes at once; then
/// `sync`, timed apart, since the uploads are fsynced and a bare `cp` is not.
fn copy_with_cp(directory: &Path, chunk: &[u8]) -> (StdDuration, StdDuration) {
    let source = directory.join("cp-source");
    let mut bytes = Vec::with_capacity(UPLOAD_SIZE);
    while bytes.len() < UPLOAD_SIZE {
        bytes.extend_from_slice(chunk);
    }
    std::fs::write(&source, &bytes).unwrap();
    drop(bytes);
    sync(std::slice::from_ref(&source));
    let started = Instant::now();
    let targets: Vec<_> = (0..UPLOADS).map(|copy| directory.join(format!("cp-{copy}"))).collect();
    let copies: Vec<_> = targets
        .iter()
        .map(|target| std::process::Command::new("cp").arg(&source).arg(target).spawn().unwrap())
        .collect();
    for mut copy in copies {
        assert!(copy.wait().unwrap().success(), "cp failed");
    }
    let cp_time = started.elapsed();
    let started = Instant::now();
    sync(&targets);
    (cp_time, started.elapsed())
}

/// `sync` of these files only (not the whole machine's dirty pages).
fn sync(files: &[std::path::PathBuf]) {
    assert!(std::process::Command::new("sync").args(files).status().unwrap().success(), "sync failed");
}
