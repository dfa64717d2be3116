//! Push notifications: the FCM settings, and the push worker loop that takes push jobs from
//! their queue and runs `app::push` on each. It runs in every chat-server and chat-worker
//! whose FCM is configured; each job goes to one of them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chat_core::app::Deps;
use chat_core::app::push::{self, PushJobEnd, PushReport};
use chat_core::domain::job::{Job, JobTask};
use chat_core::ports::{Clock, JobQueue, PushSender};
use chat_fcm::{FcmConfig, FcmPushSender};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::worker::{QueueLoop, take_jobs};

/// Where push notifications go. Without a service account no notification is queued.
#[derive(Clone, Debug, Default, Args)]
pub struct PushSettings {
    /// The Firebase project's service-account JSON key (docs/operations.md, "Push
    /// notifications"). Push is on when this is set, off otherwise.
    #[arg(long, env = "FCM_SERVICE_ACCOUNT_FILE")]
    pub fcm_service_account_file: Option<PathBuf>,

    /// FCM's API root: Google's unless testing against a local fake (plain `http://` is
    /// spoken as HTTP/2 without TLS).
    #[arg(long, env = "FCM_BASE_URL", default_value = chat_fcm::DEFAULT_BASE_URL, hide = true)]
    pub fcm_base_url: String,

    /// Push jobs run at once by this process (each sends to its devices over one HTTP/2
    /// connection).
    #[arg(long, env = "CHAT_PUSH_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub push_concurrency: u32,
}

impl PushSettings {
    /// Whether push is configured.
    pub fn enabled(&self) -> bool {
        self.fcm_service_account_file.is_some()
    }

    /// The FCM sender, when push is configured: the key file is read and checked now, so a
    /// bad one stops the start with its name.
    pub fn sender(&self, clock: Arc<dyn Clock>) -> anyhow::Result<Option<Arc<FcmPushSender>>> {
        let Some(file) = &self.fcm_service_account_file else { return Ok(None) };
        let mut config = FcmConfig::new(file);
        config.base_url = self.fcm_base_url.clone();
        config.http2_prior_knowledge = self.fcm_base_url.starts_with("http://");
        let sender = FcmPushSender::new(config, clock).context("FCM_SERVICE_ACCOUNT_FILE")?;
        tracing::info!(project = sender.project_id(), "push notifications through FCM");
        Ok(Some(Arc::new(sender)))
    }
}

/// How long the jobs in hand may take to finish after `stop`.
pub const PUSH_GRACE: Duration = Duration::from_secs(10);

/// Runs until `stop`, `concurrency` jobs at a time, then lets the jobs in hand finish within
/// [`PUSH_GRACE`] (the rest are handed out again after their visibility timeout). Does
/// nothing when `deps` has no push queue.
pub async fn run_push_worker(
    deps: Deps,
    sender: Arc<dyn PushSender>,
    name: String,
    concurrency: usize,
    stop: CancellationToken,
) {
    let Some(queue) = deps.push_jobs.clone() else { return };
    let rules = QueueLoop { kind: "push", gauge: "chat_push_queue_jobs", concurrency, grace: PUSH_GRACE };
    take_jobs(queue.clone(), &name, rules, stop, move |job| {
        let (deps, sender, queue) = (deps.clone(), sender.clone(), queue.clone());
        async move { run_job(&deps, sender.as_ref(), queue.as_ref(), &job).await }
    })
    .await;
}

async fn run_job(deps: &Deps, sender: &dyn PushSender, queue: &dyn JobQueue, job: &Job) {
    let JobTask::Push(task) = &job.task else {
        // Each kind of work has its own queue; another kind here is a wiring mistake.
        tracing::error!(task = %job.task, "not a push job in the push queue; dropped");
        let _ = queue.complete(job).await;
        return;
    };
    let settled = match push::run(deps, sender, *task).await {
        PushJobEnd::Finished(report) => {
            record(&report);
            queue.complete(job).await.map(|_| ())
        }
        PushJobEnd::Retry { reason, after, report } => {
            record(&report);
            metrics::counter!("chat_push_job_retries_total").increment(1);
            tracing::info!(task = %job.task, attempt = job.attempt, %reason, "push job failed; retrying later");
            match queue.fail(job, &reason, after).await {
                Ok(chat_core::ports::FailOutcome::DeadLettered) => {
                    metrics::counter!("chat_push_failed_total", "reason" => "gave_up").increment(1);
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(error) => Err(error),
            }
        }
    };
    if let Err(error) = settled {
        tracing::warn!(%error, task = %job.task, "push job not settled; the queue will hand it out again");
    }
}

/// The job's figures into the metrics: `chat_push_sent_total`, `chat_push_failed_total{reason}`,
/// `chat_push_tokens_removed_total`, `chat_push_deferred_total` and the event-to-sent latency.
fn record(report: &PushReport) {
    metrics::counter!("chat_push_sent_total").increment(report.sent);
    metrics::counter!("chat_push_tokens_removed_total").increment(report.tokens_removed);
    metrics::counter!("chat_push_deferred_total").increment(report.deferred);
    for (reason, _) in &report.failed {
        metrics::counter!("chat_push_failed_total", "reason" => *reason).increment(1);
    }
    if let Some(ms) = report.latency_ms {
        metrics::histogram!("chat_push_latency_seconds").record(ms.max(0) as f64 / 1000.0);
    }
}
