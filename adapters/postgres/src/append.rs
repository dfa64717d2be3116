//! Appending messages: one statement that numbers, stores and marks as read any number of
//! new messages, run inside the caller's transaction.
//!
//! The SQL is written out here rather than built with diesel's DSL so that it is prepared
//! once per connection: diesel never caches an `UPDATE`, an insert with `DEFAULT` values, a
//! `sql_query` or an `IN (...)` list, and preparing a statement again costs a round trip on
//! every send. A type with a static query id and no `unsafe_to_cache_prepared` is cached
//! by diesel-async under that type, however many rows its array parameters hold.

use chat_core::domain::Timestamp;
use chat_core::domain::error::RepoError;
use chat_core::domain::message::{Message, NewMessage};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::TxStop;
use crate::rows::MessageRow;
use crate::schema::conversations;

/// Appends one message inside the caller's transaction: takes the conversation's row lock
/// while bumping `last_seq` (so concurrent senders queue and never share or skip a seq),
/// inserts, and moves the sender's read and delivered marks, in one round trip. Returns
/// `None` when the `(sender, client_msg_id)` already exists; the caller must then roll
/// back, which also undoes the seq bump.
pub(crate) async fn append(conn: &mut AsyncPgConnection, message: &NewMessage) -> Result<Option<Message>, TxStop<()>> {
    let rows = vec![MessageRow::from_new(message, 0)?];
    let mut appended = append_rows(conn, rows).await?;
    match appended.pop() {
        Some(message) => Ok(Some(message)),
        None => {
            // Nothing stored: the key was taken, unless there is no such conversation.
            let exists: Option<uuid::Uuid> = conversations::table
                .find(message.conversation_id.0)
                .select(conversations::id)
                .first(conn)
                .await
                .optional()?;
            match exists {
                Some(_) => Ok(None),
                None => {
                    Err(RepoError::Internal(format!("conversation {} does not exist", message.conversation_id)).into())
                }
            }
        }
    }
}

/// Appends `rows` (their `seq` is ignored) and returns the messages it stored, numbered.
/// A row whose conversation does not exist, or whose `(sender, client_msg_id)` is taken, is
/// left out of the result; the caller decides what that means. Messages are numbered in the
/// order of `rows`. With messages of several conversations, the caller must first lock them
/// with `lock_conversations`, so that two such appends cannot deadlock.
pub(crate) async fn append_rows(
    conn: &mut AsyncPgConnection,
    rows: Vec<MessageRow>,
) -> Result<Vec<Message>, diesel::result::Error> {
    let statement = AppendMessages::from_rows(&rows);
    let numbered: Vec<(uuid::Uuid, i64)> = statement.get_results(conn).await?;
    let mut seqs: std::collections::HashMap<uuid::Uuid, i64> = numbered.into_iter().collect();
    let mut stored = Vec::with_capacity(seqs.len());
    for mut row in rows {
        if let Some(seq) = seqs.remove(&row.id) {
            row.seq = seq;
            // A row this code built itself always converts back.
            if let Ok(message) = row.into_message(Vec::new()) {
                stored.push(message);
            }
        }
    }
    Ok(stored)
}

/// Locks the given conversations (sorted, so that two batches sharing conversations take
/// them in the same order and cannot deadlock) and returns the ones that exist.
pub(crate) async fn lock_conversations(
    conn: &mut AsyncPgConnection,
    mut ids: Vec<uuid::Uuid>,
) -> Result<Vec<uuid::Uuid>, diesel::result::Error> {
    ids.sort_unstable();
    ids.dedup();
    LockConversations { ids }.get_results(conn).await
}

/// The whole append in one statement (`APPEND_HEAD`, the arrays, `APPEND_TAIL`). `input` numbers the rows; `bumped` raises each
/// conversation's `last_seq` by its number of new messages under the row lock and returns
/// the seq before; each message gets the next one in input order; the sender's read and
/// delivered marks move to their newest message. It returns `(id, seq)` of every row
/// stored. The statements of a `WITH` share one snapshot, so `marked` reads the seqs from
/// `inserted`'s output, not from the table.
const APPEND_HEAD: &str = "WITH input AS (SELECT * FROM unnest(";
/// After the nine arrays of `AppendMessages`.
const APPEND_TAIL: &str = ") WITH ORDINALITY
        AS i(id, conversation_id, sender_id, kind, body, reply_to, client_msg_id, system, created_at, ord)
), counts AS (
    SELECT conversation_id, count(*) AS n, max(created_at) AS latest FROM input GROUP BY conversation_id
), bumped AS (
    UPDATE conversations c
    SET last_seq = c.last_seq + counts.n, last_activity_at = GREATEST(c.last_activity_at, counts.latest)
    FROM counts WHERE c.id = counts.conversation_id
    RETURNING c.id, c.last_seq - counts.n AS base
), numbered AS (
    SELECT i.*, b.base + row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord) AS seq
    FROM input i JOIN bumped b ON b.id = i.conversation_id
), inserted AS (
    INSERT INTO messages (conversation_id, seq, id, sender_id, kind, body, reply_to, client_msg_id, system, created_at)
    SELECT conversation_id, seq, id, sender_id, kind, body, reply_to, client_msg_id, system, created_at FROM numbered
    ON CONFLICT (sender_id, client_msg_id) DO NOTHING
    RETURNING id, conversation_id, sender_id, seq
), marked AS (
    UPDATE conversation_members m
    SET read_seq = GREATEST(m.read_seq, newest.seq), delivered_seq = GREATEST(m.delivered_seq, newest.seq)
    FROM (SELECT conversation_id, sender_id, max(seq) AS seq FROM inserted GROUP BY conversation_id, sender_id) newest
    WHERE m.conversation_id = newest.conversation_id AND m.user_id = newest.sender_id
)
SELECT id, seq FROM inserted";

/// The append statement with its parameters, one array per column.
struct AppendMessages {
    ids: Vec<uuid::Uuid>,
    conversation_ids: Vec<uuid::Uuid>,
    sender_ids: Vec<uuid::Uuid>,
    kinds: Vec<String>,
    bodies: Vec<Option<String>>,
    reply_tos: Vec<Option<uuid::Uuid>>,
    client_msg_ids: Vec<Option<uuid::Uuid>>,
    systems: Vec<Option<serde_json::Value>>,
    created_ats: Vec<Timestamp>,
}

impl AppendMessages {
    fn from_rows(rows: &[MessageRow]) -> AppendMessages {
        AppendMessages {
            ids: rows.iter().map(|r| r.id).collect(),
            conversation_ids: rows.iter().map(|r| r.conversation_id).collect(),
            sender_ids: rows.iter().map(|r| r.sender_id).collect(),
            kinds: rows.iter().map(|r| r.kind.clone()).collect(),
            bodies: rows.iter().map(|r| r.body.clone()).collect(),
            reply_tos: rows.iter().map(|r| r.reply_to).collect(),
            client_msg_ids: rows.iter().map(|r| r.client_msg_id).collect(),
            systems: rows.iter().map(|r| r.system.clone()).collect(),
            created_ats: rows.iter().map(|r| r.created_at).collect(),
        }
    }
}

impl QueryId for AppendMessages {
    type QueryId = AppendMessages;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for AppendMessages {
    type SqlType = (Uuid, BigInt);
}

impl QueryFragment<Pg> for AppendMessages {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(APPEND_HEAD);
        out.push_bind_param::<Array<Uuid>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Uuid>, _>(&self.conversation_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Uuid>, _>(&self.sender_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.kinds)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.bodies)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Uuid>>, _>(&self.reply_tos)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Uuid>>, _>(&self.client_msg_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Jsonb>>, _>(&self.systems)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.created_ats)?;
        out.push_sql(APPEND_TAIL);
        Ok(())
    }
}

/// `SELECT id FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE`.
struct LockConversations {
    ids: Vec<uuid::Uuid>,
}

impl QueryId for LockConversations {
    type QueryId = LockConversations;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for LockConversations {
    type SqlType = Uuid;
}

impl QueryFragment<Pg> for LockConversations {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT id FROM conversations WHERE id = ANY(");
        out.push_bind_param::<Array<Uuid>, _>(&self.ids)?;
        out.push_sql(") ORDER BY id FOR UPDATE");
        Ok(())
    }
}
