//! A Redis for tests (feature `testing`): `REDIS_URL` or the local server, a key prefix of
//! its own per run, and every key under it deleted afterwards. Without a reachable Redis the
//! suite says so loudly and skips; under `CI=true` that is a failure.

#![allow(clippy::expect_used, clippy::panic)]

use crate::RedisConnection;

pub fn server_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    pub async fn create() -> Option<TestRedis> {
        let url = server_url();
        let reachable = async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
        };
        if tokio::time::timeout(std::time::Duration::from_secs(3), reachable).await.ok().flatten().is_none() {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("CI=true but Redis is not reachable at {url}");
            }
            announce_skip(&format!(
                "\n*** SKIPPED: Redis is not reachable at {url}; set REDIS_URL to run the Redis tests ***\n"
            ));
            return None;
        }
        Some(TestRedis { url, prefix: format!("test:{}:", uuid::Uuid::now_v7().simple()) })
    }

    pub async fn connection(&self) -> RedisConnection {
        RedisConnection::connect(&self.url, &self.prefix, 8).await.expect("redis pool")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (url, pattern) = (self.url.clone(), format!("{}*", self.prefix));
        let _ = std::thread::spawn(move || {
            let client = redis::Client::open(url).ok()?;
            let mut conn = client.get_connection().ok()?;
            let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut conn).ok()?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(keys).query::<i64>(&mut conn).ok()?;
            }
            Some(())
        })
        .join();
    }
}

/// A redis-server of the test's own on a free port, so a test can stop and restart it.
pub struct OwnRedisServer {
    pub port: u16,
    child: std::process::Child,
}

impl OwnRedisServer {
    /// Starts one on `port`; `None` (after a loud message) when redis-server is missing
    /// outside CI.
    pub fn start(port: u16) -> Option<OwnRedisServer> {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(child) => Some(OwnRedisServer { port, child }),
            Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
                panic!("CI=true but redis-server cannot start: {error}")
            }
            Err(error) => {
                announce_skip(&format!("\n*** SKIPPED: redis-server cannot be started ({error}) ***\n"));
                None
            }
        }
    }

    /// A free port to start one on.
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (as an outage would).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Says loudly that a suite was skipped. Written straight to the process's stderr rather than
/// with `eprintln!`, which the test harness captures and hides for passing tests.
fn announce_skip(message: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(message.as_bytes());
}
