//! The real binary: starts with no configuration, serves, and on SIGTERM closes sockets
//! with 1001 and exits cleanly; with DATABASE_URL, what it stored survives a restart; its
//! logs, written to a pipe, are JSON lines or plain text without colour codes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chat_http::close_code;
use chat_postgres::testing::TestDatabase;
use serde_json::{Value, json};

use crate::support::{Ending, Socket};

/// A `chat-server` process on a free port.
pub struct Server {
    child: Child,
    pub base: String,
    port: u16,
    data_dir: PathBuf,
    /// Readers of stdout and stderr when they are piped to the test (they read as the server
    /// runs, so a full pipe never stalls it).
    output: Option<[std::thread::JoinHandle<String>; 2]>,
}

/// What a server wrote, once it exited.
pub struct Output {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Server {
    async fn spawn(database_url: Option<&str>, data_dir: PathBuf) -> Server {
        let mut env = Vec::new();
        let mut args = Vec::new();
        if let Some(url) = database_url {
            env.push(("DATABASE_URL", url.to_owned()));
            args.push("--migrate");
        }
        Server::spawn_with(&env, &args, data_dir).await
    }

    /// A server with the given environment (on top of a clean one) and arguments.
    pub async fn spawn_with(env: &[(&str, String)], args: &[&str], data_dir: PathBuf) -> Server {
        Server::start(env, args, data_dir, false).await
    }

    /// A server whose stdout and stderr are pipes the test reads, logging at `info`.
    pub async fn spawn_piped(args: &[&str], data_dir: PathBuf) -> Server {
        Server::start(&[("RUST_LOG", "info".to_owned())], args, data_dir, true).await
    }

    async fn start(env: &[(&str, String)], args: &[&str], data_dir: PathBuf, piped: bool) -> Server {
        // Reserve a free port, then hand it to the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_chat-server"));
        let output = || if piped { Stdio::piped() } else { Stdio::null() };
        command
            .env("CHAT_LISTEN", format!("127.0.0.1:{port}"))
            .env("CHAT_DATA_DIR", &data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("CHAT_LOG_FORMAT")
            .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
            .args(args)
            .stdout(output())
            .stderr(output());
        let mut child = command.spawn().unwrap();
        let output = piped.then(|| [read_all(child.stdout.take().unwrap()), read_all(child.stderr.take().unwrap())]);
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), port, data_dir, output };
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if http.get(format!("{}/ready", server.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await; // polling for start-up, not synchronising
        }
        panic!("chat-server did not become ready");
    }

    /// The socket URL of this server for a token.
    pub fn ws(&self, token: &str) -> String {
        format!("ws://127.0.0.1:{}/ws?token={token}", self.port)
    }

    /// SIGKILL: the process dies without closing anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = reqwest::Client::new().post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        let request = reqwest::Client::new().get(format!("{}{path}", self.base)).bearer_auth(token);
        request.send().await.unwrap().json().await.unwrap()
    }

    /// SIGTERM, then the exit status.
    pub async fn terminate(self) -> std::process::ExitStatus {
        self.terminate_with_output().await.status
    }

    /// SIGTERM, then the exit status and, when piped, everything the server wrote.
    pub async fn terminate_with_output(mut self) -> Output {
        let killed = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        tokio::task::spawn_blocking(move || {
            let status = self.child.wait().unwrap();
            // The pipes close when the process exits, so the readers finish.
            let [stdout, stderr] =
                self.output.take().map(|readers| readers.map(|r| r.join().unwrap())).unwrap_or_default();
            Output { status, stdout, stderr }
        })
        .await
        .unwrap()
    }
}

/// Reads a pipe to its end on a thread of its own.
fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    })
}

/// The environment of one node of a deployment on `database` and `redis`: every node gets
/// the same key prefix (one deployment; `TestRedis` deletes its keys afterwards) and the same
/// token secret (a token one node issued is accepted by the others).
pub fn cluster_env(database: &TestDatabase, redis: &chat_redis::testing::TestRedis) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database.url.clone()),
        ("REDIS_URL", redis.url.clone()),
        ("CHAT_REDIS_PREFIX", redis.prefix.clone()),
        ("JWT_SECRET", "a secret both nodes share, 32+ bytes long".to_owned()),
    ]
}

pub fn temp_data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("chat-server-test-{}", uuid::Uuid::now_v7()))
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_and_exits_cleanly() {
    let data_dir = temp_data_dir();
    let server = Server::spawn(None, data_dir.clone()).await;
    let registered = server
        .post("/api/v1/auth/register", None, json!({"username": "an.le", "password": "12345678", "display_name": "An"}))
        .await;
    let token = registered["access_token"].as_str().unwrap();
    let url = format!("ws://127.0.0.1:{}/ws?token={token}", server.port);
    let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut socket = Socket { stream };
    assert_eq!(socket.next().await["type"], "ready");
    assert!(server.data_dir.join("jwt_secret").exists(), "the generated JWT secret is kept in the data dir");

    let status = server.terminate().await;
    assert_eq!(socket.ending().await, Ending::Closed(Some(close_code::GOING_AWAY)));
    assert!(status.success(), "exit status {status}");
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_everything_survives_a_restart() {
    let database = TestDatabase::create().await;
    let data_dir = temp_data_dir();
    let server = Server::spawn(Some(&database.url), data_dir.clone()).await;
    let signup = |name: &str| json!({"username": name, "password": "mật khẩu 123", "display_name": name});
    let an = server.post("/api/v1/auth/register", None, signup("an.le")).await;
    let binh = server.post("/api/v1/auth/register", None, signup("binh.tran")).await;
    let an_token = an["access_token"].as_str().unwrap().to_owned();
    let direct = json!({"kind": "direct", "user_id": binh["user"]["id"]});
    let conversation = server.post("/api/v1/conversations", Some(&an_token), direct).await;
    let id = conversation["conversation"]["id"].as_str().unwrap().to_owned();
    let mut sent = Vec::new();
    for body in ["một", "hai", "ba"] {
        let message = json!({"client_msg_id": uuid::Uuid::now_v7(), "body": body});
        sent.push(
            server.post(&format!("/api/v1/conversations/{id}/messages"), Some(&an_token), message).await["message"]
                .clone(),
        );
    }
    assert!(server.terminate().await.success());

    // Same data dir (same JWT secret), same database: a new process picks up where it was.
    let server = Server::spawn(Some(&database.url), data_dir.clone()).await;
    let binh_again =
        server.post("/api/v1/auth/login", None, json!({"username": "binh.tran", "password": "mật khẩu 123"})).await;
    let binh_token = binh_again["access_token"].as_str().expect("binh can still log in");
    let history = server.get(&format!("/api/v1/conversations/{id}/messages"), binh_token).await;
    assert_eq!(history["messages"], Value::Array(sent));
    let list = server.get("/api/v1/conversations", binh_token).await;
    assert_eq!(list["conversations"][0]["unread_count"], 3);
    assert_eq!(list["conversations"][0]["peer"]["username"], "an.le");
    // An access token issued before the restart still works: sessions were stored too.
    let me = server.get("/api/v1/me", &an_token).await;
    assert_eq!(me["username"], "an.le");
    assert!(server.terminate().await.success());
    let _ = std::fs::remove_dir_all(data_dir);
}

/// Every line the server wrote, with the ANSI escape byte (which starts every colour code)
/// nowhere in it.
fn log_lines(output: &Output) -> Vec<&str> {
    assert!(output.status.success(), "exit status {}; stderr: {}", output.status, output.stderr);
    for (name, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        assert!(!text.contains('\u{1b}'), "colour codes in {name} written to a pipe: {text:?}");
    }
    output.stdout.lines().chain(output.stderr.lines()).collect()
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_level_and_message() {
    let data_dir = temp_data_dir();
    let server = Server::spawn_piped(&["--log-format", "json"], data_dir.clone()).await;
    let output = server.terminate_with_output().await;
    let mut messages = Vec::new();
    for line in log_lines(&output) {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert!(["INFO", "WARN"].contains(&entry["level"].as_str().unwrap_or_default()), "{line}");
        messages.push(entry["message"].as_str().unwrap_or_else(|| panic!("no message: {line}")).to_owned());
    }
    for expected in
        ["generated a JWT secret", "chat-server listening", "shutting down: draining sockets", "chat-server stopped"]
    {
        assert!(messages.iter().any(|m| m == expected), "{expected:?} not among {messages:?}");
    }
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test]
async fn text_logs_written_to_a_pipe_have_no_colour_codes() {
    let data_dir = temp_data_dir();
    let server = Server::spawn_piped(&[], data_dir.clone()).await;
    let output = server.terminate_with_output().await;
    let lines = log_lines(&output);
    let listening = lines.iter().find(|line| line.contains("chat-server listening"));
    assert!(listening.is_some_and(|line| line.contains(" INFO ")), "{lines:?}");
    assert!(lines.iter().all(|line| serde_json::from_str::<Value>(line).is_err()), "text by default: {lines:?}");
    let _ = std::fs::remove_dir_all(data_dir);
}
