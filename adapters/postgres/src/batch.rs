//! Concurrent calls gathered into batches: callers queue a request and wait for its answer;
//! a few worker tasks, each keeping a pooled connection of its own, take turns at a queue.
//! There may be several queues (lanes), each with its own workers: a caller picks the lane
//! by a key, so that requests with the same key never run in two batches at once (group
//! commit puts each conversation in one lane, so its writers never wait for each other's
//! row locks).
//! A worker takes the first waiting request and everything else already queued (up to a
//! limit), and nothing more: requests that arrive while a batch runs wait for the next free
//! worker. So batches grow with the load by themselves, and on an idle store a lone request
//! runs at once, with no timer added.
//!
//! Group commit (`group_commit.rs`) writes messages this way, and the send path's
//! `write_context` reads this way: one statement and one round trip for many callers, which
//! under load costs Postgres far less than a statement each (executor start-up, a
//! transaction, a network wake-up per statement).

use std::future::Future;
use std::sync::Arc;

use chat_core::domain::error::PortError;
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::{from_diesel, from_pool};

pub(crate) type Connection = PooledConnection<'static, AsyncPgConnection>;

struct Pending<T, A> {
    request: T,
    reply: oneshot::Sender<Result<A, PortError>>,
}

/// The queue to the workers; cheap to clone. When the last clone is dropped, the workers
/// finish what is queued and stop.
pub(crate) struct Batches<T, A> {
    lanes: Arc<[mpsc::Sender<Pending<T, A>>]>,
}

impl<T, A> Clone for Batches<T, A> {
    fn clone(&self) -> Self {
        Batches { lanes: Arc::clone(&self.lanes) }
    }
}

/// How many lanes, how many workers take batches from each, and how large a batch may
/// grow.
pub(crate) struct Shape {
    pub lanes: usize,
    pub workers_per_lane: usize,
    pub max_batch: usize,
}

impl<T: Send + 'static, A: Send + 'static> Batches<T, A> {
    /// Starts the workers on the current tokio runtime. `run` gets a worker's connection
    /// and a batch, and returns the connection with one answer per request, in order.
    pub(crate) fn start<F, Fut>(pool: Pool<AsyncPgConnection>, shape: Shape, run: F) -> Batches<T, A>
    where
        F: Fn(Connection, Vec<T>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = (Connection, Vec<Result<A, PortError>>)> + Send + 'static,
    {
        let lanes: Vec<_> = (0..shape.lanes.max(1))
            .map(|_| {
                // Callers wait to queue once a few batches are waiting: the queue bounds the
                // memory a burst can take, and the wait is the back-pressure.
                let (queue, receiver) = mpsc::channel(4 * shape.workers_per_lane.max(1) * shape.max_batch);
                let receiver = Arc::new(Mutex::new(receiver));
                for _ in 0..shape.workers_per_lane.max(1) {
                    tokio::spawn(work(pool.clone(), Arc::clone(&receiver), shape.max_batch, run.clone()));
                }
                queue
            })
            .collect();
        Batches { lanes: lanes.into() }
    }

    /// Queues a request in the lane of `key` and waits for its answer. If the workers are
    /// gone (the runtime is shutting down), the caller gets `Unavailable` and may retry.
    pub(crate) async fn call(&self, key: u64, request: T) -> Result<A, PortError> {
        let (reply, answer) = oneshot::channel();
        let gone = || PortError::Unavailable("the database worker stopped before answering; retry".into());
        let lane = usize::try_from(key % self.lanes.len() as u64).unwrap_or(0);
        self.lanes[lane].send(Pending { request, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// One worker: batch after batch until the queue closes. It keeps its pooled connection
/// between batches (so it never waits behind other queries for one) and gets a new one
/// when it breaks.
async fn work<T, A, F, Fut>(
    pool: Pool<AsyncPgConnection>,
    receiver: Arc<Mutex<mpsc::Receiver<Pending<T, A>>>>,
    max_batch: usize,
    run: F,
) where
    F: Fn(Connection, Vec<T>) -> Fut,
    Fut: Future<Output = (Connection, Vec<Result<A, PortError>>)>,
{
    let mut connection: Option<Connection> = None;
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
            batch
        };
        if connection.as_mut().is_some_and(|c| PoolableConnection::is_broken(&mut **c)) {
            connection = None;
        }
        let conn = match connection.take() {
            Some(conn) => Ok(conn),
            None => worker_connection(&pool).await,
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(error) => {
                for pending in batch {
                    let _ = pending.reply.send(Err(error.clone()));
                }
                continue;
            }
        };
        let (requests, replies): (Vec<T>, Vec<_>) = batch.into_iter().map(|p| (p.request, p.reply)).unzip();
        let expected = replies.len();
        let (conn, answers) = run(conn, requests).await;
        connection = Some(conn);
        let mut answers = answers.into_iter();
        for reply in replies {
            let answer = answers
                .next()
                .unwrap_or_else(|| Err(PortError::Internal(format!("a batch of {expected} gave fewer answers"))));
            let _ = reply.send(answer);
        }
    }
}

/// A connection for a worker, set to plan its statements once. A worker runs the same few
/// statements for its whole life, and their parameters are arrays of any length, for which
/// Postgres's default (`plan_cache_mode = auto`) may judge the generic plan too costly and
/// plan every execution anew: with the statements' joins and CTEs, planning was most of
/// the CPU of the busiest backends. The statements are written so that their generic plan
/// is index lookups (see `append.rs` and `write_context.rs`).
async fn worker_connection(pool: &Pool<AsyncPgConnection>) -> Result<Connection, PortError> {
    let mut conn = pool.get_owned().await.map_err(from_pool)?;
    diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(&mut *conn).await.map_err(from_diesel)?;
    Ok(conn)
}
