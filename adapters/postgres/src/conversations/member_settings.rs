//! A member's own state in a conversation: read and delivered marks, mute and pin.

use chat_core::domain::Timestamp;
use chat_core::domain::conversation::Mute;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::ports::PinOutcome;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::PgStore;
use crate::error::{TxStop, from_diesel, settle};
use crate::rows::{to_i64, to_u64};
use crate::schema::conversation_members;

pub(super) async fn mark_read(
    store: &PgStore,
    id: ConversationId,
    user: UserId,
    seq: u64,
) -> Result<Option<u64>, PortError> {
    raise_mark(store, "read_seq", id, user, seq).await
}

pub(super) async fn mark_delivered(
    store: &PgStore,
    id: ConversationId,
    user: UserId,
    seq: u64,
) -> Result<Option<u64>, PortError> {
    raise_mark(store, "delivered_seq", id, user, seq).await
}

pub(super) async fn set_mute(
    store: &PgStore,
    id: ConversationId,
    user: UserId,
    mute: Option<Mute>,
) -> Result<(), PortError> {
    let (muted, until) = match mute {
        None => (false, None),
        Some(Mute::Forever) => (true, None),
        Some(Mute::Until(until)) => (true, Some(until)),
    };
    let mut conn = store.conn().await?;
    diesel::update(conversation_members::table.find((id.0, user.0)))
        .set((conversation_members::muted.eq(muted), conversation_members::muted_until.eq(until)))
        .execute(&mut conn)
        .await
        .map_err(from_diesel)?;
    Ok(())
}

pub(super) async fn set_pinned(
    store: &PgStore,
    id: ConversationId,
    user: UserId,
    pinned_at: Option<Timestamp>,
    max_pinned: usize,
) -> Result<PinOutcome, PortError> {
    let mut conn = store.conn().await?;
    let result = conn
        .transaction::<_, TxStop<PinOutcome>, _>(async |conn| {
            let mine = conversation_members::table.filter(conversation_members::user_id.eq(user.0));
            if let Some(at) = pinned_at {
                // Serialise one user's pins so two at once cannot both pass the limit.
                let _: Vec<uuid::Uuid> =
                    mine.select(conversation_members::conversation_id).for_update().load(conn).await?;
                let pinned: i64 = mine
                    .filter(conversation_members::pinned_at.is_not_null())
                    .filter(conversation_members::conversation_id.ne(id.0))
                    .count()
                    .get_result(conn)
                    .await?;
                if usize::try_from(pinned).unwrap_or(usize::MAX) >= max_pinned {
                    return Err(TxStop::Rollback(PinOutcome::TooManyPinned));
                }
                // Pinning again keeps the original pin time.
                diesel::update(
                    conversation_members::table.find((id.0, user.0)).filter(conversation_members::pinned_at.is_null()),
                )
                .set(conversation_members::pinned_at.eq(at))
                .execute(conn)
                .await?;
            } else {
                let none: Option<Timestamp> = None;
                diesel::update(conversation_members::table.find((id.0, user.0)))
                    .set(conversation_members::pinned_at.eq(none))
                    .execute(conn)
                    .await?;
            }
            Ok(PinOutcome::Done)
        })
        .await;
    Ok(settle(result)?.unwrap_or_else(|outcome| outcome))
}

#[derive(QueryableByName)]
struct MarkRow {
    #[diesel(sql_type = BigInt)]
    mark: i64,
}

/// Raises a member's read or delivered mark to `seq`, clamped to the conversation's
/// `last_seq`, never lowering it. `column` is one of two fixed names, never user input.
async fn raise_mark(
    store: &PgStore,
    column: &'static str,
    id: ConversationId,
    user: UserId,
    seq: u64,
) -> Result<Option<u64>, PortError> {
    let sql = format!(
        "UPDATE conversation_members m SET {column} = LEAST($3, c.last_seq) \
         FROM conversations c \
         WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2 AND LEAST($3, c.last_seq) > m.{column} \
         RETURNING m.{column} AS mark"
    );
    let mut conn = store.conn().await?;
    let row: Option<MarkRow> = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(id.0)
        .bind::<SqlUuid, _>(user.0)
        .bind::<BigInt, _>(to_i64(seq))
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(from_diesel)?;
    Ok(row.map(|row| to_u64(row.mark)))
}
