//! Group commit of message inserts: concurrent `insert_message` calls share one transaction
//! and one commit (one WAL flush), so the cost of a commit is paid once per batch rather
//! than once per message. `synchronous_commit` stays on: a caller is answered only after
//! the commit that holds its message.
//!
//! A few writers, each with its own queue (`batch.rs`); a conversation's messages always go
//! to the same one. A writer takes the first waiting message and everything else already
//! queued (up to `MAX_BATCH`), and nothing more: messages that arrive while a batch
//! commits wait for the next, so batches grow with the load by themselves, and an idle
//! store writes a lone message at once, with no timer added.

use std::collections::{HashMap, HashSet};

use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ClientMsgId, UserId};
use chat_core::domain::message::NewMessage;
use chat_core::ports::InsertOutcome;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};

use crate::append::{Appended, Stored, append_rows, lock_conversations};
use crate::batch::{Batches, Connection, Shape};
use crate::error::{from_diesel, from_pool};
use crate::rows::MessageRow;

/// The most messages one transaction takes.
const MAX_BATCH: usize = 128;
/// Writer tasks, each with a connection and a lane of its own: a conversation's messages
/// always go to the same writer, so two writers of one node never wait for each other's
/// conversation locks (with one shared queue, batches of a hundred messages nearly always
/// shared a conversation, and the writers took turns). More than one, so batches are
/// written while others commit; few, because every one holds a pooled connection.
const WRITERS: usize = 3;
/// The writers' own connections.
pub(crate) const CONNECTIONS: u32 = WRITERS as u32;

/// The queue to the writers; cheap to clone. When the last clone is dropped, the writers
/// finish what is queued and stop.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    batches: Batches<NewMessage, InsertOutcome>,
}

impl GroupCommit {
    /// Starts the writers on the current tokio runtime, with the connections of
    /// `writers`; a message its batch could not take is written alone on one of `fallback`.
    pub(crate) fn start(writers: Pool<AsyncPgConnection>, fallback: Pool<AsyncPgConnection>) -> GroupCommit {
        let batches = Batches::start(
            writers,
            Shape { lanes: WRITERS, workers_per_lane: 1, max_batch: MAX_BATCH },
            move |conn, batch| commit_batch(fallback.clone(), conn, batch),
        );
        GroupCommit { batches }
    }

    /// Queues a message and waits for the commit that stores it. If the writers are gone
    /// (the runtime is shutting down), the caller gets `Unavailable` and may retry: a retry
    /// with the same `client_msg_id` cannot store the message twice.
    pub(crate) async fn insert(&self, message: NewMessage) -> Result<InsertOutcome, PortError> {
        // UUIDv7: the low bits are random, so conversations spread evenly over the lanes.
        let lane = message.conversation_id.0.as_u64_pair().1;
        self.batches.call(lane, message).await
    }
}

/// Writes one batch; returns the connection and an answer per message, in order.
async fn commit_batch(
    pool: Pool<AsyncPgConnection>,
    mut conn: Connection,
    batch: Vec<NewMessage>,
) -> (Connection, Vec<Result<InsertOutcome, PortError>>) {
    // The same (sender, client_msg_id) twice in one batch is one message: the first is
    // written, the others get it back as `Existing`, as they would one batch later.
    let mut leaders: Vec<NewMessage> = Vec::with_capacity(batch.len());
    // For each message of the batch, the leader whose answer it takes, and whether it is
    // that leader.
    let mut answer_of: Vec<(usize, bool)> = Vec::with_capacity(batch.len());
    let mut by_key: HashMap<(UserId, ClientMsgId), usize> = HashMap::new();
    for message in batch {
        if let Some(key) = message.client_msg_id.map(|id| (message.sender_id, id)) {
            if let Some(&leader) = by_key.get(&key) {
                answer_of.push((leader, false));
                continue;
            }
            by_key.insert(key, leaders.len());
        }
        answer_of.push((leaders.len(), true));
        leaders.push(message);
    }
    let messages: Vec<&NewMessage> = leaders.iter().collect();
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
                outcomes.push(insert_alone(&pool, message).await);
            }
            outcomes
        }
    };
    let answers = answer_of
        .into_iter()
        .map(|(leader, is_leader)| match &outcomes[leader] {
            Ok(outcome) if is_leader => Ok(outcome.clone()),
            Ok(outcome) => Ok(InsertOutcome::Existing(outcome.message().clone())),
            Err(error) => Err(error.clone()),
        })
        .collect();
    (conn, answers)
}

/// Why a batch was not stored in one transaction.
enum Together {
    /// It rolled back: nothing of it is stored.
    RolledBack,
    /// The connection failed, perhaps during the commit: it may or may not be stored.
    Unknown(PortError),
}

/// One transaction for the whole batch: lock its conversations in order, append every
/// message, commit. A message whose key was already stored takes no seq and is answered
/// with the original; any message that cannot be stored as asked (its key taken by a
/// concurrent transaction, its conversation gone, a constraint refusing it) rolls the whole
/// transaction back.
///
/// Two round trips: `BEGIN`, the locks and the append are sent at once (pipelined), then
/// `COMMIT` (or `ROLLBACK`). Postgres runs a connection's requests in the order they were
/// sent, so the append runs inside the transaction once the locks are held, with a
/// snapshot of its own taken then (so the members it reads are those at its seqs); if the
/// locking fails, the transaction is aborted and the append fails with it. The requests go
/// out in the order they are polled (`biased`): `BEGIN` is sent on its first poll, and the
/// two statements take the connection's statement cache in turn (diesel-async holds it
/// while it prepares one), so the append is sent after the locks even when one of them
/// must be prepared first. A test checks the order both ways (`tests/group_commit.rs`).
/// Until it is settled, the transaction is unknown to diesel: were this future dropped
/// half-way, the connection would go back to the writers' own pool inside it, and only
/// the runtime's shutdown drops a writer.
async fn write_together(
    conn: &mut AsyncPgConnection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<InsertOutcome, PortError>>, Together> {
    let rows: Vec<Result<MessageRow, PortError>> = messages.iter().map(|m| MessageRow::from_new(m, 0)).collect();
    let valid: Vec<MessageRow> = rows.iter().flatten().cloned().collect();
    let appended = if valid.is_empty() { Appended::default() } else { commit_rows(conn, valid).await? };
    let mut by_id: HashMap<uuid::Uuid, Stored> = appended.stored.into_iter().map(|s| (s.message.id.0, s)).collect();
    let taken: HashSet<uuid::Uuid> = appended.taken.into_iter().collect();
    let mut outcomes = Vec::with_capacity(messages.len());
    for (message, row) in messages.iter().zip(rows) {
        let outcome = match row {
            Err(error) => Err(error),
            Ok(_) if taken.contains(&message.id.0) => original(conn, message).await,
            Ok(_) => by_id
                .remove(&message.id.0)
                .map(|stored| InsertOutcome::Inserted { message: stored.message, members: stored.members })
                .ok_or_else(|| PortError::Internal(format!("conversation {} does not exist", message.conversation_id))),
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Appends `rows` in a transaction of their own and commits it (see `write_together`).
async fn commit_rows(conn: &mut AsyncPgConnection, rows: Vec<MessageRow>) -> Result<Appended, Together> {
    let expected = rows.len();
    let ids = rows.iter().map(|row| row.conversation_id).collect();
    let settled = {
        let mut begin: &AsyncPgConnection = conn;
        let (began, locked, appended) = tokio::join!(
            biased;
            begin.batch_execute("BEGIN"),
            lock_conversations(conn, ids),
            append_rows(conn, rows),
        );
        match (began, locked, appended) {
            (Ok(()), Ok(()), Ok(appended)) if appended.stored.len() + appended.taken.len() == expected => Ok(appended),
            // A row left out of both lists: its conversation is gone, or a concurrent
            // transaction stored its key after it took a seq.
            (Ok(()), Ok(()), Ok(_)) => Err(None),
            (Err(error), _, _) | (Ok(()), Err(error), _) | (Ok(()), Ok(()), Err(error)) => Err(Some(error)),
        }
    };
    match settled {
        Ok(appended) => match conn.batch_execute("COMMIT").await {
            Ok(()) => Ok(appended),
            Err(error) if connection_lost(&error) => Err(Together::Unknown(from_diesel(error))),
            // A commit that fails rolls the transaction back.
            Err(_) => Err(Together::RolledBack),
        },
        Err(Some(error)) if connection_lost(&error) => Err(Together::Unknown(from_diesel(error))),
        Err(_) => match conn.batch_execute("ROLLBACK").await {
            Ok(()) => Err(Together::RolledBack),
            Err(error) => Err(Together::Unknown(from_diesel(error))),
        },
    }
}

/// The message stored earlier under `message`'s `(sender, client_msg_id)`: a retry's answer.
async fn original(conn: &mut AsyncPgConnection, message: &NewMessage) -> Result<InsertOutcome, PortError> {
    let client_msg_id =
        message.client_msg_id.ok_or_else(|| PortError::Internal("a retry without a client_msg_id".into()))?;
    crate::messages::by_client_id(conn, message.sender_id, client_msg_id)
        .await?
        .map(InsertOutcome::Existing)
        .ok_or_else(|| PortError::Unavailable("the original of a retry vanished; retry".into()))
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
async fn insert_alone(pool: &Pool<AsyncPgConnection>, message: &NewMessage) -> Result<InsertOutcome, PortError> {
    let mut conn = pool.get().await.map_err(from_pool)?;
    crate::messages::insert_one(&mut conn, message).await
}
