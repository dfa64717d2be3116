//! The media worker loop: takes jobs from the queue and runs `app::media::worker` on each,
//! `concurrency` at a time, renewing each job's claim while it runs (`worker_lease`). The
//! same loop runs in the chat-server process (embedded mode) and in chat-worker processes
//! (production, any number against one Redis).

use std::sync::Arc;
use std::time::Duration;

use chat_core::app::Deps;
use chat_core::app::media::worker::{self, JobEnd, Processors};
use chat_core::app::media::worker_lease;
use chat_core::domain::job::{Job, JobTask};
use chat_core::ports::JobQueue;
use futures_util::Stream;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long one `take` waits for a job before looking at `stop` again.
const TAKE_WAIT: Duration = Duration::from_secs(2);

/// How many media left `uploaded` or `processing` a starting worker re-enqueues at most.
const REQUEUE_AT_START: usize = 10_000;

/// Runs until `stop`, then lets the jobs in hand finish within `grace` (the rest are handed
/// out again by the queue after their visibility timeout). The claim of each job in hand is
/// extended every `lease_renewal` (`JobPolicy::lease_renewal_interval` of the queue's policy).
pub async fn run_media_worker(
    deps: Deps,
    processors: Processors,
    name: String,
    concurrency: usize,
    grace: Duration,
    lease_renewal: Duration,
    stop: CancellationToken,
) {
    requeue_unfinished(&deps).await;
    let queue = deps.jobs.clone();
    let rules = QueueLoop { kind: "media", gauge: "chat_media_queue_jobs", concurrency, grace };
    take_jobs(queue, &name, rules, stop, move |job| {
        let (deps, processors) = (deps.clone(), processors.clone());
        async move {
            let started = std::time::Instant::now();
            let end = worker_lease::process_keeping_claim(&deps, &processors, &job, heartbeat(lease_renewal)).await;
            metrics::histogram!("chat_media_job_seconds").record(started.elapsed().as_secs_f64());
            let settled = match end {
                JobEnd::Finished => deps.jobs.complete(&job).await.map(|_| ()),
                JobEnd::Retry(reason) => {
                    metrics::counter!("chat_media_job_failures_total").increment(1);
                    tracing::warn!(task = %job.task, attempt = job.attempt, %reason, "media job failed; retrying later");
                    match deps.jobs.fail(&job, &reason, None).await {
                        Ok(outcome) => worker::give_up(&deps, &job, outcome).await,
                        Err(error) => Err(error),
                    }
                }
            };
            if let Err(error) = settled {
                tracing::warn!(%error, task = %job.task, "media job not settled; the queue will hand it out again");
            }
        }
    })
    .await;
}

/// How a worker loop runs over one queue.
pub(crate) struct QueueLoop {
    /// The queue's kind, for logs (`media`, `push`).
    pub kind: &'static str,
    /// The gauge of its depth (see [`report_queue`]).
    pub gauge: &'static str,
    /// Jobs in hand at once.
    pub concurrency: usize,
    /// How long the jobs in hand may take to finish after `stop`.
    pub grace: Duration,
}

/// Takes jobs from `queue` as worker `name`, at most `rules.concurrency` in hand, each run by
/// `handle` (which completes or fails it), until `stop`; then lets the jobs in hand finish
/// within `rules.grace` (the rest are handed out again after their visibility timeout).
pub(crate) async fn take_jobs<H, F>(
    queue: Arc<dyn JobQueue>,
    name: &str,
    rules: QueueLoop,
    stop: CancellationToken,
    handle: H,
) where
    H: Fn(Job) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let gauges = tokio::spawn(report_queue(queue.clone(), rules.gauge, stop.clone()));
    let slots = Arc::new(Semaphore::new(rules.concurrency.max(1)));
    let in_hand = TaskTracker::new();
    loop {
        let slot = tokio::select! {
            () = stop.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        // The semaphore is never closed, so this is always a slot.
        let Ok(slot) = slot else { break };
        let job = tokio::select! {
            () = stop.cancelled() => break,
            job = queue.take(name, TAKE_WAIT) => job,
        };
        let job = match job {
            Ok(Some(job)) => job,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, queue = rules.kind, "job queue unavailable; retrying");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(TAKE_WAIT) => continue,
                }
            }
        };
        let work = handle(job);
        in_hand.spawn(async move {
            let _slot = slot;
            work.await;
        });
    }
    in_hand.close();
    if tokio::time::timeout(rules.grace, in_hand.wait()).await.is_err() {
        tracing::warn!(
            queue = rules.kind,
            "jobs still running at the end of the grace period; the queue will hand them out again"
        );
    }
    let _ = gauges.await;
}

/// The shortest beat: tokio's interval refuses a zero period, which a zero timeout would give.
const SHORTEST_BEAT: Duration = Duration::from_millis(10);

/// A beat every `every`, the first one `every` from now. A late beat (a stalled runtime) is
/// not made up for with a burst: one renewal restarts the whole timeout.
fn heartbeat(every: Duration) -> impl Stream<Item = ()> {
    let every = every.max(SHORTEST_BEAT);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    futures_util::stream::unfold(ticks, |mut ticks| async move {
        ticks.tick().await;
        Some(((), ticks))
    })
}

/// How often the queue's depth is read into the metrics.
const QUEUE_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Keeps the gauge `metric{state=...}` (ready, in_flight, delayed, dead) of a queue up to date.
pub(crate) async fn report_queue(queue: Arc<dyn JobQueue>, metric: &'static str, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(QUEUE_REPORT_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => match queue.stats().await {
                Ok(stats) => {
                    for (state, jobs) in
                        [("ready", stats.ready), ("in_flight", stats.in_flight), ("delayed", stats.delayed), ("dead", stats.dead)]
                    {
                        metrics::gauge!(metric, "state" => state).set(jobs as f64);
                    }
                }
                Err(error) => tracing::debug!(%error, "queue stats unavailable"),
            },
        }
    }
}

/// The media record is the truth: what is still `uploaded` or `processing` gets a job again
/// (a job lost with a queue outage, or with an in-process queue at a restart). Handlers are
/// idempotent, so a duplicate costs one wasted run at most.
async fn requeue_unfinished(deps: &Deps) {
    match deps.media.unfinished(REQUEUE_AT_START).await {
        Ok(unfinished) => {
            for media in unfinished {
                if let Err(error) = deps.jobs.enqueue(JobTask::ProcessMedia(media.id)).await {
                    tracing::warn!(%error, media = %media.id, "not re-enqueued");
                }
            }
        }
        Err(error) => tracing::warn!(%error, "unfinished media not read; they wait for the next worker start"),
    }
}
