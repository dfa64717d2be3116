//! A user's conversation list (a page with last messages and unread counts), the other
//! members of some conversations, contacts, and the per-conversation seqs that sync reads.

use std::collections::HashMap;

use chat_core::domain::conversation::{ConversationSummary, unread_count};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::domain::message::Message;
use chat_core::ports::{ConversationCursor, ListQuery};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int8, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::PgStore;
use crate::error::from_diesel;
use crate::messages::with_reactions;
use crate::rows::{ConversationRow, MESSAGE_COLUMNS, MemberRow, MessageRow, to_u64};
use crate::schema::{conversation_members, conversations};

pub(super) async fn list_conversations(
    store: &PgStore,
    user: UserId,
    query: ListQuery,
) -> Result<Vec<ConversationSummary>, PortError> {
    let mut conn = store.conn().await?;
    let mut page = conversation_members::table
        .inner_join(conversations::table)
        .filter(conversation_members::user_id.eq(user.0))
        .select((ConversationRow::as_select(), MemberRow::as_select()))
        .order((conversations::last_activity_at.desc(), conversations::id.desc()))
        .limit(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .into_boxed();
    page = if query.pinned {
        page.filter(conversation_members::pinned_at.is_not_null())
    } else {
        page.filter(conversation_members::pinned_at.is_null())
    };
    if let Some((at, id)) = query.before {
        page = page.filter(
            conversations::last_activity_at
                .lt(at)
                .or(conversations::last_activity_at.eq(at).and(conversations::id.lt(id.0))),
        );
    }
    let rows: Vec<(ConversationRow, MemberRow)> = page.load(&mut conn).await.map_err(from_diesel)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = rows.iter().map(|(c, _)| c.id).collect();
    let last_seqs: Vec<i64> = rows.iter().map(|(c, _)| c.last_seq).collect();
    let read_seqs: Vec<i64> = rows.iter().map(|(_, m)| m.read_seq).collect();
    let last_messages = last_messages(&mut conn, &ids, &last_seqs).await?;
    let unread = super::unread::others_after_read(&mut conn, user, &ids, &read_seqs).await?;
    rows.into_iter()
        .map(|(conversation, member)| {
            let conversation = conversation.into_conversation()?;
            let membership = member.into_member()?;
            let others = unread.get(&conversation.id.0).copied().unwrap_or(0);
            Ok(ConversationSummary {
                unread_count: unread_count(conversation.last_seq, membership.read_seq, others),
                last_message: last_messages.get(&conversation.id.0).cloned(),
                conversation,
                membership,
                peer: None,
            })
        })
        .collect()
}

pub(super) async fn other_members(
    store: &PgStore,
    user: UserId,
    conversations: &[ConversationId],
) -> Result<Vec<(ConversationId, UserId)>, PortError> {
    let ids: Vec<uuid::Uuid> = conversations.iter().map(|id| id.0).collect();
    let mut conn = store.conn().await?;
    let rows: Vec<(uuid::Uuid, uuid::Uuid)> = conversation_members::table
        .filter(conversation_members::conversation_id.eq_any(ids))
        .filter(conversation_members::user_id.ne(user.0))
        .select((conversation_members::conversation_id, conversation_members::user_id))
        .load(&mut conn)
        .await
        .map_err(from_diesel)?;
    Ok(rows.into_iter().map(|(conversation, member)| (ConversationId(conversation), UserId(member))).collect())
}

pub(super) async fn contacts(store: &PgStore, user: UserId) -> Result<Vec<UserId>, PortError> {
    let mut conn = store.conn().await?;
    let (mine, theirs) = diesel::alias!(conversation_members as mine, conversation_members as theirs);
    let ids: Vec<uuid::Uuid> = mine
        .inner_join(theirs.on(
            theirs.field(conversation_members::conversation_id).eq(mine.field(conversation_members::conversation_id)),
        ))
        .filter(mine.field(conversation_members::user_id).eq(user.0))
        .filter(theirs.field(conversation_members::user_id).ne(user.0))
        .select(theirs.field(conversation_members::user_id))
        .distinct()
        .load(&mut conn)
        .await
        .map_err(from_diesel)?;
    Ok(ids.into_iter().map(UserId).collect())
}

pub(super) async fn share_conversation(store: &PgStore, a: UserId, b: UserId) -> Result<bool, PortError> {
    let mut conn = store.conn().await?;
    let (mine, theirs) = diesel::alias!(conversation_members as mine, conversation_members as theirs);
    let shared = diesel::select(diesel::dsl::exists(
        mine.inner_join(theirs.on(
            theirs.field(conversation_members::conversation_id).eq(mine.field(conversation_members::conversation_id)),
        ))
        .filter(mine.field(conversation_members::user_id).eq(a.0))
        .filter(theirs.field(conversation_members::user_id).eq(b.0)),
    ))
    .get_result::<bool>(&mut conn)
    .await
    .map_err(from_diesel)?;
    Ok(shared)
}

pub(super) async fn conversation_seqs(store: &PgStore, user: UserId) -> Result<Vec<ConversationCursor>, PortError> {
    let mut conn = store.conn().await?;
    let rows: Vec<(uuid::Uuid, i64, i64)> = conversation_members::table
        .inner_join(conversations::table)
        .filter(conversation_members::user_id.eq(user.0))
        .select((conversations::id, conversations::last_seq, conversations::last_change_seq))
        .load(&mut conn)
        .await
        .map_err(from_diesel)?;
    Ok(rows
        .into_iter()
        .map(|(id, seq, change)| ConversationCursor {
            conversation_id: ConversationId(id),
            last_seq: to_u64(seq),
            last_change_seq: to_u64(change),
        })
        .collect())
}

/// The newest message of each conversation, by its known `last_seq` (primary-key lookups).
async fn last_messages(
    conn: &mut AsyncPgConnection,
    ids: &[uuid::Uuid],
    seqs: &[i64],
) -> Result<HashMap<uuid::Uuid, Message>, PortError> {
    let rows: Vec<MessageRow> = diesel::sql_query(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m \
         JOIN unnest($1::uuid[], $2::bigint[]) AS wanted(conversation_id, seq) \
         ON m.conversation_id = wanted.conversation_id AND m.seq = wanted.seq"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Int8>, _>(seqs)
    .load(conn)
    .await
    .map_err(from_diesel)?;
    let messages = with_reactions(conn, rows).await?;
    Ok(messages.into_iter().map(|m| (m.conversation_id.0, m)).collect())
}
