//! Group commit of message inserts: concurrent `insert_message` calls share one transaction
//! and one commit (one WAL flush), so the cost of a commit is paid once per batch rather
//! than once per message. `synchronous_commit` stays on: a caller is answered only after
//! the commit that holds its message.
//!
//! A few writer tasks take turns at one queue. A writer takes the first waiting message
//! and everything else already queued (up to `MAX_BATCH`), and nothing more: messages that
//! arrive while a batch commits wait for the next writer, so batches grow with the load by
//! themselves, and an idle store writes a lone message at once, with no timer added.

use std::collections::HashMap;
use std::sync::Arc;

use chat_core::domain::error::RepoError;
use chat_core::domain::ids::{ClientMsgId, UserId};
use chat_core::domain::message::{Message, NewMessage};
use chat_core::ports::InsertOutcome;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::append::{append_rows, lock_conversations};
use crate::error::{from_diesel, from_pool};
use crate::rows::MessageRow;

/// The most messages one transaction takes.
pub(crate) const MAX_BATCH: usize = 128;
/// Writer tasks, each with a connection of its own. More than one, so a batch can be
/// gathered and sent while another waits for its commit; few, because every one takes a
/// connection from the pool and two batches that share a conversation take turns anyway.
const WRITERS: usize = 3;
/// Messages waiting for a writer before callers wait to queue theirs.
const QUEUE: usize = 4 * WRITERS * MAX_BATCH;

type Reply = oneshot::Sender<Result<InsertOutcome, RepoError>>;

struct Pending {
    message: NewMessage,
    reply: Reply,
}

/// The queue to the writers; cheap to clone. When the last clone is dropped, the writers
/// finish what is queued and stop.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

impl GroupCommit {
    /// Starts the writers on the current tokio runtime.
    pub(crate) fn start(pool: Pool<AsyncPgConnection>) -> GroupCommit {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(pool.clone(), Arc::clone(&receiver)));
        }
        GroupCommit { queue }
    }

    /// Queues a message and waits for the commit that stores it. If the writers are gone
    /// (the runtime is shutting down), the caller gets `Unavailable` and may retry: a retry
    /// with the same `client_msg_id` cannot store the message twice.
    pub(crate) async fn insert(&self, message: NewMessage) -> Result<InsertOutcome, RepoError> {
        let (reply, answer) = oneshot::channel();
        let gone = || RepoError::Unavailable("the message writer stopped before answering; retry".into());
        self.queue.send(Pending { message, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// One writer: batch after batch until the queue closes. It keeps its pooled connection
/// between batches (so it never waits behind readers for one) and gets a new one when it
/// breaks.
async fn write_batches(pool: Pool<AsyncPgConnection>, receiver: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    let mut connection: Option<PooledConnection<'static, AsyncPgConnection>> = None;
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
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
            Some(conn) => conn,
            None => match pool.get_owned().await {
                Ok(conn) => conn,
                Err(error) => {
                    let error = from_pool(error);
                    for pending in batch {
                        let _ = pending.reply.send(Err(error.clone()));
                    }
                    continue;
                }
            },
        };
        connection = Some(commit_batch(&pool, conn, batch).await);
    }
}

/// Writes one batch and answers every caller in it; returns the connection.
async fn commit_batch(
    pool: &Pool<AsyncPgConnection>,
    mut conn: PooledConnection<'static, AsyncPgConnection>,
    batch: Vec<Pending>,
) -> PooledConnection<'static, AsyncPgConnection> {
    // The same (sender, client_msg_id) twice in one batch is one message: the first is
    // written, the others get it back as `Existing`, as they would one batch later.
    let mut leaders: Vec<Pending> = Vec::with_capacity(batch.len());
    let mut followers: Vec<(usize, Reply)> = Vec::new();
    let mut by_key: HashMap<(UserId, ClientMsgId), usize> = HashMap::new();
    for pending in batch {
        if let Some(key) = pending.message.client_msg_id.map(|id| (pending.message.sender_id, id)) {
            if let Some(&leader) = by_key.get(&key) {
                followers.push((leader, pending.reply));
                continue;
            }
            by_key.insert(key, leaders.len());
        }
        leaders.push(pending);
    }
    let messages: Vec<&NewMessage> = leaders.iter().map(|p| &p.message).collect();
    let outcomes = match write_together(&mut conn, &messages).await {
        Ok(outcomes) => outcomes,
        // Whether the batch committed is unknown: every caller gets a retryable error. A
        // retry with the same client_msg_id finds its message if it was stored.
        Err(Together::Unknown(error)) => messages.iter().map(|_| Err(error.clone())).collect(),
        // The transaction rolled back: one message was refused or was a duplicate of one
        // stored meanwhile. One by one, so that it fails alone.
        Err(Together::RolledBack) => {
            tracing::debug!(messages = messages.len(), "batch rolled back; writing its messages one by one");
            let mut outcomes = Vec::with_capacity(messages.len());
            for message in &messages {
                outcomes.push(insert_alone(pool, message).await);
            }
            outcomes
        }
    };
    let mut answers: Vec<Result<InsertOutcome, RepoError>> = outcomes;
    for (leader, reply) in followers {
        let answer = match &answers[leader] {
            Ok(InsertOutcome::Inserted(message) | InsertOutcome::Existing(message)) => {
                Ok(InsertOutcome::Existing(message.clone()))
            }
            Err(error) => Err(error.clone()),
        };
        let _ = reply.send(answer);
    }
    for (pending, answer) in leaders.into_iter().zip(answers.drain(..)) {
        let _ = pending.reply.send(answer);
    }
    conn
}

/// Why a batch was not stored in one transaction.
enum Together {
    /// It rolled back: nothing of it is stored.
    RolledBack,
    /// The connection failed, perhaps during the commit: it may or may not be stored.
    Unknown(RepoError),
}

/// One transaction for the whole batch: lock its conversations in order, append every
/// message, commit. Any message that cannot be stored as asked (its key taken meanwhile, a
/// constraint refusing it) rolls the whole transaction back.
async fn write_together(
    conn: &mut AsyncPgConnection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<InsertOutcome, RepoError>>, Together> {
    let rows: Vec<Result<MessageRow, RepoError>> = messages.iter().map(|m| MessageRow::from_new(m, 0)).collect();
    let result = conn
        .transaction::<_, DieselError, _>(async |conn| {
            let ids = rows.iter().flatten().map(|row| row.conversation_id).collect();
            let existing = lock_conversations(conn, ids).await?;
            let valid: Vec<MessageRow> =
                rows.iter().flatten().filter(|row| existing.contains(&row.conversation_id)).cloned().collect();
            let expected = valid.len();
            let stored = if valid.is_empty() { Vec::new() } else { append_rows(conn, valid).await? };
            if stored.len() != expected {
                return Err(DieselError::RollbackTransaction);
            }
            Ok(stored)
        })
        .await;
    let stored = match result {
        Ok(stored) => stored,
        Err(DieselError::RollbackTransaction) => return Err(Together::RolledBack),
        Err(error) if connection_lost(&error) => return Err(Together::Unknown(from_diesel(error))),
        Err(_) => return Err(Together::RolledBack),
    };
    let mut by_id: HashMap<uuid::Uuid, Message> = stored.into_iter().map(|m| (m.id.0, m)).collect();
    Ok(messages
        .iter()
        .zip(rows)
        .map(|(message, row)| {
            row?;
            by_id
                .remove(&message.id.0)
                .map(InsertOutcome::Inserted)
                .ok_or_else(|| RepoError::Internal(format!("conversation {} does not exist", message.conversation_id)))
        })
        .collect())
}

/// Errors after which the transaction's fate is unknown.
fn connection_lost(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::BrokenTransactionManager
            | DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _
            )
    )
}

/// One message in a transaction of its own, as before group commit: the fallback that
/// isolates a bad message from the rest of its batch.
async fn insert_alone(pool: &Pool<AsyncPgConnection>, message: &NewMessage) -> Result<InsertOutcome, RepoError> {
    let mut conn = pool.get().await.map_err(from_pool)?;
    crate::messages::insert_one(&mut conn, message).await
}
