//! A test server on 127.0.0.1:0 with a hand-moved clock, and small HTTP/WebSocket clients.

use std::sync::Arc;
use std::time::Duration;

use chat_core::app::Limits;
use chat_core::testkit::ManualClock;
use chat_fcm::FcmPushSender;
use chat_fcm::testing::FakeFcm;
use chat_http::HttpConfig;
use chat_postgres::testing::TestDatabase;
use chat_redis::testing::TestRedis;
use chat_s3::S3BlobStore;
use chat_s3::testing::TestS3;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame that must come.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Which store a test server runs on.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    Memory,
    Postgres,
}

impl Store {
    /// The adapter name `/ready` reports for this store.
    pub fn adapter_name(self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Postgres => "postgres",
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub clock: Arc<ManualClock>,
    /// The server's ports, for what no endpoint starts (the periodic media cleanup).
    pub deps: chat_core::app::Deps,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub stopped: Option<tokio::task::JoinHandle<()>>,
    /// Dropped after the server: the throwaway database of a Postgres run.
    _database: Option<TestDatabase>,
    /// Dropped after the server: where its media went.
    _blobs: BlobPlace,
    /// The media worker's directory.
    _work: tempfile::TempDir,
    /// Stops the media worker when the server stops.
    worker_stop: tokio_util::sync::CancellationToken,
}

/// The clamd the suite runs against (`scripts/test` starts it).
pub fn clamd_addr() -> String {
    std::env::var("CLAMD_ADDR").unwrap_or_else(|_| "127.0.0.1:3310".into())
}

/// A media worker over `deps`, as in embedded mode, scanning files with the clamd at
/// `clamd`, until `stop`.
pub fn spawn_worker(
    deps: &chat_core::app::Deps,
    work: &std::path::Path,
    clamd: &str,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let processing = chat_server::ProcessingSettings {
        clamd_addr: Some(clamd.to_owned()),
        no_virus_scan: false,
        media_workers: None,
    };
    let (processors, _) = processing.processors(work).unwrap();
    let lease_renewal = chat_core::domain::job::JobPolicy::production().lease_renewal_interval();
    let worker = chat_server::run_media_worker(
        deps.clone(),
        processors,
        "e2e".into(),
        2,
        Duration::from_secs(5),
        lease_renewal,
        stop,
    );
    tokio::spawn(worker)
}

/// What a test server's store and shared services are.
#[derive(Clone, Copy)]
enum Backend<'a> {
    /// A store of its own, with in-process shared services.
    Own(Store),
    /// A node of a deployment: a shared Postgres and Redis.
    Cluster { database: &'a TestDatabase, redis: &'a TestRedis },
}

/// The Postgres and Redis (a key prefix of its own) that several test servers share, as the
/// nodes of one deployment do.
pub struct Cluster<'a> {
    pub database: &'a TestDatabase,
    pub redis: &'a TestRedis,
}

/// Push for a test server: where the notifications go, and whether this server runs a push
/// worker (without one it only queues, as a server would while its workers are down).
#[derive(Clone, Copy)]
pub struct PushSetup<'a> {
    pub fake: &'a FakeFcm,
    pub worker: bool,
}

/// A push worker's jobs run one at a time in the e2e tests: the queue hands jobs out in the
/// order they were queued, so a push seen for a later event proves every earlier job has
/// finished. That is how a test shows that something was *not* sent without sleeping.
pub const PUSH_WORKER_CONCURRENCY: usize = 1;

/// A fake FCM judging time by the real clock, as the sender (`spawn_push_worker`) does: the
/// servers' hand-moved clocks would make its OAuth checks depend on each test's moves.
pub async fn fake_fcm() -> FakeFcm {
    FakeFcm::start(Arc::new(chat_system::SystemClock)).await
}

/// A push worker over `deps` (whose `push_jobs` must be set) sending to `fake` through the
/// real FCM sender, until `stop`.
pub fn spawn_push_worker(
    deps: &chat_core::app::Deps,
    fake: &FakeFcm,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    assert!(deps.push_jobs.is_some(), "a push worker needs the push queue");
    let sender = FcmPushSender::new(fake.config(Duration::from_secs(10)), Arc::new(chat_system::SystemClock)).unwrap();
    tokio::spawn(chat_server::run_push_worker(
        deps.clone(),
        Arc::new(sender),
        "e2e-push".into(),
        PUSH_WORKER_CONCURRENCY,
        stop,
    ))
}

/// Where a test server's media bytes are kept; removed when the test ends.
pub enum BlobPlace {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Bucket(Option<Box<TestS3>>),
}

impl Drop for BlobPlace {
    fn drop(&mut self) {
        if let BlobPlace::Bucket(bucket) = self
            && let Some(bucket) = bucket.take()
        {
            // Best effort, on a runtime of its own: the test's runtime may be shutting down.
            std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    runtime.block_on(bucket.cleanup());
                }
            });
        }
    }
}

/// A registered user with one logged-in session.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
    pub refresh_token: String,
}

impl TestServer {
    /// A server with default settings. On `Store::Postgres` it fails the test when no Postgres
    /// is reachable.
    pub async fn start(store: Store) -> TestServer {
        TestServer::start_with(store, Limits::default(), HttpConfig::default()).await
    }

    /// Embedded mode keeps media in a directory of its own served by the server's blob
    /// endpoint; the Postgres runs keep them in a bucket of their own on the test S3 server.
    pub async fn start_with(store: Store, limits: Limits, config: HttpConfig) -> TestServer {
        TestServer::start_with_worker(store, limits, config, true).await
    }

    /// As `start_with`; without a media worker when `with_worker` is false (the test runs its
    /// own with `spawn_worker`).
    pub async fn start_with_worker(store: Store, limits: Limits, config: HttpConfig, with_worker: bool) -> TestServer {
        TestServer::assemble(Backend::Own(store), limits, config, with_worker, None).await
    }

    /// A server with push on (issue 16): its use cases queue push jobs (in process), and a
    /// push worker sends them to `fake`. No media worker: push tests send media messages
    /// whose attachments are uploaded, not processed.
    pub async fn start_with_push(store: Store, fake: &FakeFcm) -> TestServer {
        let push = PushSetup { fake, worker: true };
        TestServer::assemble(Backend::Own(store), Limits::default(), HttpConfig::default(), false, Some(push)).await
    }

    /// One node of a deployment on `cluster`'s Postgres and Redis (events, presence, rate
    /// limits and queues shared through Redis; media on a disk of its own). With `push`, its
    /// use cases queue push jobs on the shared Redis queue, and it runs a push worker when
    /// `push.worker` says so.
    pub async fn start_node(cluster: &Cluster<'_>, push: Option<PushSetup<'_>>) -> TestServer {
        let backend = Backend::Cluster { database: cluster.database, redis: cluster.redis };
        TestServer::assemble(backend, Limits::default(), HttpConfig::default(), false, push).await
    }

    /// A server for the call tests (issue 17): `limits` (call timings shortened, so a test moves
    /// the clock by little), no media worker, and with `call_timers` the timer task
    /// `chat_server::run` spawns. Without it a test fires due timers itself
    /// (`signaling::fire_due_timers`), and so knows they have fired when that returns.
    pub async fn start_for_calls(store: Store, limits: Limits, call_timers: bool) -> TestServer {
        let server = TestServer::assemble(Backend::Own(store), limits, HttpConfig::default(), false, None).await;
        if call_timers {
            let every = chat_server::CALL_TIMER_INTERVAL;
            chat_server::spawn_call_timers(server.deps.clone(), every, server.worker_stop.clone());
        }
        server
    }

    async fn assemble(
        backend: Backend<'_>,
        limits: Limits,
        config: HttpConfig,
        with_worker: bool,
        push: Option<PushSetup<'_>>,
    ) -> TestServer {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let secret = b"an end-to-end test secret of 32+ bytes";
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared = match backend {
            Backend::Own(_) => chat_server::SharedServices::in_process(chat_core::domain::job::JobPolicy::production()),
            Backend::Cluster { redis, .. } => {
                chat_server::redis_services(redis.connection().await, chat_core::domain::job::JobPolicy::production())
            }
        };
        let push_jobs = shared.push_jobs.clone();
        let (mut deps, database, blob_routes, blob_place) = match backend {
            Backend::Own(Store::Memory) => {
                let dir = tempfile::tempdir().unwrap();
                let wiring =
                    chat_server::disk_blobs(dir.path(), &format!("http://{address}"), secret, shared.claims.clone())
                        .unwrap();
                let store = Arc::new(chat_memory::MemoryStore::new());
                let deps = chat_server::assemble_deps_with(store, shared, limits, clock.clone(), secret, wiring.blobs)
                    .unwrap();
                (deps, None, wiring.routes, BlobPlace::Directory(dir))
            }
            Backend::Own(Store::Postgres) => {
                let database = TestDatabase::create().await;
                let pg = Arc::new(database.store(8).await);
                let s3 = TestS3::create().await;
                let blobs = Arc::new(S3BlobStore::new(s3.config.clone()).unwrap());
                let deps = chat_server::assemble_deps_with(pg, shared, limits, clock.clone(), secret, blobs).unwrap();
                (deps, Some(database), None, BlobPlace::Bucket(Some(Box::new(s3))))
            }
            Backend::Cluster { database, .. } => {
                let dir = tempfile::tempdir().unwrap();
                let wiring =
                    chat_server::disk_blobs(dir.path(), &format!("http://{address}"), secret, shared.claims.clone())
                        .unwrap();
                let pg = Arc::new(database.store(8).await);
                let deps =
                    chat_server::assemble_deps_with(pg, shared, limits, clock.clone(), secret, wiring.blobs).unwrap();
                (deps, None, wiring.routes, BlobPlace::Directory(dir))
            }
        };
        // The media worker, in process as in embedded mode, with the real processors: images
        // here, ffmpeg and clamd as `scripts/test` brings them up.
        let work = tempfile::tempdir().unwrap();
        let worker_stop = tokio_util::sync::CancellationToken::new();
        if with_worker {
            spawn_worker(&deps, work.path(), &clamd_addr(), worker_stop.clone());
        }
        if let Some(push) = push {
            // As `chat_server::run` does when FCM is configured.
            deps.push_jobs = Some(push_jobs);
            if push.worker {
                spawn_push_worker(&deps, push.fake, worker_stop.clone());
            }
        }
        let (router, state) = chat_http::app(deps.clone(), config);
        let router = match blob_routes {
            Some(routes) => router.merge(routes),
            None => router,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            chat_http::serve(listener, router, state, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            base: format!("http://{address}"),
            clock,
            deps,
            http: reqwest::Client::new(),
            stop: Some(stop),
            stopped: Some(server),
            _database: database,
            _blobs: blob_place,
            _work: work,
            worker_stop,
        }
    }

    /// Asks the server to shut down (as SIGTERM would).
    pub fn shutdown(&mut self) {
        self.worker_stop.cancel();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn register(&self, username: &str) -> User {
        let body = json!({"username": username, "password": "mật khẩu 123", "display_name": username});
        let (status, value) = self.post("/api/v1/auth/register", None, body).await;
        assert_eq!(status, StatusCode::CREATED, "{value}");
        User {
            id: value["user"]["id"].as_str().unwrap().to_owned(),
            username: username.to_owned(),
            token: value["access_token"].as_str().unwrap().to_owned(),
            refresh_token: value["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A new session (another device) of an existing user.
    pub async fn login(&self, user: &User) -> User {
        let body = json!({"username": user.username, "password": "mật khẩu 123", "device_name": "second phone"});
        let (status, value) = self.post("/api/v1/auth/login", None, body).await;
        assert_eq!(status, StatusCode::OK, "{value}");
        User {
            token: value["access_token"].as_str().unwrap().to_owned(),
            refresh_token: value["refresh_token"].as_str().unwrap().to_owned(),
            ..user.clone()
        }
    }

    pub async fn direct(&self, a: &User, b: &User) -> String {
        let (status, value) =
            self.post("/api/v1/conversations", Some(a), json!({"kind": "direct", "user_id": b.id})).await;
        assert!(status.is_success(), "{value}");
        value["conversation"]["id"].as_str().unwrap().to_owned()
    }

    /// Makes two users friends: `a` asks, `b` accepts.
    pub async fn befriend(&self, a: &User, b: &User) {
        let (status, sent) = self.post("/api/v1/friend-requests", Some(a), json!({"user_id": b.id})).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        let id = sent["request"]["id"].as_str().unwrap();
        let (status, accepted) = self.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(b), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{accepted}");
    }

    pub async fn send_text(&self, user: &User, conversation: &str, body: &str) -> (StatusCode, Value) {
        let payload = json!({"client_msg_id": uuid::Uuid::now_v7(), "body": body});
        self.post(&format!("/api/v1/conversations/{conversation}/messages"), Some(user), payload).await
    }

    pub async fn post(&self, path: &str, user: Option<&User>, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, user, Some(body)).await
    }

    pub async fn get(&self, path: &str, user: &User) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, Some(user), None).await
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        user: Option<&User>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(user) = user {
            request = request.bearer_auth(&user.token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A socket authenticated with the first-frame handshake, past its `ready` frame.
    pub async fn connect(&self, user: &User) -> Socket {
        let url = format!("{}/ws", self.base.replacen("http", "ws", 1));
        let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut socket = Socket { stream };
        socket.send(json!({"type": "auth", "token": user.token})).await;
        let ready = socket.next().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        assert_eq!(ready["user_id"], user.id.as_str());
        socket
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub struct Socket {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a socket ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    Closed(Option<u16>),
    Dropped,
}

impl Socket {
    pub async fn send(&mut self, frame: Value) {
        self.stream.send(Message::text(frame.to_string())).await.unwrap();
    }

    /// The next JSON frame other than a presence event (those come whenever someone who shares
    /// a conversation connects or leaves); fails the test if none comes in time.
    pub async fn next(&mut self) -> Value {
        loop {
            let frame = self.next_any().await;
            if frame["type"] != "presence" {
                return frame;
            }
        }
    }

    /// The next JSON frame, whatever it is.
    pub async fn next_any(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(FRAME_TIMEOUT, self.stream.next()).await.expect("a frame in time");
            match frame {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame of a given type, skipping others (e.g. conversation.updated).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_any().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next frame of a given type within `wait` (for events that follow a retry's backoff).
    pub async fn next_of_within(&mut self, kind: &str, wait: Duration) -> Value {
        tokio::time::timeout(wait, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let frame: Value = serde_json::from_str(&text).unwrap();
                        if frame["type"] == kind {
                            return frame;
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("the socket ended while waiting for {kind}: {other:?}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {kind} frame within {wait:?}"))
    }

    /// Reads until the server closes, returning the close code.
    pub async fn ending(&mut self) -> Ending {
        loop {
            let frame =
                tokio::time::timeout(FRAME_TIMEOUT, self.stream.next()).await.expect("the socket to end in time");
            match frame {
                Some(Ok(Message::Close(close))) => {
                    return Ending::Closed(close.map(|c| u16::from(c.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ending::Dropped,
            }
        }
    }

    /// Asserts that no event of the given kinds is waiting for this socket (others are
    /// skipped, and so consumed: name every kind to check in one call).
    pub async fn assert_nothing_pending_of(&mut self, kinds: &[&str]) {
        self.send(json!({"type": "heartbeat", "id": "probe"})).await;
        loop {
            let frame = self.next_any().await;
            assert!(!kinds.iter().any(|kind| frame["type"] == *kind), "expected none of {kinds:?}, got {frame}");
            if frame["type"] == "heartbeat.ack" {
                return;
            }
        }
    }

    /// Asserts that no event is waiting for this socket: the server writes queued events
    /// before it reads the next request, so the reply to a heartbeat must come first.
    pub async fn assert_nothing_pending(&mut self) {
        self.send(json!({"type": "heartbeat", "id": "probe"})).await;
        let frame = self.next().await;
        assert_eq!(frame["type"], "heartbeat.ack", "expected nothing pending, got {frame}");
    }
}
