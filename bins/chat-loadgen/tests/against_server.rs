//! The real `chat-loadgen` binary against a real server (embedded mode, in this process),
//! with users made through the HTTP API and written in `chatctl seed-load`'s file format
//! (`seed-search`'s for the search run): every message it sends is acknowledged, every
//! member sees it once, and its report says so.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chat_core::app::Limits;
use chat_http::HttpConfig;
use serde_json::{Value, json};

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    async fn patch(&self, path: &str, token: &str, body: Value) {
        let response =
            self.http.patch(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_run_is_counted_without_loss() {
    let blob_dir = tempfile::tempdir().unwrap();
    let blobs = chat_server::standalone_disk_blobs(blob_dir.path(), "http://127.0.0.1:1").unwrap().blobs;
    let deps = chat_server::embedded_deps(
        Limits::default(),
        Arc::new(chat_system::SystemClock),
        b"a load generator test secret, 32+ bytes",
        blobs,
    )
    .unwrap();
    let (router, state) = chat_http::app(deps, HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(chat_http::serve(listener, router, state, std::future::pending()));
    let api = Api { base: format!("http://{address}"), http: reqwest::Client::new() };

    // Six users: a group of four (0-3) and one of two (4-5); pairs 0-1, 2-3, 4-5.
    let mut users = Vec::new();
    for n in 0..6 {
        let body =
            json!({"username": format!("tai{n}"), "password": "mật khẩu tải", "display_name": format!("Tải {n}")});
        let registered = api.post("/api/v1/auth/register", None, body).await;
        let token = registered["access_token"].as_str().unwrap().to_owned();
        let id = registered["user"]["id"].as_str().unwrap().to_owned();
        api.patch("/api/v1/me/settings", &token, json!({"who_can_add_to_groups": "everyone"})).await;
        users.push((id, token));
    }
    let mut groups = Vec::new();
    for members in [&users[0..4], &users[4..6]] {
        let ids: Vec<&str> = members[1..].iter().map(|(id, _)| id.as_str()).collect();
        let body = json!({"kind": "group", "title": "Nhóm", "member_ids": ids});
        let group = api.post("/api/v1/conversations", Some(&members[0].1), body).await;
        groups.push(group["conversation"]["id"].as_str().unwrap().to_owned());
    }
    let mut directs = Vec::new();
    for pair in users.chunks(2) {
        let body = json!({"kind": "direct", "user_id": pair[1].0});
        let direct = api.post("/api/v1/conversations", Some(&pair[0].1), body).await;
        directs.push(direct["conversation"]["id"].as_str().unwrap().to_owned());
    }
    let seed: Vec<Value> = users
        .iter()
        .enumerate()
        .map(|(n, (id, token))| {
            let group = if n < 4 { &groups[0] } else { &groups[1] };
            json!({"user_id": id, "access_token": token, "direct": directs[n / 2], "group": group})
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("chat-loadgen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users_file = dir.join("users.json");
    std::fs::write(&users_file, serde_json::to_vec(&json!({"tag": "t", "group_size": 4, "users": seed})).unwrap())
        .unwrap();
    let out = dir.join("report.json");

    let loadgen = env!("CARGO_BIN_EXE_chat-loadgen");
    let args = [
        "run",
        "--server",
        &address.to_string(),
        "--users-file",
        users_file.to_str().unwrap(),
        "--scenario",
        "chat",
        "--duration-secs",
        "2",
        "--rate",
        "5",
        "--workers",
        "2",
        "--settle-secs",
        "0",
        "--drain-secs",
        "10",
        "--server-pid",
        &std::process::id().to_string(),
        "--out",
        out.to_str().unwrap(),
    ];
    let status = tokio::process::Command::new(loadgen).args(args).status().await.unwrap();
    assert!(status.success(), "chat-loadgen failed: {status}");
    let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(report["connections"], 6, "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
    let sent = report["sent"].as_u64().unwrap();
    // 6 users × 5 a second × 2 s, give or take the random phase of the first send.
    assert!((50..=70).contains(&sent), "{report}");
    assert_eq!(report["acked"].as_u64(), Some(sent), "every send acknowledged: {report}");
    assert_eq!(report["unanswered"], 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    // Each message reaches the other members: 1 in a direct conversation, 3 or 1 in a group.
    let delivered = report["delivered"].as_u64().unwrap();
    assert!(delivered >= sent && delivered <= 3 * sent, "{report}");
    assert_eq!(report["ack_latency"]["count"].as_u64(), Some(sent), "{report}");
    assert_eq!(report["deliver_latency"]["count"].as_u64(), Some(delivered), "{report}");
    assert!(report["server_rss_connected_kib"].as_u64().unwrap() > 0, "/proc was read: {report}");
}

/// `chat-loadgen search` against the embedded server: it logs in as the benchmark user,
/// checks each query, times searches while a sender sends into their group with the file's
/// bodies, and reports per query shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_run_is_timed_per_shape_while_sending() {
    let blob_dir = tempfile::tempdir().unwrap();
    let blobs = chat_server::standalone_disk_blobs(blob_dir.path(), "http://127.0.0.1:1").unwrap().blobs;
    let deps = chat_server::embedded_deps(
        Limits::default(),
        Arc::new(chat_system::SystemClock),
        b"a load generator test secret, 32+ bytes",
        blobs,
    )
    .unwrap();
    let (router, state) = chat_http::app(deps, HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(chat_http::serve(listener, router, state, std::future::pending()));
    let api = Api { base: format!("http://{address}"), http: reqwest::Client::new() };

    // The benchmark user and one sender share a group holding a few messages.
    let mut users = Vec::new();
    for name in ["tim.kiem", "gui.tin"] {
        let body = json!({"username": name, "password": "mật khẩu tải", "display_name": "Người dùng"});
        let registered = api.post("/api/v1/auth/register", None, body).await;
        let token = registered["access_token"].as_str().unwrap().to_owned();
        api.patch("/api/v1/me/settings", &token, json!({"who_can_add_to_groups": "everyone"})).await;
        users.push((registered["user"]["id"].as_str().unwrap().to_owned(), token));
    }
    let body = json!({"kind": "group", "title": "Nhóm", "member_ids": [users[1].0]});
    let group = api.post("/api/v1/conversations", Some(&users[0].1), body).await;
    let group = group["conversation"]["id"].as_str().unwrap().to_owned();
    for text in ["Không sao đâu", "khong co gi", "Nguyễn Đức gọi", "mã đơn DH123456"] {
        let body = json!({"client_msg_id": uuid::Uuid::now_v7(), "body": text});
        api.post(&format!("/api/v1/conversations/{group}/messages"), Some(&users[1].1), body).await;
    }
    let seed = json!({
        "tag": "t",
        "group_size": 0,
        "users": [{"user_id": users[1].0, "access_token": users[1].1, "direct": null, "group": group}],
        "search": {
            "username": "tim.kiem",
            "password": "mật khẩu tải",
            "queries": [
                {"shape": "common word", "q": "khong", "expected": 2},
                {"shape": "name", "q": "nguyen duc", "expected": 1},
                {"shape": "order code substring", "q": "23456", "expected": 1},
                {"shape": "no hit", "q": "kangaroo", "expected": 0}
            ]
        },
        "sample_bodies": ["chào \"cả nhà\" 👋", "không có gì"]
    });
    let dir = tempfile::tempdir().unwrap();
    let seed_file = dir.path().join("seed.json");
    std::fs::write(&seed_file, serde_json::to_vec(&seed).unwrap()).unwrap();
    let out = dir.path().join("search.json");

    let args = [
        "search",
        "--server",
        &address.to_string(),
        "--seed-file",
        seed_file.to_str().unwrap(),
        "--duration-secs",
        "2",
        "--search-rate",
        "8",
        "--send-rate",
        "5",
        "--workers",
        "1",
        "--drain-secs",
        "10",
        "--out",
        out.to_str().unwrap(),
    ];
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-loadgen")).args(args).status().await.unwrap();
    assert!(status.success(), "chat-loadgen search failed: {status}");
    let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();

    let shapes = report["shapes"].as_array().unwrap();
    let names: Vec<&str> = shapes.iter().map(|s| s["q"].as_str().unwrap()).collect();
    assert_eq!(names, ["khong", "nguyen duc", "23456", "kangaroo"], "{report}");
    for shape in shapes {
        // 8 a second for 2 s over 4 shapes: 4 each.
        assert_eq!(shape["searches"], 4, "{shape}");
        assert_eq!(shape["answered"], 4, "{shape}");
        assert!(shape["p95_ms"].as_f64().unwrap() > 0.0, "{shape}");
    }
    assert_eq!(shapes[0]["first_results"], 2, "{report}");
    assert_eq!(shapes[3]["results_max"], 0, "{report}");
    let sends = &report["sends"];
    let sent = sends["sent"].as_u64().unwrap();
    assert!((5..=15).contains(&sent), "{report}");
    assert_eq!(sends["acked"].as_u64(), Some(sent), "{report}");
    // The sender's messages carry the file's bodies after the timestamp.
    let history = api.get(&format!("/api/v1/conversations/{group}/messages?limit=50"), &users[0].1).await;
    let bodies: Vec<&str> = history["messages"].as_array().unwrap().iter().filter_map(|m| m["body"].as_str()).collect();
    assert!(bodies.iter().any(|b| b.ends_with(" chào \"cả nhà\" 👋") || b.ends_with(" không có gì")), "{bodies:?}");
}
