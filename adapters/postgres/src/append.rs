//! Appending messages: one statement that numbers, stores and marks as read any number of
//! new messages, run inside the caller's transaction.
//!
//! The SQL is written out here rather than built with diesel's DSL so that it is prepared
//! once per connection: diesel never caches an `UPDATE`, an insert with `DEFAULT` values, a
//! `sql_query` or an `IN (...)` list, and preparing a statement again costs a round trip on
//! every send. A type with a static query id and no `unsafe_to_cache_prepared` is cached
//! by diesel-async under that type, however many rows its array parameters hold.

use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::UserId;
use chat_core::domain::message::{Message, NewMessage};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDslSupport;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::TxStop;
use crate::rows::{MessageRow, search_text};
use crate::schema::conversations;

/// A message this statement stored, with its conversation's members at that moment.
pub(crate) struct Stored {
    pub message: Message,
    pub members: Vec<UserId>,
}

/// What one append did with its rows.
#[derive(Default)]
pub(crate) struct Appended {
    pub stored: Vec<Stored>,
    /// Ids of the rows left out because their `(sender, client_msg_id)` was already stored.
    pub taken: Vec<uuid::Uuid>,
}

/// Appends one message inside the caller's transaction: takes the conversation's row lock
/// while bumping `last_seq` (so concurrent senders queue and never share or skip a seq),
/// inserts, and moves the sender's read and delivered marks, in one round trip. Returns
/// `None` when the `(sender, client_msg_id)` already exists; the caller must then roll
/// back (a key taken by a transaction that committed while this one ran leaves a bumped
/// seq behind).
pub(crate) async fn append(conn: &mut AsyncPgConnection, message: &NewMessage) -> Result<Option<Stored>, TxStop<()>> {
    let rows = vec![MessageRow::from_new(message, 0)?];
    let mut appended = append_rows(conn, rows).await?;
    match appended.stored.pop() {
        Some(stored) => Ok(Some(stored)),
        None if !appended.taken.is_empty() => Ok(None),
        None => {
            // Left out of both lists: a concurrent transaction stored the key meanwhile, unless
            // there is no such conversation.
            let exists: Option<uuid::Uuid> = conversations::table
                .find(message.conversation_id.0)
                .select(conversations::id)
                .first(conn)
                .await
                .optional()?;
            match exists {
                Some(_) => Ok(None),
                None => {
                    Err(PortError::Internal(format!("conversation {} does not exist", message.conversation_id)).into())
                }
            }
        }
    }
}

/// Appends `rows` (their `seq` is ignored) and says what became of them. A row whose
/// `(sender, client_msg_id)` is already stored is left out without taking a seq (`taken`);
/// a row whose conversation does not exist is left out of both lists; the caller decides
/// what that means. If a concurrent transaction stores the same key while this one runs,
/// the row is left out of both lists too, but its seq was taken: the caller must roll back
/// when the lists do not account for every row. Messages are numbered in the order of
/// `rows`. With messages of several conversations, the caller must first lock them
/// (`lock_conversations`), so that two such appends cannot deadlock. It takes the connection
/// shared, so that it can be sent behind another statement without waiting for that one's
/// answer (diesel-async pipelines the requests of one connection that are polled together).
pub(crate) async fn append_rows(
    conn: &AsyncPgConnection,
    rows: Vec<MessageRow>,
) -> Result<Appended, diesel::result::Error> {
    let statement = AppendMessages::from_rows(&rows);
    let mut shared = conn;
    let outcomes: Vec<(uuid::Uuid, Option<i64>, Vec<uuid::Uuid>)> = statement.get_results(&mut shared).await?;
    let mut taken = Vec::new();
    let mut numbered = std::collections::HashMap::with_capacity(outcomes.len());
    for (id, seq, members) in outcomes {
        match seq {
            Some(seq) => {
                numbered.insert(id, (seq, members));
            }
            None => taken.push(id),
        }
    }
    let mut stored = Vec::with_capacity(numbered.len());
    for mut row in rows {
        if let Some((seq, members)) = numbered.remove(&row.id) {
            row.seq = seq;
            // A row this code built itself always converts back.
            if let Ok(message) = row.into_message(Vec::new()) {
                stored.push(Stored { message, members: members.into_iter().map(UserId).collect() });
            }
        }
    }
    Ok(Appended { stored, taken })
}

/// Locks the given conversations, sorted, so that two batches sharing conversations take
/// them in the same order and cannot deadlock. A missing conversation is not an error here:
/// the append leaves its rows out, and the caller sees that. It takes the connection
/// shared, as `append_rows` does, so that the two can be pipelined.
pub(crate) async fn lock_conversations(
    conn: &AsyncPgConnection,
    mut ids: Vec<uuid::Uuid>,
) -> Result<(), diesel::result::Error> {
    ids.sort_unstable();
    ids.dedup();
    let mut shared = conn;
    LockConversations { ids }.execute(&mut shared).await.map(drop)
}

/// The whole append in one statement (`APPEND_HEAD`, the arrays, `APPEND_TAIL`). `input`
/// numbers the rows; `fresh` leaves out those whose key is already stored (a retry), so
/// they take no seq; `bumped` raises each conversation's `last_seq` by its number of new
/// messages under the row lock and returns the seq before; each message gets the next one
/// in input order; the sender's read and delivered marks move to their newest message.
/// It returns `(id, seq, members)` of every row stored, the members read in this
/// statement's snapshot, taken after the caller locked the conversations (membership
/// changes take the same lock, so these are the members at this seq), and `(id, NULL,
/// '{}')` of every row left out as a retry. The statements of a `WITH` share one snapshot,
/// so `marked` reads the seqs from `inserted`'s output, not from the table.
///
/// The statement is prepared once, so its plan is made once per connection, perhaps while
/// `messages` is still nearly empty. The retry lookup is a `LATERAL ... LIMIT 1` because
/// that runs as one index probe per row whatever the statistics said: written as
/// `NOT EXISTS`, the planner may hash all of `messages` for every batch (seen on a fresh
/// database, where it cost most of Postgres's CPU).
const APPEND_HEAD: &str = "WITH input AS (SELECT * FROM unnest(";
/// After the eleven arrays of `AppendMessages`.
const APPEND_TAIL: &str = ") WITH ORDINALITY
        AS i(id, conversation_id, sender_id, kind, body, reply_to, client_msg_id, system, created_at, media_ids,
            search_text, ord)
), fresh AS (
    SELECT i.* FROM input i
    LEFT JOIN LATERAL (
        SELECT 1 AS hit FROM messages m WHERE m.sender_id = i.sender_id AND m.client_msg_id = i.client_msg_id LIMIT 1
    ) earlier ON true
    WHERE earlier.hit IS NULL
), counts AS (
    SELECT conversation_id, count(*) AS n, max(created_at) AS latest FROM fresh GROUP BY conversation_id
), bumped AS (
    UPDATE conversations c
    SET last_seq = c.last_seq + counts.n, last_activity_at = GREATEST(c.last_activity_at, counts.latest)
    FROM counts WHERE c.id = counts.conversation_id
    RETURNING c.id, c.last_seq - counts.n AS base
), numbered AS (
    SELECT f.*, b.base + row_number() OVER (PARTITION BY f.conversation_id ORDER BY f.ord) AS seq
    FROM fresh f JOIN bumped b ON b.id = f.conversation_id
), inserted AS (
    INSERT INTO messages (conversation_id, seq, id, sender_id, kind, body, reply_to, client_msg_id, system, created_at,
        media_ids, search_text)
    SELECT conversation_id, seq, id, sender_id, kind, body, reply_to, client_msg_id, system, created_at,
        media_ids::uuid[], search_text FROM numbered
    ON CONFLICT (sender_id, client_msg_id) DO NOTHING
    RETURNING id, conversation_id, sender_id, seq
), marked AS (
    UPDATE conversation_members m
    SET read_seq = GREATEST(m.read_seq, newest.seq), delivered_seq = GREATEST(m.delivered_seq, newest.seq)
    FROM (SELECT conversation_id, sender_id, max(seq) AS seq FROM inserted GROUP BY conversation_id, sender_id) newest
    WHERE m.conversation_id = newest.conversation_id AND m.user_id = newest.sender_id
)
SELECT ins.id, ins.seq,
    ARRAY(SELECT cm.user_id FROM conversation_members cm WHERE cm.conversation_id = ins.conversation_id) AS members
FROM inserted ins
UNION ALL
SELECT i.id, NULL, '{}'::uuid[] FROM input i WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.id = i.id)";

/// The append statement with its parameters, one array per column (`search_vector` is
/// generated by the database from `search_text`).
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
    /// Each row's media ids as an array literal (`{id,id}`): Postgres has no arrays of
    /// arrays of different lengths to unnest, and a uuid needs no quoting in one.
    media_ids: Vec<String>,
    /// Each body's folded words (`rows::search_text`), what message search compares.
    search_texts: Vec<String>,
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
            media_ids: rows.iter().map(|r| uuid_array_literal(&r.media_ids)).collect(),
            search_texts: rows.iter().map(|r| search_text(r.body.as_deref())).collect(),
        }
    }
}

impl QueryId for AppendMessages {
    type QueryId = AppendMessages;
    const HAS_STATIC_QUERY_ID: bool = true;
}

// diesel 2.4 gives `RunQueryDsl` only to types that opt in; a hand-written query must.
impl RunQueryDslSupport for AppendMessages {}

impl Query for AppendMessages {
    type SqlType = (Uuid, Nullable<BigInt>, Array<Uuid>);
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
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.media_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.search_texts)?;
        out.push_sql(APPEND_TAIL);
        Ok(())
    }
}

/// `{a,b}`: the text form of a uuid array, cast back with `::uuid[]`.
fn uuid_array_literal(ids: &[uuid::Uuid]) -> String {
    let mut literal = String::with_capacity(2 + ids.len() * 37);
    literal.push('{');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            literal.push(',');
        }
        literal.push_str(&id.hyphenated().to_string());
    }
    literal.push('}');
    literal
}

/// `SELECT id FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE`.
struct LockConversations {
    ids: Vec<uuid::Uuid>,
}

impl QueryId for LockConversations {
    type QueryId = LockConversations;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDslSupport for LockConversations {}

impl QueryFragment<Pg> for LockConversations {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT id FROM conversations WHERE id = ANY(");
        out.push_bind_param::<Array<Uuid>, _>(&self.ids)?;
        out.push_sql(") ORDER BY id FOR UPDATE");
        Ok(())
    }
}
