//! The worker's lease on the in-process queue: a job that runs ten visibility timeouts is not
//! handed to a second worker while its own worker lives and beats (`keep_claim` with the
//! policy's renewal interval), and is handed out after one timeout when nobody beats. Time is
//! tokio's paused clock, so the timeouts pass at once and exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chat_core::app::media::worker_lease::keep_claim;
use chat_core::domain::ids::MediaId;
use chat_core::domain::job::{Job, JobPolicy, JobTask};
use chat_core::ports::{JobQueue, QueueStats};
use chat_memory::MemoryJobQueue;
use futures_util::Stream;
use tokio::sync::oneshot;

fn policy() -> JobPolicy {
    JobPolicy { visibility_timeout: Duration::from_secs(30), ..JobPolicy::production() }
}

/// A beat every `every`, the first one `every` from now (as the worker loop beats).
fn heartbeat(every: Duration) -> impl Stream<Item = ()> {
    let ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    futures_util::stream::unfold(ticks, |mut ticks| async move {
        ticks.tick().await;
        Some(((), ticks))
    })
}

async fn queue_with_one_taken_job() -> (MemoryJobQueue, Job) {
    let queue = MemoryJobQueue::new(policy());
    assert!(queue.enqueue(JobTask::ProcessMedia(MediaId(uuid::Uuid::now_v7()))).await.unwrap());
    let job = queue.take("transcoder", Duration::ZERO).await.unwrap().expect("the job");
    (queue, job)
}

/// The long job runs until a rival's take has waited ten timeouts in vain; the rival gets
/// nothing, and the first claim is still the one that completes the job.
#[tokio::test(start_paused = true)]
async fn a_job_ten_timeouts_long_stays_with_its_beating_worker() {
    let (queue, job) = queue_with_one_taken_job().await;
    let timeout = policy().visibility_timeout;
    let (finish, finished) = oneshot::channel::<()>();
    let transcode = keep_claim(&queue, &job, heartbeat(policy().lease_renewal_interval()), async {
        finished.await.unwrap();
    });
    let rival = async {
        let started = tokio::time::Instant::now();
        let taken = queue.take("rival", 10 * timeout).await.unwrap();
        assert!(started.elapsed() >= 10 * timeout, "the rival's take returned early");
        finish.send(()).unwrap();
        taken
    };
    let ((), taken) = tokio::join!(transcode, rival);
    assert_eq!(taken, None, "the job was handed out twice");
    assert_eq!(queue.stats().await.unwrap(), QueueStats { in_flight: 1, ..QueueStats::default() });
    assert!(queue.complete(&job).await.unwrap(), "the beating worker's claim still held");
}

/// The counter-check: the same job without a heartbeat goes to the rival after one timeout,
/// so the test above would see a missing or broken heartbeat.
#[tokio::test(start_paused = true)]
async fn without_a_heartbeat_the_job_goes_to_a_rival_after_one_timeout() {
    let (queue, job) = queue_with_one_taken_job().await;
    let timeout = policy().visibility_timeout;
    let started = tokio::time::Instant::now();
    let taken = queue.take("rival", 10 * timeout).await.unwrap().expect("the reclaimed job");
    assert_eq!((taken.id, taken.attempt), (job.id.clone(), 2));
    assert_eq!(started.elapsed(), timeout);
    assert!(!queue.extend(&job).await.unwrap(), "the silent worker's claim lapsed");
}
