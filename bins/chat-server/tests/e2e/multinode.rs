//! Two `chat-server` processes on one Postgres and one Redis behave as one server; a Redis
//! outage loses nothing.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use chat_postgres::testing::TestDatabase;
use chat_redis::testing::{OwnRedisServer, TestRedis};
use futures_util::SinkExt;

use crate::process::{Server, cluster_env, temp_data_dir};
use crate::support::Socket;

async fn socket(server: &Server, token: &str) -> Socket {
    let (stream, _) = tokio_tungstenite::connect_async(server.ws(token)).await.unwrap();
    let mut socket = Socket { stream };
    assert_eq!(socket.next().await["type"], "ready");
    socket
}

fn token(auth: &Value) -> String {
    auth["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_act_as_one_server() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let mut env = cluster_env(&database, &redis);
    // A short presence TTL keeps the crash test fast; 60 an hour makes the limit exact.
    env.extend([("CHAT_PRESENCE_TTL_SECS", "3".to_owned()), ("CHAT_RATE_WINDOW_SECS", "3600".to_owned())]);
    let node_1 = Server::spawn_with(&env, &[], temp_data_dir()).await;
    let node_2 = Server::spawn_with(&env, &[], temp_data_dir()).await;
    let signup = |name: &str| json!({"username": name, "password": "mật khẩu 123", "display_name": name});

    let an = node_1.post("/api/v1/auth/register", None, signup("an.le")).await;
    let an_phone =
        node_1.post("/api/v1/auth/login", None, json!({"username": "an.le", "password": "mật khẩu 123"})).await;
    let binh = node_2.post("/api/v1/auth/register", None, signup("binh.tran")).await;
    let (an_token, an_phone_token, binh_token) = (token(&an), token(&an_phone), token(&binh));
    // Friends see each other's presence (the default privacy setting).
    let request = node_1.post("/api/v1/friend-requests", Some(&an_token), json!({"user_id": binh["user"]["id"]})).await;
    let accept = format!("/api/v1/friend-requests/{}/accept", request["request"]["id"].as_str().unwrap());
    node_2.post(&accept, Some(&binh_token), json!({})).await;
    let direct = json!({"kind": "direct", "user_id": binh["user"]["id"]});
    let conversation = node_1.post("/api/v1/conversations", Some(&an_token), direct).await;
    let id = conversation["conversation"]["id"].as_str().unwrap().to_owned();

    let mut binh_socket = socket(&node_2, &binh_token).await;
    let mut an_laptop = socket(&node_1, &an_token).await;
    let mut an_phone_socket = socket(&node_1, &an_phone_token).await;
    let online = binh_socket.next_of("presence").await;
    assert_eq!((online["user_id"].clone(), online["online"].clone()), (an["user"]["id"].clone(), json!(true)));

    // A message from node 1 reaches node 2, and An's other device.
    an_laptop
        .send(json!({"type": "message.send", "id": 1, "conversation_id": id, "client_msg_id": uuid::Uuid::now_v7(), "body": "qua hai máy"}))
        .await;
    let ack = an_laptop.next_of("ack").await;
    for socket in [&mut binh_socket, &mut an_phone_socket] {
        assert_eq!(socket.next_of("message.new").await["message"]["id"], ack["message"]["id"]);
    }
    // Typing and receipts from node 2 reach node 1.
    binh_socket.send(json!({"type": "typing", "conversation_id": id})).await;
    assert_eq!(an_laptop.next_of("typing").await["user_id"], binh["user"]["id"]);
    binh_socket.send(json!({"type": "receipt.read", "id": 2, "conversation_id": id, "seq": 1})).await;
    let receipt = an_phone_socket.next_of("receipt").await;
    assert_eq!((receipt["kind"].as_str(), receipt["seq"].as_u64()), (Some("read"), Some(1)));

    // 70 sends split across both nodes: the one limit admits exactly 60.
    let mut admitted = 0;
    for n in 0..70 {
        let node = if n % 2 == 0 { &node_1 } else { &node_2 };
        let message = json!({"client_msg_id": uuid::Uuid::now_v7(), "body": format!("tin {n}")});
        let reply = node.post(&format!("/api/v1/conversations/{id}/messages"), Some(&binh_token), message).await;
        if reply.get("message").is_some() {
            admitted += 1;
        } else {
            assert_eq!(reply["error"]["code"], "rate_limited", "{reply}");
        }
    }
    assert_eq!(admitted, 60);
    let mut last_seen_by_an = 1;
    for _ in 0..60 {
        last_seen_by_an = an_laptop.next_of("message.new").await["message"]["seq"].as_u64().unwrap();
    }
    assert_eq!(last_seen_by_an, 61);

    // Node 1 dies without a word: An shows offline to Binh once the presence TTL runs out.
    node_1.kill();
    let offline = binh_socket.next_of("presence").await;
    assert_eq!((offline["user_id"].clone(), offline["online"].clone()), (an["user"]["id"].clone(), json!(false)));

    // Binh keeps writing; An comes back on node 2 and sync returns exactly what was missed.
    let mut missed = Vec::new();
    for body in ["còn đó không?", "gọi lại nhé"] {
        let message = json!({"client_msg_id": uuid::Uuid::now_v7(), "body": body});
        let admitted = node_2.post(&format!("/api/v1/conversations/{id}/messages"), Some(&an_token), message).await;
        missed.push(admitted["message"]["seq"].as_u64().unwrap());
    }
    let mut an_again = socket(&node_2, &an_token).await;
    an_again.send(json!({"type": "sync", "id": "s", "since": {id.clone(): last_seen_by_an}})).await;
    let mut replayed = Vec::new();
    loop {
        let frame = an_again.next().await;
        match frame["type"].as_str() {
            Some("message.new") => replayed.push(frame["message"]["seq"].as_u64().unwrap()),
            Some("ack") => break,
            _ => {}
        }
    }
    assert_eq!(replayed, missed, "everything sent meanwhile, once, in order");
    an_again.stream.close(None).await.ok();
    binh_socket.stream.send(Message::Close(None)).await.ok();
    assert!(node_2.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_loses_no_message_and_clients_resync() {
    let database = TestDatabase::create().await;
    let port = OwnRedisServer::free_port();
    let redis = OwnRedisServer::start(port);
    let env = vec![
        ("DATABASE_URL", database.url.clone()),
        ("REDIS_URL", redis.url()),
        ("JWT_SECRET", "a secret both nodes share, 32+ bytes long".to_owned()),
    ];
    let node = Server::spawn_with(&env, &[], temp_data_dir()).await;
    let signup = |name: &str| json!({"username": name, "password": "mật khẩu 123", "display_name": name});
    let an = node.post("/api/v1/auth/register", None, signup("an.le")).await;
    let binh = node.post("/api/v1/auth/register", None, signup("binh.tran")).await;
    let (an_token, binh_token) = (token(&an), token(&binh));
    let direct = json!({"kind": "direct", "user_id": binh["user"]["id"]});
    let id = node.post("/api/v1/conversations", Some(&an_token), direct).await["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut binh_socket = socket(&node, &binh_token).await;

    redis.stop();
    // Sends are stored and acknowledged; this node's own sockets still get them.
    let message = json!({"client_msg_id": uuid::Uuid::now_v7(), "body": "Redis đang nghỉ"});
    let sent = node.post(&format!("/api/v1/conversations/{id}/messages"), Some(&an_token), message).await;
    assert_eq!(sent["message"]["seq"], 1, "{sent}");
    assert_eq!(binh_socket.next_of("message.new").await["message"]["id"], sent["message"]["id"]);
    // Readiness says what is wrong; logins fail closed while the limiter is unreachable.
    let ready: Value = reqwest::get(format!("{}/ready", node.base)).await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "not_ready", "{ready}");
    assert_eq!(ready["components"]["store"]["ok"], true);
    assert_eq!(ready["components"]["event_bus"]["ok"], false);
    let login = node.post("/api/v1/auth/login", None, json!({"username": "an.le", "password": "mật khẩu 123"})).await;
    assert_eq!(login["error"]["code"], "unavailable", "{login}");

    // Redis comes back: the node resubscribes and tells its clients to sync.
    let redis = OwnRedisServer::start(port);
    assert_eq!(binh_socket.next_of("sync.required").await["type"], "sync.required");
    let login = node.post("/api/v1/auth/login", None, json!({"username": "an.le", "password": "mật khẩu 123"})).await;
    assert!(login["access_token"].is_string(), "{login}");
    assert!(node.terminate().await.success());
    redis.stop();
}
