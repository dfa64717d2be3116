//! `MessageRepo` on Postgres: gap-free seq allocation under the conversation row lock,
//! idempotent inserts on `UNIQUE (sender_id, client_msg_id)`, history and updates.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::domain::message::{Message, NewMessage, Reaction};
use chat_core::ports::{HistoryPage, InsertOutcome, MessageRepo, MessageSearch, MessageUpdate, SearchHit};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::PgStore;
use crate::append::append;
use crate::error::{TxStop, from_diesel, settle};
use crate::rows::{MessageRow, search_text, to_i64};
use crate::schema::{conversations, message_hides, message_reactions, messages};

/// Stores one message in a transaction of its own (the fallback of group commit, for a
/// message its batch could not take).
pub(crate) async fn insert_one(conn: &mut AsyncPgConnection, message: &NewMessage) -> Result<InsertOutcome, PortError> {
    let outcome = conn
        .transaction::<_, TxStop<()>, _>(async |conn| append(conn, message).await?.ok_or(TxStop::Rollback(())))
        .await;
    match settle(outcome)? {
        Ok(stored) => Ok(InsertOutcome::Inserted { message: stored.message, members: stored.members }),
        // Already stored, or a concurrent retry won the race (the rollback undid our seq bump).
        Err(()) => {
            let client_msg_id =
                message.client_msg_id.ok_or_else(|| PortError::Internal("duplicate without a client_msg_id".into()))?;
            let original = by_client_id(conn, message.sender_id, client_msg_id).await?;
            original
                .map(InsertOutcome::Existing)
                .ok_or_else(|| PortError::Unavailable("duplicate vanished; retry".into()))
        }
    }
}

/// Attaches reactions to message rows (one query for the whole page).
pub(crate) async fn with_reactions(
    conn: &mut AsyncPgConnection,
    rows: Vec<MessageRow>,
) -> Result<Vec<Message>, PortError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = rows.iter().map(|row| row.id).collect();
    let reactions: Vec<(uuid::Uuid, uuid::Uuid, String)> = message_reactions::table
        .filter(message_reactions::message_id.eq_any(ids))
        .order(message_reactions::reacted_at)
        .select((message_reactions::message_id, message_reactions::user_id, message_reactions::emoji))
        .load(conn)
        .await
        .map_err(from_diesel)?;
    let mut by_message: HashMap<uuid::Uuid, Vec<Reaction>> = HashMap::new();
    for (message_id, user_id, emoji) in reactions {
        by_message.entry(message_id).or_default().push(Reaction { user_id: UserId(user_id), emoji });
    }
    rows.into_iter()
        .map(|row| {
            let reactions = by_message.remove(&row.id).unwrap_or_default();
            row.into_message(reactions)
        })
        .collect()
}

async fn message_by_id(conn: &mut AsyncPgConnection, id: uuid::Uuid) -> Result<Option<Message>, PortError> {
    let row = messages::table
        .filter(messages::id.eq(id))
        .select(MessageRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(from_diesel)?;
    Ok(with_reactions(conn, row.into_iter().collect()).await?.pop())
}

#[async_trait]
impl MessageRepo for PgStore {
    async fn insert_message(&self, message: NewMessage) -> Result<InsertOutcome, PortError> {
        // No lookup of the client id first: the send use case already made one, so here a
        // duplicate is only a race, which the unique key settles.
        self.appender.insert(message).await
    }

    async fn message(&self, id: MessageId) -> Result<Option<Message>, PortError> {
        let mut conn = self.conn().await?;
        message_by_id(&mut conn, id.0).await
    }

    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_msg_id: ClientMsgId,
    ) -> Result<Option<Message>, PortError> {
        let mut conn = self.conn().await?;
        by_client_id(&mut conn, sender, client_msg_id).await
    }

    async fn history(
        &self,
        conversation: ConversationId,
        viewer: UserId,
        page: HistoryPage,
    ) -> Result<Vec<Message>, PortError> {
        let base = visible_to(conversation, viewer).select(MessageRow::as_select());
        let limit = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let query = match page {
            HistoryPage::Latest { limit: n } => base.order(messages::seq.desc()).limit(limit(n)),
            HistoryPage::Before { seq, limit: n } => {
                base.filter(messages::seq.lt(to_i64(seq))).order(messages::seq.desc()).limit(limit(n))
            }
            HistoryPage::After { seq, limit: n } => {
                base.filter(messages::seq.gt(to_i64(seq))).order(messages::seq.asc()).limit(limit(n))
            }
        };
        let mut conn = self.conn().await?;
        let mut rows: Vec<MessageRow> = query.load(&mut conn).await.map_err(from_diesel)?;
        if !matches!(page, HistoryPage::After { .. }) {
            rows.reverse();
        }
        with_reactions(&mut conn, rows).await
    }

    async fn update_message(&self, id: MessageId, update: MessageUpdate) -> Result<Option<Message>, PortError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                let conversation: Option<uuid::Uuid> = messages::table
                    .filter(messages::id.eq(id.0))
                    .select(messages::conversation_id)
                    .first(conn)
                    .await
                    .optional()?;
                let Some(conversation) = conversation else { return Ok(()) };
                // The conversation row lock orders changes the same way it orders sends.
                let change_seq: i64 = diesel::update(conversations::table.find(conversation))
                    .set(conversations::last_change_seq.eq(conversations::last_change_seq + 1))
                    .returning(conversations::last_change_seq)
                    .get_result(conn)
                    .await?;
                let target = messages::table.filter(messages::id.eq(id.0));
                diesel::update(target).set(messages::change_seq.eq(change_seq)).execute(conn).await?;
                match update {
                    MessageUpdate::Edit { body, at } => {
                        let folded = search_text(Some(&body));
                        diesel::update(target)
                            .set((
                                messages::body.eq(body),
                                messages::search_text.eq(folded),
                                messages::edited_at.eq(at),
                            ))
                            .execute(conn)
                            .await?;
                    }
                    MessageUpdate::Recall { at } => {
                        diesel::delete(message_reactions::table.filter(message_reactions::message_id.eq(id.0)))
                            .execute(conn)
                            .await?;
                        let no_body: Option<String> = None;
                        diesel::update(target)
                            .set((
                                messages::body.eq(no_body),
                                messages::search_text.eq(""),
                                messages::recalled_at.eq(at),
                            ))
                            .execute(conn)
                            .await?;
                    }
                    MessageUpdate::React { user, emoji: Some(emoji), at } => {
                        diesel::insert_into(message_reactions::table)
                            .values((
                                message_reactions::message_id.eq(id.0),
                                message_reactions::user_id.eq(user.0),
                                message_reactions::emoji.eq(&emoji),
                                message_reactions::reacted_at.eq(at),
                            ))
                            .on_conflict((message_reactions::message_id, message_reactions::user_id))
                            .do_update()
                            .set((message_reactions::emoji.eq(&emoji), message_reactions::reacted_at.eq(at)))
                            .execute(conn)
                            .await?;
                    }
                    MessageUpdate::React { user, emoji: None, .. } => {
                        diesel::delete(message_reactions::table.find((id.0, user.0))).execute(conn).await?;
                    }
                }
                Ok(())
            })
            .await;
        // A missing message changes nothing; the read below then finds nothing.
        settle(result)?.map_err(|()| PortError::Internal("message update rolled back".into()))?;
        message_by_id(&mut conn, id.0).await
    }

    async fn changes(
        &self,
        conversation: ConversationId,
        viewer: UserId,
        after_change_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, PortError> {
        let mut conn = self.conn().await?;
        let rows: Vec<MessageRow> = visible_to(conversation, viewer)
            // Spelled out so the planner can use the partial index on changed messages.
            .filter(messages::change_seq.gt(0))
            .filter(messages::change_seq.gt(to_i64(after_change_seq)))
            .order(messages::change_seq.asc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(MessageRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        with_reactions(&mut conn, rows).await
    }

    async fn hide_message(&self, id: MessageId, user: UserId) -> Result<(), PortError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(message_hides::table)
            .values((message_hides::user_id.eq(user.0), message_hides::message_id.eq(id.0)))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(())
    }

    async fn search_messages(&self, search: &MessageSearch) -> Result<Vec<SearchHit>, PortError> {
        crate::search::search_messages(self, search).await
    }
}

/// A conversation's messages without those `viewer` deleted for themselves: the base of
/// every read a member makes.
fn visible_to(conversation: ConversationId, viewer: UserId) -> messages::BoxedQuery<'static, diesel::pg::Pg> {
    let hidden = message_hides::table
        .filter(message_hides::user_id.eq(viewer.0))
        .filter(message_hides::message_id.eq(messages::id));
    messages::table.filter(messages::conversation_id.eq(conversation.0)).filter(not(exists(hidden))).into_boxed()
}

pub(crate) async fn by_client_id(
    conn: &mut AsyncPgConnection,
    sender: UserId,
    client_msg_id: ClientMsgId,
) -> Result<Option<Message>, PortError> {
    let row = messages::table
        .filter(messages::sender_id.eq(sender.0))
        .filter(messages::client_msg_id.eq(client_msg_id.0))
        .select(MessageRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(from_diesel)?;
    Ok(with_reactions(conn, row.into_iter().collect()).await?.pop())
}
