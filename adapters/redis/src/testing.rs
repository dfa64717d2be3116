//! A Redis for tests (feature `testing`): `REDIS_URL` or the local server, a key prefix of
//! its own per run, and every key under it deleted afterwards. Without a reachable Redis (or a
//! `redis-server` to start) the test fails, naming what is missing and the command that brings
//! it up (`scripts/test`): a test that needs Redis never passes without it.

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
    /// A key prefix of its own on the test Redis. Panics, naming what is missing, when Redis is
    /// not reachable.
    pub async fn create() -> TestRedis {
        let url = server_url();
        let reachable = async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
        };
        if tokio::time::timeout(std::time::Duration::from_secs(3), reachable).await.ok().flatten().is_none() {
            panic!(
                "Redis is not reachable at {url}. Run the suite with `scripts/test`, which starts (or \
                 installs) Postgres and Redis, or set REDIS_URL to a running server."
            );
        }
        TestRedis { url, prefix: format!("test:{}:", uuid::Uuid::now_v7().simple()) }
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
    /// Starts one on `port`. Panics, naming what is missing, when `redis-server` cannot run.
    pub fn start(port: u16) -> OwnRedisServer {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(child) => OwnRedisServer { port, child },
            Err(error) => panic!(
                "redis-server cannot be started ({error}). Run the suite with `scripts/test`, which \
                 installs Redis from Debian's packages when it is missing."
            ),
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
