//! Keeping a job's claim while its worker processes it. A transcode may take longer than the
//! queue's visibility timeout, and a claim left to lapse would hand the job to a second
//! worker while the first still works on it; so the worker extends its claim at every beat
//! of a heartbeat (`JobPolicy::lease_renewal_interval` in production), and only a worker that
//! died stops beating.
//!
//! The heartbeat is a stream the caller makes (a runtime's interval in the worker loop, a
//! channel in tests), as core has no runtime and no timers of its own.

use std::future::Future;
use std::pin::pin;

use futures_util::future::{Either, select};
use futures_util::{Stream, StreamExt as _};

use crate::domain::job::Job;
use crate::ports::JobQueue;

use super::super::Deps;
use super::worker::{JobEnd, Processors, process};

/// Processes the job's media (see [`process`]) while keeping its claim: the claim is extended
/// at every beat of `heartbeat` until processing ends.
pub async fn process_keeping_claim(
    deps: &Deps,
    processors: &Processors,
    job: &Job,
    heartbeat: impl Stream<Item = ()>,
) -> JobEnd {
    keep_claim(deps.jobs.as_ref(), job, heartbeat, process(deps, processors, job)).await
}

/// Runs `work` to its end, extending the job's claim at every beat of `heartbeat` meanwhile.
///
/// A claim that has lapsed for good (the queue handed the job to another worker after a stall
/// longer than the timeout) is extended no more, but the work goes on: processing is
/// idempotent and the store sets `ready` once, so finishing costs at most a duplicate run,
/// while stopping halfway would leave the job's files behind. An extension that fails (the
/// queue unreachable) is tried again at the next beat.
pub async fn keep_claim<W: Future>(
    jobs: &dyn JobQueue,
    job: &Job,
    heartbeat: impl Stream<Item = ()>,
    work: W,
) -> W::Output {
    let renewing = async {
        let mut heartbeat = pin!(heartbeat);
        while heartbeat.next().await.is_some() {
            match jobs.extend(job).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        task = %job.task,
                        attempt = job.attempt,
                        "the job's claim lapsed (another worker may hold it); finishing it anyway"
                    );
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, task = %job.task, "the job's claim was not extended; retrying at the next beat");
                }
            }
        }
    };
    match select(pin!(work), pin!(renewing)).await {
        Either::Left((output, _)) => output,
        // Renewing ended (the claim lapsed, or the heartbeat stopped): the work goes on alone.
        Either::Right(((), work)) => work.await,
    }
}
