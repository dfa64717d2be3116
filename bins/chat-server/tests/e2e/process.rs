//! The real binary: starts with no configuration, serves, and on SIGTERM closes sockets
//! with 1001 and exits cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

use chat_http::close_code;

use crate::support::{Ending, Socket};

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_and_exits_cleanly() {
    // Reserve a free port, then hand it to the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data_dir = std::env::temp_dir().join(format!("chat-server-test-{}", uuid::Uuid::now_v7()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .env("CHAT_LISTEN", format!("127.0.0.1:{port}"))
        .env("CHAT_DATA_DIR", &data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // polling for start-up, not synchronising
    }
    assert!(up, "chat-server did not start");

    let registered: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(
            &serde_json::json!({"username": "an.le", "password": "12345678", "display_name": "An"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["access_token"].as_str().unwrap();
    let (stream, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?token={token}"))
            .await
            .unwrap();
    let mut socket = Socket { stream };
    assert_eq!(socket.next().await["type"], "ready");
    assert!(
        data_dir.join("jwt_secret").exists(),
        "the generated JWT secret is kept in the data dir"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(
        socket.ending().await,
        Ending::Closed(Some(close_code::GOING_AWAY))
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let _ = std::fs::remove_dir_all(data_dir);
}
