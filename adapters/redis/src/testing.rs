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
        if tokio::time::timeout(std::time::Duration::from_secs(3), reachable)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("CI=true but Redis is not reachable at {url}");
            }
            eprintln!("\n*** SKIPPED: Redis is not reachable at {url}; set REDIS_URL to run the Redis tests ***\n");
            return None;
        }
        Some(TestRedis {
            url,
            prefix: format!("test:{}:", uuid::Uuid::now_v7().simple()),
        })
    }

    pub async fn connection(&self) -> RedisConnection {
        RedisConnection::connect(&self.url, &self.prefix, 8)
            .await
            .expect("redis pool")
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
