//! `ConversationRepo::write_context`: what deciding on a write needs (the writer's
//! membership, the conversation's kind and, in a direct conversation, the peer's blocks,
//! friendship and "who may message me"). A message send makes this one read before its
//! insert, instead of six; and concurrent calls are read together, one statement per batch
//! (`batch.rs`), since under load the cost of a statement is mostly its own start-up.
//!
//! Written out as a type with a static query id, as `append.rs` is, so that diesel-async
//! prepares it once per connection.

use chat_core::domain::account::Settings;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::ports::{DirectPeer, WriteContext};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDslSupport;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz, Uuid};
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::batch::{Batches, Connection, Shape};
use crate::error::{corrupt, from_diesel};
use crate::rows::{MemberRow, conversation_kind};

/// Readers, each with a connection of its own: two, so a batch is gathered while another
/// is read.
const READERS: usize = 2;
/// The readers' own connections.
pub(crate) const CONNECTIONS: u32 = READERS as u32;
const MAX_BATCH: usize = 256;

pub(crate) type WriteContexts = Batches<(ConversationId, UserId), Option<WriteContext>>;

/// Starts the readers on the current tokio runtime.
pub(crate) fn start(pool: Pool<AsyncPgConnection>) -> WriteContexts {
    Batches::start(pool, Shape { lanes: 1, workers_per_lane: READERS, max_batch: MAX_BATCH }, read_batch)
}

async fn read_batch(
    mut conn: Connection,
    requests: Vec<(ConversationId, UserId)>,
) -> (Connection, Vec<Result<Option<WriteContext>, PortError>>) {
    let answers = match read(&mut conn, &requests).await {
        Ok(contexts) => contexts.into_iter().map(Ok).collect(),
        Err(error) => requests.iter().map(|_| Err(error.clone())).collect(),
    };
    (conn, answers)
}

/// The contexts of `requests`, in their order.
async fn read(
    conn: &mut AsyncPgConnection,
    requests: &[(ConversationId, UserId)],
) -> Result<Vec<Option<WriteContext>>, PortError> {
    let query = ContextsQuery {
        conversations: requests.iter().map(|(c, _)| c.0).collect(),
        writers: requests.iter().map(|(_, w)| w.0).collect(),
    };
    let rows: Vec<(i64, ContextRow)> = query.load(conn).await.map_err(from_diesel)?;
    let mut contexts: Vec<Option<WriteContext>> = vec![None; requests.len()];
    for (ordinal, row) in rows {
        let slot = usize::try_from(ordinal - 1).ok().and_then(|i| contexts.get_mut(i));
        let Some(slot) = slot else { return Err(PortError::Internal(format!("write context {ordinal} unasked"))) };
        *slot = Some(context(row)?);
    }
    Ok(contexts)
}

fn context(row: ContextRow) -> Result<WriteContext, PortError> {
    let (member, kind, peer, peer_settings, blocked, friends) = row;
    let peer = match (peer, peer_settings) {
        (Some(peer), Some(settings)) => {
            let settings = serde_json::from_value::<Settings>(settings).map_err(|e| corrupt("settings", e))?;
            Some(DirectPeer { user_id: UserId(peer), blocked, friends, who_can_message: settings.who_can_message })
        }
        _ => None,
    };
    Ok(WriteContext { member: member.into_member()?, kind: conversation_kind(&kind)?, peer })
}

type ContextRow = (MemberRow, String, Option<uuid::Uuid>, Option<serde_json::Value>, bool, bool);

/// For each asked (conversation, writer) where the writer is a member, its ordinal, the
/// writer's membership row, the conversation's kind, and for a direct conversation the
/// peer, their settings, whether either blocked the other and whether they are friends
/// (both `false` in a group). The plan is made once per connection, perhaps while the
/// tables are nearly empty, so the statement is written to be index lookups whatever the
/// statistics said then: a `LATERAL ... LIMIT 1` per asked pair (never a hash of a whole
/// table) whose joins are all on primary keys (`EXISTS` subqueries may be planned as
/// hashes of all of `blocks` or `friendships`, on every call).
const WRITE_CONTEXTS: [&str; 3] = [
    "SELECT q.ord, w.* FROM unnest(",
    ", ",
    ") WITH ORDINALITY AS q(conversation_id, user_id, ord)
    CROSS JOIN LATERAL (
    SELECT m.conversation_id, m.user_id, m.role, m.joined_at, m.read_seq, m.delivered_seq, m.muted,
        m.muted_until, m.pinned_at, c.kind, p.user_id, u.settings,
        by_writer.blocker_id IS NOT NULL OR by_peer.blocker_id IS NOT NULL,
        f.user_id IS NOT NULL
    FROM conversation_members m
    JOIN conversations c ON c.id = m.conversation_id
    LEFT JOIN conversation_members p
        ON c.kind = 'direct' AND p.conversation_id = m.conversation_id AND p.user_id <> m.user_id
    LEFT JOIN users u ON u.id = p.user_id
    LEFT JOIN blocks by_writer ON by_writer.blocker_id = m.user_id AND by_writer.blocked_id = p.user_id
    LEFT JOIN blocks by_peer ON by_peer.blocker_id = p.user_id AND by_peer.blocked_id = m.user_id
    LEFT JOIN friendships f ON f.user_id = m.user_id AND f.friend_id = p.user_id
    WHERE m.conversation_id = q.conversation_id AND m.user_id = q.user_id
    LIMIT 1
    ) w",
];

struct ContextsQuery {
    conversations: Vec<uuid::Uuid>,
    writers: Vec<uuid::Uuid>,
}

impl QueryId for ContextsQuery {
    type QueryId = ContextsQuery;
    const HAS_STATIC_QUERY_ID: bool = true;
}

// diesel 2.4 gives `RunQueryDsl` only to types that opt in; a hand-written query must.
impl RunQueryDslSupport for ContextsQuery {}

impl Query for ContextsQuery {
    type SqlType = (
        BigInt,
        (
            (Uuid, Uuid, Text, Timestamptz, BigInt, BigInt, Bool, Nullable<Timestamptz>, Nullable<Timestamptz>),
            Text,
            Nullable<Uuid>,
            Nullable<Jsonb>,
            Bool,
            Bool,
        ),
    );
}

impl QueryFragment<Pg> for ContextsQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(WRITE_CONTEXTS[0]);
        out.push_bind_param::<Array<Uuid>, _>(&self.conversations)?;
        out.push_sql(WRITE_CONTEXTS[1]);
        out.push_bind_param::<Array<Uuid>, _>(&self.writers)?;
        out.push_sql(WRITE_CONTEXTS[2]);
        Ok(())
    }
}
