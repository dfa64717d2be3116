//! Unread counts: per conversation for the conversation list, and summed over the unmuted
//! conversations for the app icon's badge. Both count the same messages (`OTHERS_MESSAGES`
//! after the member's read mark), so the badge never disagrees with the list it sums.

use std::collections::HashMap;

use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::UserId;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int8, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::PgStore;
use crate::error::from_diesel;
use crate::rows::{to_i64, to_u64};

/// The messages `m` that count as unread for user `$1` once past their read mark: others'
/// messages, SYSTEM announcements aside (the rule of `chat_core::domain::conversation::unread_count`).
const OTHERS_MESSAGES: &str = "m.sender_id <> $1 AND m.kind <> 'SYSTEM'";

/// Per conversation: messages after the member's read mark that others sent (range scans of
/// the `(conversation_id, seq)` primary key). Conversations with none are absent.
pub(super) async fn others_after_read(
    conn: &mut AsyncPgConnection,
    user: UserId,
    ids: &[uuid::Uuid],
    read_seqs: &[i64],
) -> Result<HashMap<uuid::Uuid, u64>, PortError> {
    let rows: Vec<UnreadRow> = diesel::sql_query(format!(
        "SELECT m.conversation_id, count(*) AS unread \
         FROM unnest($2::uuid[], $3::bigint[]) AS mark(conversation_id, read_seq) \
         JOIN messages m ON m.conversation_id = mark.conversation_id AND m.seq > mark.read_seq \
         WHERE {OTHERS_MESSAGES} \
         GROUP BY m.conversation_id"
    ))
    .bind::<SqlUuid, _>(user.0)
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Int8>, _>(read_seqs)
    .load(conn)
    .await
    .map_err(from_diesel)?;
    Ok(rows.into_iter().map(|row| (row.conversation_id, to_u64(row.unread))).collect())
}

/// The user's unread messages over their conversations not muted at `now`, at most `cap`.
///
/// One statement: the user's memberships (the `conversation_members_by_user` index), for each
/// a range scan of the messages primary key between the read mark and `last_seq` (the clamp
/// `unread_count` applies to the list's figure), and an outer `LIMIT` that stops the whole
/// scan at the `cap`-th unread message, so 100k unread cost what `cap` do. The inner `LIMIT`
/// keeps the planner from flattening the lateral subquery: flattened, it bounded the scan by
/// `last_seq` alone and filtered the read mark row by row, reading each conversation from
/// seq 1 (measured in EXPLAIN ANALYZE). Memberships the user left are deleted rows, so they
/// are not found.
pub(super) async fn unread_total(store: &PgStore, user: UserId, now: Timestamp, cap: u64) -> Result<u64, PortError> {
    let mut conn = store.conn().await?;
    let total: Total = diesel::sql_query(format!(
        "SELECT count(*) AS total FROM ( \
             SELECT 1 FROM conversation_members cm \
             JOIN conversations c ON c.id = cm.conversation_id \
             CROSS JOIN LATERAL ( \
                 SELECT 1 FROM messages m \
                 WHERE m.conversation_id = cm.conversation_id \
                   AND m.seq > cm.read_seq AND m.seq <= c.last_seq \
                   AND {OTHERS_MESSAGES} \
                 LIMIT $3 \
             ) AS unread \
             WHERE cm.user_id = $1 \
               AND NOT (cm.muted AND (cm.muted_until IS NULL OR cm.muted_until > $2)) \
             LIMIT $3 \
         ) AS counted"
    ))
    .bind::<SqlUuid, _>(user.0)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(to_i64(cap))
    .get_result(&mut conn)
    .await
    .map_err(from_diesel)?;
    Ok(to_u64(total.total))
}

#[derive(QueryableByName)]
struct UnreadRow {
    #[diesel(sql_type = SqlUuid)]
    conversation_id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    unread: i64,
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    total: i64,
}
