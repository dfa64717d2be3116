//! Jobs per second through the Redis job queue with a no-op handler, against `REDIS_URL` (or
//! the local server), on a key prefix of the bench's own:
//!
//! - enqueue: `JOBS` jobs by 16 concurrent producers (one script call each);
//! - drain: `K` workers (1, 4, 16) each `take` + `complete` until the queue is empty;
//! - hand-off: workers waiting in `take` (blocked in `XREADGROUP`) while one producer enqueues
//!   a job at a time: the latency from `enqueue` to the hand-out, p50 / p99.
//!
//! Run: `cargo bench -p chat-redis --bench jobs` (a few seconds).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::domain::ids::MediaId;
use chat_core::domain::job::{JobPolicy, JobTask};
use chat_core::ports::{JobQueue, QueueStats};
use chat_redis::RedisJobQueue;
use chat_redis::testing::TestRedis;
use futures_util::future::join_all;

const JOBS: usize = 10_000;
const HANDOFFS: usize = 500;

fn media() -> JobTask {
    JobTask::ProcessMedia(MediaId(uuid::Uuid::now_v7()))
}

async fn enqueue_all(queue: &Arc<RedisJobQueue>, jobs: usize) -> f64 {
    let started = Instant::now();
    let producers = (0..16).map(|p| {
        let queue = queue.clone();
        tokio::spawn(async move {
            for _ in (p..jobs).step_by(16) {
                assert!(queue.enqueue(media()).await.unwrap());
            }
        })
    });
    for producer in join_all(producers).await {
        producer.unwrap();
    }
    jobs as f64 / started.elapsed().as_secs_f64()
}

async fn drain(queue: &Arc<RedisJobQueue>, workers: usize) -> (usize, f64) {
    let started = Instant::now();
    let tasks = (0..workers).map(|w| {
        let queue = queue.clone();
        tokio::spawn(async move {
            let name = format!("bench-{w}");
            let mut done = 0;
            while let Some(job) = queue.take(&name, Duration::ZERO).await.unwrap() {
                assert!(queue.complete(&job).await.unwrap());
                done += 1;
            }
            done
        })
    });
    let done: usize = join_all(tasks).await.into_iter().map(Result::unwrap).sum();
    (done, done as f64 / started.elapsed().as_secs_f64())
}

async fn handoff(queue: &Arc<RedisJobQueue>, workers: usize) -> (Duration, Duration) {
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (queue, sender) = (queue.clone(), sender.clone());
            tokio::spawn(async move {
                let name = format!("waiter-{w}");
                while let Some(job) = queue.take(&name, Duration::from_secs(2)).await.unwrap() {
                    queue.complete(&job).await.unwrap();
                    if sender.send((job.task, Instant::now())).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await; // let the workers block first
    let mut latencies = Vec::with_capacity(HANDOFFS);
    for _ in 0..HANDOFFS {
        let m = media();
        let sent = Instant::now();
        queue.enqueue(m.clone()).await.unwrap();
        let (got, at) = received.recv().await.unwrap();
        assert_eq!(got, m);
        latencies.push(at - sent);
    }
    drop(received);
    for task in tasks {
        task.await.unwrap();
    }
    latencies.sort();
    (latencies[HANDOFFS / 2], latencies[HANDOFFS * 99 / 100])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let redis = TestRedis::create().await;
        let queue = Arc::new(RedisJobQueue::new(redis.connection().await, JobPolicy::production()));
        println!("redis job queue, {JOBS} jobs, no-op handler ({} command connections)", 8);
        for workers in [1, 4, 16] {
            let enqueued = enqueue_all(&queue, JOBS).await;
            let (done, drained) = drain(&queue, workers).await;
            assert_eq!(done, JOBS);
            assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
            println!("  {workers:>2} workers: enqueue {enqueued:>7.0} jobs/s, take+complete {drained:>7.0} jobs/s");
        }
        for workers in [1, 4] {
            let (p50, p99) = handoff(&queue, workers).await;
            println!("  hand-off to {workers} waiting worker(s): p50 {p50:?}, p99 {p99:?} ({HANDOFFS} jobs)");
        }
    });
}
