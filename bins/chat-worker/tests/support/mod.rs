//! What a test of real `chat-worker` processes needs: the server they work for (in this
//! process, on a throwaway Postgres database and a Redis prefix of its own, with media on disk
//! in a directory the workers share), worker processes that can be killed or stopped, and a
//! phone's side of the API (HTTP and the WebSocket).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::app::Limits;
use chat_core::domain::job::JobPolicy;
use chat_core::ports::JobQueue;
use chat_http::HttpConfig;
use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The server's side: the API on a free port, its job queue, and what the workers share.
pub struct Stack {
    pub base: String,
    /// The queue the workers take from, as the server sees it.
    pub jobs: Arc<dyn JobQueue>,
    database: TestDatabase,
    redis: TestRedis,
    /// The server's and the workers' `CHAT_DATA_DIR`: media under `blobs/`, job files under
    /// `work/`.
    data_dir: tempfile::TempDir,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Stack {
    /// A server on Postgres and Redis (both must be reachable: the test fails otherwise) whose
    /// queue runs under `policy`.
    pub async fn start(policy: JobPolicy) -> Stack {
        let database = TestDatabase::create().await;
        let redis = TestRedis::create().await;
        let data_dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let secret = b"a secret for the worker process tests, 32+ bytes";
        let shared = chat_server::redis_services(redis.connection().await, policy);
        let blobs =
            chat_server::disk_blobs(&data_dir.path().join("blobs"), &base, secret, shared.claims.clone()).unwrap();
        let store = Arc::new(database.store(8).await);
        let clock = Arc::new(chat_system::SystemClock);
        let deps =
            chat_server::assemble_deps_with(store, shared, Limits::default(), clock, secret, blobs.blobs).unwrap();
        let jobs = deps.jobs.clone();
        let (router, state) = chat_http::app(deps, HttpConfig::default());
        let router = router.merge(blobs.routes.unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(chat_http::serve(listener, router, state, async move {
            let _ = stopped.await;
        }));
        Stack { base, jobs, database, redis, data_dir, http: reqwest::Client::new(), stop: Some(stop) }
    }

    /// Where the workers keep their files.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// A new user, logged in: their id and access token.
    pub async fn register(&self, username: &str) -> (String, String) {
        let body = json!({"username": username, "password": "mật khẩu 123", "display_name": username});
        let (status, value) = self.post("/api/v1/auth/register", "", body).await;
        assert_eq!(status, StatusCode::CREATED, "{value}");
        (value["user"]["id"].as_str().unwrap().to_owned(), value["access_token"].as_str().unwrap().to_owned())
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let request = self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body);
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    /// Uploads `bytes` as a phone does (ask, PUT where told, complete): the media's id.
    pub async fn upload(&self, token: &str, kind: &str, filename: &str, content_type: &str, bytes: Vec<u8>) -> String {
        let body = json!({"kind": kind, "filename": filename, "content_type": content_type, "size": bytes.len()});
        let (status, grant) = self.post("/api/v1/media/uploads", token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{grant}");
        let id = grant["media"]["id"].as_str().unwrap().to_owned();
        let signed = &grant["upload"];
        let mut put = self.http.put(signed["url"].as_str().unwrap());
        for (name, value) in signed["headers"].as_object().unwrap() {
            if !name.eq_ignore_ascii_case("content-length") {
                put = put.header(name.as_str(), value.as_str().unwrap());
            }
        }
        let response = put.body(bytes).send().await.unwrap();
        assert!(response.status().is_success(), "PUT answered {}", response.status());
        let (status, completed) = self.post(&format!("/api/v1/media/{id}/complete"), token, json!({})).await;
        assert_eq!((status, completed["media"]["status"].as_str()), (StatusCode::OK, Some("uploaded")), "{completed}");
        id
    }

    /// The bytes of a media's variant, through the content redirect.
    pub async fn download(&self, token: &str, id: &str, variant: &str) -> Vec<u8> {
        let url = format!("{}/api/v1/media/{id}/content?variant={variant}", self.base);
        let response = self.http.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{variant} of {id}");
        response.bytes().await.unwrap().to_vec()
    }

    /// The user's socket, authenticated.
    pub async fn connect(&self, token: &str) -> Socket {
        let (stream, _) =
            tokio_tungstenite::connect_async(format!("{}/ws", self.base.replacen("http", "ws", 1))).await.unwrap();
        let mut socket = Socket { stream, seen: Vec::new() };
        socket.stream.send(Message::text(json!({"type": "auth", "token": token}).to_string())).await.unwrap();
        socket.wait_for("ready", Duration::from_secs(10), |_| true).await;
        socket
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A `chat-worker` process working for the stack; its output goes to a file in the data dir.
/// Killed when dropped (a failed test leaves no worker behind).
pub struct WorkerProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl WorkerProcess {
    /// Starts one named `name` (its log file's name) with a visibility timeout of
    /// `visibility_timeout_secs`.
    pub fn start(stack: &Stack, name: &str, visibility_timeout_secs: u64) -> WorkerProcess {
        let log = stack.data_dir().join(format!("{name}.log"));
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_chat-worker"))
            .env("DATABASE_URL", &stack.database.url)
            .env("REDIS_URL", &stack.redis.url)
            .env("CHAT_REDIS_PREFIX", &stack.redis.prefix)
            .env("CHAT_DATA_DIR", stack.data_dir())
            .env("CHAT_WORKER_METRICS_LISTEN", "127.0.0.1:0")
            .env("CHAT_JOB_VISIBILITY_TIMEOUT_SECS", visibility_timeout_secs.to_string())
            .env("CHAT_LOG_FORMAT", "text")
            .env("RUST_LOG", "info")
            .env_remove("S3_BUCKET")
            .env_remove("CLAMD_ADDR")
            .env_remove("CHAT_WORKER_CONCURRENCY")
            .env_remove("CHAT_JOB_BACKOFF_SECS")
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap();
        WorkerProcess { child: Some(child), log }
    }

    /// SIGKILL: the process dies on the spot, finishing, failing and releasing nothing.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then its exit status once it stopped.
    pub async fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Kills, by their ids, the processes still working in `dir` (whose command line names it):
/// the ffmpeg a SIGKILLed worker started runs on in a process group of its own, as nothing
/// is left to stop it. Returns how many there were.
pub fn kill_orphans_of(dir: &Path) -> usize {
    let dir = dir.to_string_lossy().into_owned();
    let mut killed = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(command_line) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if pid != std::process::id() && String::from_utf8_lossy(&command_line).contains(&dir) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            killed += 1;
        }
    }
    killed
}

/// A WebSocket that remembers every frame it received.
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every JSON frame so far, in order.
    pub seen: Vec<Value>,
}

impl Socket {
    /// The next frame of type `kind` for which `test` holds, waiting up to `patience`.
    pub async fn wait_for(&mut self, kind: &str, patience: Duration, test: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = match tokio::time::timeout(left, self.stream.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Value>(&text).unwrap(),
                Ok(Some(Ok(_))) => continue,
                Ok(other) => panic!("the socket ended waiting for {kind}: {other:?}"),
                Err(_) => panic!("no {kind} within {patience:?}; frames so far: {:#?}", self.seen),
            };
            self.seen.push(frame.clone());
            if frame["type"] == kind && test(&frame) {
                return frame;
            }
        }
    }

    /// How many frames so far are of type `kind` and pass `test`.
    pub fn count(&self, kind: &str, test: impl Fn(&Value) -> bool) -> usize {
        self.seen.iter().filter(|frame| frame["type"] == kind && test(frame)).count()
    }
}

/// A video made by ffmpeg from its test sources (missing ffmpeg fails the test).
pub fn clip(arguments: &[&str], extension: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("clip.{extension}"));
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(arguments)
        .arg(&out)
        .status()
        .expect("ffmpeg runs (scripts/test installs it)");
    assert!(status.success(), "ffmpeg could not make the test clip");
    std::fs::read(out).unwrap()
}
