//! The job-queue contract: every `JobQueue` (memory, Redis) behaves so. Jobs are handed out
//! oldest first, to one worker at a time; a job whose worker died (dropped it unfinished) is
//! handed out again after the visibility timeout, and finished once; a job whose worker keeps
//! extending its claim stays with that worker past the timeout; a failed job comes back
//! after its backoff; after its last attempt it waits in the dead letters until retried.
//!
//! Each queue under this suite is built with [`contract_policy`], whose timeout and backoffs
//! are short, so each check runs in well under a second. Checks about time never assert that
//! something happens before a moment: they wait (with a far deadline) for it to happen and
//! then assert it did not happen early.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::domain::ids::{MediaId, MessageId};
use crate::domain::job::{Job, JobPolicy, JobTask};
use crate::domain::push::{PushEvent, PushTask};
use crate::ports::{FailOutcome, JobQueue, QueueStats};

use super::contract::{new_id, now};
use super::wait::pause;

/// The policy every queue under this suite is built with: a 300 ms visibility timeout,
/// retries after 100 ms then 200 ms, dead-lettered after the third attempt.
pub fn contract_policy() -> JobPolicy {
    JobPolicy {
        visibility_timeout: Duration::from_millis(300),
        backoff: vec![Duration::from_millis(100), Duration::from_millis(200)],
        max_attempts: 3,
    }
}

/// Far past any wait of the policy: only a queue that never hands the job out runs into it.
const PATIENCE: Duration = Duration::from_secs(20);

/// Clock slack for a queue that keeps time in whole milliseconds.
const SLACK: Duration = Duration::from_millis(5);

fn media() -> JobTask {
    JobTask::ProcessMedia(MediaId(new_id()))
}

/// A job that must come: waits for it up to [`PATIENCE`].
async fn must_take(queue: &dyn JobQueue, worker: &str) -> Job {
    queue.take(worker, PATIENCE).await.unwrap().unwrap_or_else(|| panic!("{worker} got no job in {PATIENCE:?}"))
}

async fn assert_empty(queue: &dyn JobQueue) {
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default(), "the queue is empty");
    assert_eq!(queue.take("sweeper", Duration::ZERO).await.unwrap(), None, "nothing is left to take");
}

/// Ready jobs are handed out in the order they were enqueued, each as attempt 1.
pub async fn jobs_are_taken_in_the_order_they_were_enqueued(queue: &dyn JobQueue) {
    let media = [media(), media(), media()];
    for m in &media {
        assert!(queue.enqueue(m.clone()).await.unwrap());
    }
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats, QueueStats { ready: 3, ..QueueStats::default() });
    for m in &media {
        let job = queue.take("worker", Duration::ZERO).await.unwrap().expect("a ready job");
        assert_eq!((&job.task, job.attempt), (m, 1));
        assert!(queue.complete(&job).await.unwrap());
    }
    assert_empty(queue).await;
}

/// A media with a live job (ready or in flight) gets no second one; once its job is
/// complete it may be enqueued again.
pub async fn enqueuing_a_media_with_a_live_job_adds_none(queue: &dyn JobQueue) {
    let m = media();
    assert!(queue.enqueue(m.clone()).await.unwrap());
    assert!(!queue.enqueue(m.clone()).await.unwrap(), "deduplicated while ready");
    let job = queue.take("worker", Duration::ZERO).await.unwrap().expect("the job");
    assert!(!queue.enqueue(m.clone()).await.unwrap(), "deduplicated while in flight");
    assert!(queue.complete(&job).await.unwrap());
    assert_eq!(queue.take("worker", Duration::ZERO).await.unwrap(), None, "one job only");
    assert!(queue.enqueue(m.clone()).await.unwrap(), "a finished media may be processed again");
    let again = queue.take("worker", Duration::ZERO).await.unwrap().expect("the new job");
    assert_eq!((&again.task, again.attempt), (&m, 1));
    assert!(queue.complete(&again).await.unwrap());
}

/// A take waiting on an empty queue gets a job enqueued while it waits.
pub async fn a_waiting_take_gets_a_job_enqueued_meanwhile(queue: &dyn JobQueue) {
    let m = media();
    let started = Instant::now();
    let (taken, ()) = futures_util::future::join(queue.take("waiter", PATIENCE), async {
        pause(Duration::from_millis(50)).await;
        assert!(queue.enqueue(m.clone()).await.unwrap());
    })
    .await;
    let job = taken.unwrap().expect("the job enqueued while waiting");
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(job.task, m);
    assert!(queue.complete(&job).await.unwrap());
}

/// A take given up while it waits (a worker shutting down) claims nothing: a job enqueued
/// afterwards is ready for the next take at once.
pub async fn a_take_given_up_while_waiting_leaves_nothing_behind(queue: &dyn JobQueue) {
    let waiting = Box::pin(queue.take("quitter", PATIENCE));
    let given_up = Box::pin(pause(Duration::from_millis(50)));
    match futures_util::future::select(waiting, given_up).await {
        futures_util::future::Either::Right(((), waiting)) => drop(waiting),
        futures_util::future::Either::Left((taken, _)) => panic!("an empty queue handed out {taken:?}"),
    }
    let m = media();
    assert!(queue.enqueue(m.clone()).await.unwrap());
    let job = queue.take("worker", Duration::ZERO).await.unwrap().expect("the job, not held by the given-up take");
    assert_eq!((&job.task, job.attempt), (&m, 1));
    assert!(queue.complete(&job).await.unwrap());
    assert_empty(queue).await;
}

/// A taken job is handed to no other worker before its visibility timeout; after it, the
/// next take gets it (same id and media, attempt 2), even a take already waiting.
pub async fn a_taken_job_goes_to_no_one_else_before_its_timeout(queue: &dyn JobQueue) {
    let timeout = contract_policy().visibility_timeout;
    queue.enqueue(media()).await.unwrap();
    let started = Instant::now();
    let first = queue.take("first", Duration::ZERO).await.unwrap().expect("the job");
    let second = must_take(queue, "second").await;
    let waited = started.elapsed();
    assert!(waited + SLACK >= timeout, "handed out again after {waited:?}, before its {timeout:?} timeout");
    assert_eq!((&second.id, &second.task, second.attempt), (&first.id, &first.task, 2));
    assert!(queue.complete(&second).await.unwrap());
}

/// The crash case: a worker takes a job and dies (drops it unfinished). Another worker gets
/// it after the timeout and completes it; the dead worker's late complete neither counts nor
/// ends the newer claim; the job is completed exactly once and gone.
pub async fn a_job_whose_worker_died_is_finished_once_by_another(queue: &dyn JobQueue) {
    queue.enqueue(media()).await.unwrap();
    let dying = queue.take("dying", Duration::ZERO).await.unwrap().expect("the job");
    let late = dying.clone();
    drop(dying);
    let survivor = must_take(queue, "survivor").await;
    assert_eq!(survivor.attempt, 2);
    assert_eq!(queue.stats().await.unwrap(), QueueStats { in_flight: 1, ..QueueStats::default() });
    assert!(!queue.complete(&late).await.unwrap(), "the lapsed claim completes nothing");
    assert_eq!(queue.fail(&late, "late", None).await.unwrap(), FailOutcome::NotHeld);
    assert!(queue.complete(&survivor).await.unwrap(), "the newer claim still holds");
    assert!(!queue.complete(&survivor).await.unwrap(), "completed once");
    assert_empty(queue).await;
}

/// A worker that extends its claim keeps its job past the visibility timeout (a transcode
/// longer than the timeout): another worker gets it no sooner than a full timeout after the
/// last extension that held, as attempt 2, and the first claim then extends no more.
pub async fn an_extended_claim_is_handed_out_again_only_once_it_stops(queue: &dyn JobQueue) {
    let timeout = contract_policy().visibility_timeout;
    queue.enqueue(media()).await.unwrap();
    let first = queue.take("long", Duration::ZERO).await.unwrap().expect("the job");
    let taken_at = Instant::now();
    let mut last_held = taken_at;
    let extending = async {
        // Six renewals per timeout, for two timeouts: the job outlives its timeout twice.
        while taken_at.elapsed() < 2 * timeout {
            pause(timeout / 6).await;
            let asked_at = Instant::now();
            // `false` only on a machine stalled for a whole timeout, whose rival then took
            // the job: allowed, as the assertions below only say it did not come early. (That
            // an extension holds at all, `only_the_current_claim_can_be_extended` checks.)
            if !queue.extend(&first).await.unwrap() {
                break;
            }
            last_held = asked_at;
        }
    };
    let rival = async {
        let job = must_take(queue, "rival").await;
        (job, Instant::now())
    };
    let ((second, handed_out_at), ()) = futures_util::future::join(rival, extending).await;
    let quiet = handed_out_at.saturating_duration_since(last_held);
    assert!(quiet + SLACK >= timeout, "handed out again {quiet:?} after its last extension, within its {timeout:?}");
    assert!(handed_out_at.duration_since(taken_at) >= timeout, "handed out again within the first timeout");
    assert_eq!((&second.id, &second.task, second.attempt), (&first.id, &first.task, 2));
    assert!(!queue.extend(&first).await.unwrap(), "the reclaimed claim extends no more");
    assert!(queue.extend(&second).await.unwrap(), "the newer claim extends");
    assert!(queue.complete(&second).await.unwrap());
    assert_empty(queue).await;
}

/// Extending renews a claim without changing it (the same hand-out completes afterwards);
/// a hand-out that is not the job's current one, completed or failed, extends nothing.
pub async fn only_the_current_claim_can_be_extended(queue: &dyn JobQueue) {
    queue.enqueue(media()).await.unwrap();
    let job = queue.take("worker", Duration::ZERO).await.unwrap().expect("the job");
    assert!(queue.extend(&job).await.unwrap());
    assert!(queue.extend(&job).await.unwrap(), "extended again");
    assert_eq!(queue.stats().await.unwrap(), QueueStats { in_flight: 1, ..QueueStats::default() });
    let never_handed_out = Job { attempt: job.attempt + 1, ..job.clone() };
    assert!(!queue.extend(&never_handed_out).await.unwrap(), "another attempt's claim");
    assert!(queue.complete(&job).await.unwrap(), "the claim is the same hand-out after extensions");
    assert!(!queue.extend(&job).await.unwrap(), "a completed job");

    queue.enqueue(media()).await.unwrap();
    let failed = queue.take("worker", Duration::ZERO).await.unwrap().expect("the second job");
    assert!(matches!(queue.fail(&failed, "transient", None).await.unwrap(), FailOutcome::RetryAt(_)));
    assert!(!queue.extend(&failed).await.unwrap(), "a failed hand-out");
    let retried = must_take(queue, "worker").await;
    assert_eq!((&retried.task, retried.attempt), (&failed.task, 2));
    assert!(queue.extend(&retried).await.unwrap(), "the retry's claim");
    assert!(queue.complete(&retried).await.unwrap());
    assert_empty(queue).await;
}

/// A failed job is delayed by the first backoff, then handed out as attempt 2, not before.
pub async fn a_failed_job_comes_back_after_its_backoff(queue: &dyn JobQueue) {
    let backoff = contract_policy().backoff_after(1);
    queue.enqueue(media()).await.unwrap();
    let job = queue.take("worker", Duration::ZERO).await.unwrap().expect("the job");
    let (started, wall) = (Instant::now(), now());
    let FailOutcome::RetryAt(at) = queue.fail(&job, "transient", None).await.unwrap() else {
        panic!("a first failure is retried")
    };
    let after = chrono::Duration::from_std(backoff).unwrap();
    let slack = chrono::Duration::from_std(SLACK).unwrap();
    assert!(at + slack >= wall + after, "retry at {at}, before {wall} + {backoff:?}");
    assert!(at <= now() + after + chrono::Duration::seconds(5), "retry at {at}, far after the backoff");
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.in_flight, stats.ready + stats.delayed, stats.dead), (0, 1, 0), "{stats:?}");
    let retried = must_take(queue, "worker").await;
    let waited = started.elapsed();
    assert!(waited + SLACK >= backoff, "retried after {waited:?}, before its {backoff:?} backoff");
    assert_eq!((&retried.task, retried.attempt), (&job.task, 2));
    assert!(queue.complete(&retried).await.unwrap());
    assert_empty(queue).await;
}

/// A failure that says when to come back (a push service's `Retry-After`) longer than the
/// backoff is retried then, not before; push tasks, whose keys hold several ids, come back
/// as they went in, and are deduplicated by their whole key.
pub async fn a_retry_after_longer_than_the_backoff_is_honoured(queue: &dyn JobQueue) {
    let message = MessageId(new_id());
    let whole = JobTask::Push(PushTask::event(PushEvent::Message(message)));
    let one_device = JobTask::Push(PushTask {
        event: PushEvent::Message(message),
        device: Some(crate::domain::ids::DeviceId(new_id())),
    });
    assert!(queue.enqueue(whole.clone()).await.unwrap());
    assert!(queue.enqueue(one_device.clone()).await.unwrap(), "another task of the same message");
    assert!(!queue.enqueue(one_device.clone()).await.unwrap(), "the same task again");
    let first = queue.take("worker", Duration::ZERO).await.unwrap().expect("the job");
    assert_eq!(first.task, whole);
    assert!(queue.complete(&first).await.unwrap());
    let job = queue.take("worker", Duration::ZERO).await.unwrap().expect("the job");
    assert_eq!(job.task, one_device);
    let retry_after = contract_policy().backoff_after(1) * 4;
    let started = Instant::now();
    let outcome = queue.fail(&job, "429", Some(retry_after)).await.unwrap();
    assert!(matches!(outcome, FailOutcome::RetryAt(_)), "{outcome:?}");
    let retried = must_take(queue, "worker").await;
    let waited = started.elapsed();
    assert!(waited + SLACK >= retry_after, "retried after {waited:?}, before the {retry_after:?} asked");
    assert_eq!((&retried.task, retried.attempt), (&one_device, 2));
    assert!(queue.complete(&retried).await.unwrap());
    assert_empty(queue).await;
}

/// After its last attempt fails, a job is dead-lettered: counted, listed with its reason,
/// handed out no more, until `retry_dead` puts it back with a fresh set of attempts.
pub async fn a_job_failing_its_last_attempt_is_dead_until_retried(queue: &dyn JobQueue) {
    let policy = contract_policy();
    let m = media();
    queue.enqueue(m.clone()).await.unwrap();
    let mut last = None;
    for attempt in 1..=policy.max_attempts {
        let job = must_take(queue, "worker").await;
        assert_eq!((&job.task, job.attempt), (&m, attempt));
        let outcome = queue.fail(&job, &format!("boom {attempt}"), None).await.unwrap();
        if attempt < policy.max_attempts {
            assert!(matches!(outcome, FailOutcome::RetryAt(_)), "attempt {attempt}: {outcome:?}");
        } else {
            assert_eq!(outcome, FailOutcome::DeadLettered);
        }
        last = Some(job);
    }
    let last = last.unwrap();
    assert_eq!(queue.stats().await.unwrap(), QueueStats { dead: 1, ..QueueStats::default() });
    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((&dead[0].job.task, dead[0].job.attempt), (&m, policy.max_attempts));
    assert_eq!(dead[0].reason, format!("boom {}", policy.max_attempts));
    assert!((dead[0].at - now()).num_seconds().abs() < 60, "dead-lettered at {}", dead[0].at);
    assert_eq!(queue.take("worker", Duration::ZERO).await.unwrap(), None, "a dead job is not handed out");
    assert_eq!(queue.fail(&last, "again", None).await.unwrap(), FailOutcome::NotHeld);
    assert!(queue.enqueue(media()).await.unwrap(), "other media are still queued");
    let other = queue.take("worker", Duration::ZERO).await.unwrap().expect("the other job");
    assert!(queue.complete(&other).await.unwrap());

    assert!(queue.retry_dead(&dead[0].job.id).await.unwrap());
    assert!(!queue.retry_dead(&dead[0].job.id).await.unwrap(), "retried once");
    assert_eq!(queue.stats().await.unwrap(), QueueStats { ready: 1, ..QueueStats::default() });
    assert!(queue.dead_letters(10).await.unwrap().is_empty());
    let again = queue.take("worker", Duration::ZERO).await.unwrap().expect("the retried job");
    assert_eq!((&again.task, again.attempt), (&m, 1));
    assert!(queue.complete(&again).await.unwrap());
    assert_empty(queue).await;
}

/// A job whose every worker dies (a file that crashes the worker) is dead-lettered once its
/// last hand-out times out, rather than handed out forever.
pub async fn a_job_timing_out_on_every_attempt_is_dead_lettered(queue: &dyn JobQueue) {
    let policy = contract_policy();
    let m = media();
    queue.enqueue(m.clone()).await.unwrap();
    for attempt in 1..=policy.max_attempts {
        let job = must_take(queue, "doomed").await;
        assert_eq!((&job.task, job.attempt), (&m, attempt));
    }
    let deadline = Instant::now() + PATIENCE;
    while queue.stats().await.unwrap().dead == 0 {
        assert!(Instant::now() < deadline, "never dead-lettered in {PATIENCE:?}");
        assert_eq!(queue.take("doomed", Duration::from_millis(50)).await.unwrap(), None, "no fourth attempt");
    }
    assert_eq!(queue.stats().await.unwrap(), QueueStats { dead: 1, ..QueueStats::default() });
    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!((dead.len(), &dead[0].job.task, dead[0].job.attempt), (1, &m, policy.max_attempts));
    assert!(!dead[0].reason.is_empty());
}

/// Eight workers taking forty jobs at once: each job goes to exactly one of them.
pub async fn concurrent_takes_hand_each_job_to_one_worker(queue: &dyn JobQueue) {
    let media: Vec<JobTask> = (0..40).map(|_| media()).collect();
    for m in &media {
        queue.enqueue(m.clone()).await.unwrap();
    }
    let workers = (0..8).map(|n| async move {
        let worker = format!("worker-{n}");
        let mut taken = Vec::new();
        while let Some(job) = queue.take(&worker, Duration::ZERO).await.unwrap() {
            queue.complete(&job).await.unwrap();
            taken.push(job);
        }
        taken
    });
    let taken: Vec<Job> = join_all(workers).await.into_iter().flatten().collect();
    let claims: HashSet<(String, u32)> = taken.iter().map(|job| (job.id.to_string(), job.attempt)).collect();
    assert_eq!(claims.len(), taken.len(), "a claim was handed out twice");
    // A first hand-out per media, once; a reclaim (attempt 2) happens only if a complete
    // came later than the timeout, on a machine far too slow.
    let mut firsts: HashMap<JobTask, usize> = HashMap::new();
    for job in taken.iter().filter(|job| job.attempt == 1) {
        *firsts.entry(job.task.clone()).or_default() += 1;
    }
    for m in &media {
        assert_eq!(firsts.get(m), Some(&1), "{m} was handed out first {:?} times", firsts.get(m));
    }
    assert_eq!(firsts.len(), media.len());
    assert_empty(queue).await;
}

/// A job enqueued with a delay is live at once (deduplicated) but handed out only after it.
pub async fn a_job_enqueued_with_a_delay_waits_for_it(queue: &dyn JobQueue) {
    let task = JobTask::Push(PushTask {
        event: PushEvent::Message(MessageId(new_id())),
        device: Some(crate::domain::ids::DeviceId(new_id())),
    });
    let delay = contract_policy().backoff_after(1) * 3;
    let started = Instant::now();
    assert!(queue.enqueue_after(task.clone(), delay).await.unwrap());
    assert!(!queue.enqueue(task.clone()).await.unwrap(), "live while it waits");
    assert!(!queue.enqueue_after(task.clone(), delay).await.unwrap(), "live while it waits");
    assert_eq!(queue.take("worker", Duration::ZERO).await.unwrap(), None, "not before its delay");
    let job = must_take(queue, "worker").await;
    let waited = started.elapsed();
    assert!(waited + SLACK >= delay, "handed out after {waited:?}, before its {delay:?} delay");
    assert_eq!((&job.task, job.attempt), (&task, 1));
    assert!(queue.complete(&job).await.unwrap());
    assert_empty(queue).await;
}
