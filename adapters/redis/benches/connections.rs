//! How commands reach Redis: redis's own `aio::ConnectionManager` (a multiplexed connection
//! that reconnects by itself), one or four of them taken in turn, configured as `lib.rs`
//! does (what `RedisConnection` uses); against what it replaced, a bb8 pool of multiplexed
//! connections whose last checked connection is reused for a second, and the same pool
//! checked out (with a PING) for every command. Two measurements for each:
//!
//! - load: `TASKS` tasks each send `OPS_PER_TASK` commands, alternating `INCR` and an
//!   `EVALSHA` of a small script (the rate limiter's shape), against `REDIS_URL` (or the
//!   local server); reports ops/s and the p50 / p99 latency;
//! - restart: on a redis-server of the bench's own, one `INCR` every 10 ms while the server
//!   is killed and, a second later, started again; reports how long failing commands took,
//!   and how long after the restart commands succeeded again.
//!
//! Run: `cargo bench -p chat-redis --bench connections` (a few seconds per variant).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bb8_redis::RedisConnectionManager;
use chat_redis::testing::OwnRedisServer;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, MultiplexedConnection};

const TASKS: usize = 64;
const OPS_PER_TASK: usize = 500;
const ROUNDS: usize = 5;
/// The reply timeout the replaced pool had (as `lib.rs` has it for the managers, whose whole
/// configuration comes from `chat_redis::command_connection_config`), and the replaced reuse
/// cache's `CHECKED_FOR`.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
const CHECKED_FOR: Duration = Duration::from_secs(1);

/// One way of getting a connection to send a command on.
#[derive(Clone)]
enum Connections {
    /// The pool's connection reused for `CHECKED_FOR`, forgotten on a connection error.
    PoolWithReuse {
        pool: bb8::Pool<RedisConnectionManager>,
        recent: Arc<Mutex<Option<(Instant, MultiplexedConnection)>>>,
    },
    /// A pool checkout (with its PING) for every command.
    PoolEveryCommand(bb8::Pool<RedisConnectionManager>),
    /// Managers taken in turn.
    Managers(Arc<[ConnectionManager]>, Arc<std::sync::atomic::AtomicUsize>),
}

impl Connections {
    async fn build(kind: &str, url: &str) -> redis::RedisResult<Connections> {
        let pool = || async {
            bb8::Pool::builder()
                .max_size(8)
                .connection_timeout(COMMAND_TIMEOUT)
                .build(RedisConnectionManager::new(url).unwrap())
                .await
        };
        Ok(match kind {
            "bb8 pool + reuse cache (replaced)" => {
                Connections::PoolWithReuse { pool: pool().await?, recent: Arc::new(Mutex::new(None)) }
            }
            "bb8 pool, checkout per command" => Connections::PoolEveryCommand(pool().await?),
            _ => {
                let config = chat_redis::command_connection_config();
                let count = if kind.contains("x4") { 4 } else { 1 };
                let client = redis::Client::open(url)?;
                let managers = (0..count)
                    .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config.clone()))
                    .collect::<redis::RedisResult<Arc<[_]>>>()?;
                Connections::Managers(managers, Arc::default())
            }
        })
    }

    /// Sends one command the way the adapter would.
    async fn run(&self, command: Command<'_>) -> redis::RedisResult<i64> {
        match self {
            Connections::PoolWithReuse { pool, recent } => {
                let cached =
                    recent.lock().as_ref().filter(|(at, _)| at.elapsed() < CHECKED_FOR).map(|(_, c)| c.clone());
                let mut connection = match cached {
                    Some(connection) => connection,
                    None => {
                        let mut connection = pool.get().await.map_err(pool_error)?.clone();
                        connection.set_response_timeout(COMMAND_TIMEOUT);
                        *recent.lock() = Some((Instant::now(), connection.clone()));
                        connection
                    }
                };
                let result = command.send(&mut connection).await;
                if let Err(error) = &result
                    && (error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal())
                {
                    *recent.lock() = None;
                }
                result
            }
            Connections::PoolEveryCommand(pool) => {
                let mut connection = pool.get().await.map_err(pool_error)?.clone();
                connection.set_response_timeout(COMMAND_TIMEOUT);
                command.send(&mut connection).await
            }
            Connections::Managers(managers, next) => {
                let turn = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % managers.len();
                command.send(&mut managers[turn].clone()).await
            }
        }
    }
}

/// The commands the bench sends; each answers an integer.
enum Command<'a> {
    Incr(&'a str),
    Eval(&'a redis::Script, &'a str),
    Del(&'a str),
}

impl Command<'_> {
    async fn send(&self, connection: &mut (impl redis::aio::ConnectionLike + Send)) -> redis::RedisResult<i64> {
        match self {
            Command::Incr(key) => redis::cmd("INCR").arg(*key).query_async(connection).await,
            Command::Eval(script, key) => script.key(*key).arg(1).invoke_async(connection).await,
            Command::Del(key) => redis::cmd("DEL").arg(*key).query_async(connection).await,
        }
    }
}

fn pool_error(error: bb8::RunError<redis::RedisError>) -> redis::RedisError {
    match error {
        bb8::RunError::User(error) => error,
        bb8::RunError::TimedOut => redis::RedisError::from((redis::ErrorKind::Io, "pool timed out")),
    }
}

const KINDS: [&str; 4] = [
    "ConnectionManager x1",
    "ConnectionManager x4 (lib.rs, default)",
    "bb8 pool + reuse cache (replaced)",
    "bb8 pool, checkout per command",
];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        println!("load: {TASKS} tasks x {OPS_PER_TASK} commands (INCR / EVALSHA alternating) on {url}");
        // Rounds interleaved, so a noisy neighbour on the shared cores hits every variant; the
        // median round of each is the summary.
        let mut results: Vec<Vec<(f64, Duration, Duration)>> = vec![Vec::new(); KINDS.len()];
        for round in 1..=ROUNDS {
            for (kind, results) in KINDS.iter().zip(&mut results) {
                results.push(load(kind, &url, round).await);
            }
        }
        println!("median of {ROUNDS} rounds:");
        for (kind, mut results) in KINDS.iter().zip(results) {
            results.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (rate, _, _) = results[ROUNDS / 2];
            let mut p99s: Vec<Duration> = results.iter().map(|r| r.2).collect();
            p99s.sort();
            println!(
                "  {kind:<38} {rate:>8.0} ops/s   p99 {:>6.2} ms (median p99)",
                p99s[ROUNDS / 2].as_secs_f64() * 1e3
            );
        }
        println!("\nrestart: one INCR every 10 ms; redis-server killed at 1 s, started again at 2 s");
        for kind in KINDS {
            restart(kind).await;
        }
    });
}

async fn load(kind: &str, url: &str, round: usize) -> (f64, Duration, Duration) {
    let connections = Connections::build(kind, url).await.unwrap();
    let script = Arc::new(redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])"));
    let key = format!("bench:{}", uuid::Uuid::now_v7().simple());
    // Warm up: open the connections and load the script.
    connections.run(Command::Eval(&script, &key)).await.unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (connections, script, key) = (connections.clone(), script.clone(), key.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(OPS_PER_TASK);
                for i in 0..OPS_PER_TASK {
                    let sent = Instant::now();
                    if i % 2 == 0 {
                        connections.run(Command::Incr(&key)).await.unwrap();
                    } else {
                        connections.run(Command::Eval(&script, &key)).await.unwrap();
                    }
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(TASKS * OPS_PER_TASK);
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (at(0.50), at(0.99));
    println!(
        "  round {round} {kind:<38} {rate:>8.0} ops/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
    let _ = connections.run(Command::Del(&key)).await;
    (rate, p50, p99)
}

async fn restart(kind: &str) {
    let port = OwnRedisServer::free_port();
    let server = OwnRedisServer::start(port);
    let url = server.url();
    let connections = Connections::build(kind, &url).await;
    let connections = match connections {
        Ok(connections) => connections,
        // The pool's first connection raced redis-server's start.
        Err(_) => wait_for(|| Connections::build(kind, &url)).await,
    };
    wait_for(|| connections.run(Command::Incr("k"))).await;

    // The outage runs on a clock of its own, so a command that blocks does not stretch it.
    let started = Instant::now();
    let restarted_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let outage = tokio::spawn({
        let restarted_at = restarted_at.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            server.stop();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let server = OwnRedisServer::start(port);
            *restarted_at.lock() = Some(Instant::now());
            server
        }
    });
    // Failures while the server is down, after it is started again but before a command
    // succeeds, and after that; and the slowest failure (how long a caller waits to learn).
    let (mut down, mut restarting, mut after) = (0, 0, 0);
    let mut slowest_failure = Duration::ZERO;
    let mut back_after = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    while started.elapsed() < Duration::from_secs(4) {
        ticker.tick().await;
        let sent = Instant::now();
        let result = connections.run(Command::Incr("k")).await;
        let restarted_at = *restarted_at.lock();
        match (result, restarted_at, back_after) {
            (Ok(_), Some(at), None) => back_after = Some(at.elapsed()),
            (Ok(_), _, _) => {}
            (Err(_), restarted, back) => {
                slowest_failure = slowest_failure.max(sent.elapsed());
                match (restarted, back) {
                    (None, _) => down += 1,
                    (Some(_), None) => restarting += 1,
                    (Some(_), Some(_)) => after += 1,
                }
            }
        }
    }
    let back = back_after.map_or("never".to_owned(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3));
    println!(
        "  {kind:<38} failures: {down:>3} while down, {restarting} after the restart before the first success, \
         {after} after it; slowest failure {:>5.0} ms; first success {back} after the restart",
        slowest_failure.as_secs_f64() * 1e3,
    );
    drop(outage.await.unwrap());
}

/// Retries `attempt` until it succeeds (a server that is starting), for at most 5 s.
async fn wait_for<T, F: Future<Output = redis::RedisResult<T>>>(mut attempt: impl FnMut() -> F) -> T {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) if Instant::now() >= give_up => panic!("redis-server did not come up: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
