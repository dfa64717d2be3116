//! `GET /api/v1/calls/ice-servers` against a real TURN server: Debian's coturn on loopback with
//! `use-auth-secret`, the way an operator runs it (docs/operations.md, "Calls: TURN"). The
//! credentials the endpoint hands out must allocate a relay with coturn's own test client,
//! and a credential signed with another secret, or expired, must not.
//!
//! `scripts/test` installs coturn (`ensure_coturn` in scripts/services.sh). Without
//! `turnserver` these tests fail, naming what is missing: they never pass unchecked.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chat_core::app::Limits;
use chat_core::domain::ids::UserId;
use chat_core::domain::turn::{TurnSecret, turn_credential};
use chat_core::ports::Clock as _;
use chat_http::HttpConfig;
use clap::Parser as _;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::support::{Store, TestServer, User};

/// How long coturn may take to answer its first STUN request.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// A `turnserver` on 127.0.0.1 that relays on 127.0.0.1, killed when dropped.
struct Coturn {
    child: Child,
    port: u16,
    secret: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts coturn with the TURN REST scheme (`use-auth-secret`) and a fresh secret, and
    /// waits until it answers a STUN binding request.
    async fn start() -> Coturn {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let secret = format!("{:032x}", rand::random::<u128>());
        let log = dir.path().join("turnserver.log");
        let child = Command::new("turnserver")
            .args([
                "-n", // no configuration file: only these flags
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                "--use-auth-secret",
                "--realm=test",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                // turnutils_uclient's peers are relay addresses, here on loopback, which coturn
                // refuses as peers unless told otherwise.
                "--allow-loopback-peers",
                "--log-file=stdout",
            ])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--static-auth-secret={secret}"))
            // Its SQLite user database and pid file in our directory, not under /var.
            .arg(format!("--userdb={}", dir.path().join("turndb").display()))
            .arg(format!("--pidfile={}", dir.path().join("turnserver.pid").display()))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("turnserver.err")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start turnserver ({e}): install coturn (scripts/test does, see ensure_coturn)")
            });
        let mut coturn = Coturn { child, port, secret, log, _dir: dir };
        coturn.wait_until_it_answers_stun().await;
        coturn
    }

    /// Sends STUN binding requests until one is answered: coturn is then listening, and the
    /// `stun:` URL the endpoint derives from the TURN URL works.
    async fn wait_until_it_answers_stun(&mut self) {
        let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        socket.connect((Ipv4Addr::LOCALHOST, self.port)).await.unwrap();
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        let transaction: [u8; 12] = rand::random();
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        request.extend_from_slice(&transaction);
        let mut reply = [0u8; 512];
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("turnserver exited ({status}) before answering:\n{}", self.log());
            }
            assert!(tokio::time::Instant::now() < deadline, "turnserver did not answer STUN:\n{}", self.log());
            socket.send(&request).await.unwrap();
            // Each request waits a little for its answer; an unanswered one is sent again.
            if let Ok(Ok(length)) = tokio::time::timeout(Duration::from_millis(200), socket.recv(&mut reply)).await {
                assert!(length >= 20, "a STUN answer has a 20-byte header");
                assert_eq!(reply[..2], [0x01, 0x01], "not a binding success response");
                assert_eq!(reply[8..20], transaction, "the answer is to another request");
                return;
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on 127.0.0.1 for both UDP and TCP (coturn listens on both).
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_ok() {
            return port;
        }
    }
}

/// What `turnutils_uclient` made of a TURN username and password: it allocates two relays
/// (`-y`: its clients talk to each other through them) and sends one message each way.
struct Relayed {
    success: bool,
    output: String,
}

impl Relayed {
    /// Messages that crossed the relays, from its closing `tot_send_msgs=N, tot_recv_msgs=M`.
    fn messages_received(&self) -> u64 {
        self.output
            .lines()
            .filter_map(|line| line.split_once("tot_recv_msgs=")?.1.split(|c: char| !c.is_ascii_digit()).next())
            .filter_map(|count| count.parse().ok())
            .max()
            .unwrap_or(0)
    }
}

async fn uclient(port: u16, username: &str, credential: &str) -> Relayed {
    let mut command = Command::new("timeout");
    // coreutils' timeout kills a client that would hang; it exits on its own in seconds.
    command.args(["30", "turnutils_uclient", "-y", "-n", "1", "-p", &port.to_string(), "-u", username, "-w"]);
    command.args([credential, "127.0.0.1"]);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap_or_else(|e| {
        panic!("cannot run turnutils_uclient ({e}): install coturn (scripts/test does, see ensure_coturn)")
    });
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Relayed { success: output.status.success(), output: text }
}

async fn ice_servers(server: &TestServer, user: Option<&User>) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new().get(format!("{}/api/v1/calls/ice-servers", server.base));
    if let Some(user) = user {
        request = request.bearer_auth(&user.token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let cache = response.headers().get(header::CACHE_CONTROL).map(|value| value.to_str().unwrap().to_owned());
    (status, cache, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handed_out_credentials_allocate_a_relay_on_coturn() {
    let coturn = Coturn::start().await;
    let turn_urls = format!("turn:127.0.0.1:{0}?transport=udp,turn:127.0.0.1:{0}?transport=tcp", coturn.port);
    // The settings as an operator gives them to chat-server.
    let config = chat_server::Config::try_parse_from([
        "chat-server",
        "--turn-urls",
        &turn_urls,
        "--turn-shared-secret",
        &coturn.secret,
        "--turn-credential-ttl-secs",
        "600",
    ])
    .unwrap();
    let limits = Limits { ice: config.calls.ice().unwrap(), ..Limits::default() };
    let server = TestServer::start_with(Store::Memory, limits, HttpConfig::default()).await;
    let an = server.register("an.le").await;

    let (status, cache, body) = ice_servers(&server, Some(&an)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(cache.as_deref(), Some("private, no-store"));
    let expiry = server.clock.now().timestamp() + 600;
    let turn = &body["ice_servers"][1];
    let (username, credential) = (turn["username"].as_str().unwrap(), turn["credential"].as_str().unwrap());
    assert_eq!(
        body,
        json!({
            "ice_servers": [
                {"urls": [format!("stun:127.0.0.1:{}", coturn.port)]},
                {
                    "urls": [
                        format!("turn:127.0.0.1:{}?transport=udp", coturn.port),
                        format!("turn:127.0.0.1:{}?transport=tcp", coturn.port),
                    ],
                    "username": format!("{expiry}:{}", an.id),
                    "credential": credential,
                },
            ],
            "ttl_secs": 600,
        })
    );

    let relayed = uclient(coturn.port, username, credential).await;
    assert!(relayed.success, "coturn refused the handed-out credential:\n{}\n{}", relayed.output, coturn.log());
    assert!(relayed.messages_received() > 0, "nothing crossed the relay:\n{}", relayed.output);

    // Another user gets a credential of their own, which works too.
    let binh = server.register("binh").await;
    let (_, _, theirs) = ice_servers(&server, Some(&binh)).await;
    let their_username = theirs["ice_servers"][1]["username"].as_str().unwrap();
    assert_eq!(their_username, format!("{expiry}:{}", binh.id));
    assert_ne!(theirs["ice_servers"][1]["credential"], turn["credential"]);

    // A credential signed with another secret, and one whose expiry has passed, allocate nothing.
    let user: UserId = an.id.parse().unwrap();
    let expires_at = chrono::DateTime::from_timestamp(expiry, 0).unwrap();
    let forged = turn_credential(&TurnSecret::new("not-the-shared-secret").unwrap(), user, expires_at);
    assert_eq!(forged.username, username);
    let secret = TurnSecret::new(coturn.secret.as_str()).unwrap();
    let expired = turn_credential(&secret, user, chrono::Utc::now() - chrono::Duration::seconds(5));
    for (what, credential) in [("forged", &forged), ("expired", &expired)] {
        let refused = uclient(coturn.port, &credential.username, &credential.credential).await;
        assert!(!refused.success, "coturn accepted a {what} credential:\n{}", refused.output);
        assert!(refused.output.contains("Cannot complete Allocation"), "{what}:\n{}", refused.output);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_turn_settings_the_list_is_empty_and_still_needs_a_login() {
    let server = TestServer::start(Store::Memory).await;
    let (status, _, body) = ice_servers(&server, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{body}");

    let an = server.register("an.le").await;
    let (status, _, body) = ice_servers(&server, Some(&an)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"ice_servers": [], "ttl_secs": 3600}));
}
