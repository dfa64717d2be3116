//! `ConversationRepo` on Postgres.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::conversation::{Conversation, ConversationSummary, Member, Mute, Role, unread_count};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::domain::message::{Message, NewMessage};
use chat_core::ports::{
    ConversationCursor, ConversationRepo, DirectOutcome, ListQuery, MembershipChange, MembershipOutcome, PinOutcome,
    WriteContext,
};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int8, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::PgStore;
use crate::append::append;
use crate::error::{TxStop, from_diesel, settle};
use crate::messages::with_reactions;
use crate::rows::{ConversationRow, MemberRow, MessageRow, role_name, to_i64, to_u64};
use crate::schema::{conversation_members, conversations};

#[async_trait]
impl ConversationRepo for PgStore {
    async fn find_or_create_direct(
        &self,
        conversation: Conversation,
        members: [Member; 2],
    ) -> Result<DirectOutcome, PortError> {
        let (a, b) = (members[0].user_id.0, members[1].user_id.0);
        let direct_key = if a <= b { format!("{a}:{b}") } else { format!("{b}:{a}") };
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                let (conversation, members, direct_key) = (&conversation, &members, direct_key.clone());
                let mut row = ConversationRow::from_conversation(conversation, Some(direct_key));
                row.member_count = 2;
                // A racing creator blocks on the unique key until the winner commits,
                // then inserts nothing.
                let inserted = diesel::insert_into(conversations::table)
                    .values(&row)
                    .on_conflict(conversations::direct_key)
                    .do_nothing()
                    .execute(conn)
                    .await?;
                if inserted == 1 {
                    let rows: Vec<MemberRow> = members.iter().map(MemberRow::from_member).collect();
                    diesel::insert_into(conversation_members::table).values(&rows).execute(conn).await?;
                }
                Ok(inserted == 1)
            })
            .await;
        let created = settle(result)?.unwrap_or(false);
        let row: ConversationRow = conversations::table
            .filter(conversations::direct_key.eq(&direct_key))
            .select(ConversationRow::as_select())
            .first(&mut conn)
            .await
            .map_err(from_diesel)?;
        let conversation = row.into_conversation()?;
        Ok(if created { DirectOutcome::Created(conversation) } else { DirectOutcome::Existing(conversation) })
    }

    async fn create_group(
        &self,
        conversation: Conversation,
        members: Vec<Member>,
        announcement: NewMessage,
    ) -> Result<(Conversation, Message), PortError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                let (conversation, members, announcement) = (&conversation, &members, &announcement);
                let mut row = ConversationRow::from_conversation(conversation, None);
                row.member_count = i32::try_from(members.len()).unwrap_or(i32::MAX);
                diesel::insert_into(conversations::table).values(&row).execute(conn).await?;
                let rows: Vec<MemberRow> = members.iter().map(MemberRow::from_member).collect();
                diesel::insert_into(conversation_members::table).values(&rows).execute(conn).await?;
                let message = append(conn, announcement).await?.ok_or(TxStop::Rollback(()))?.message;
                Ok((load_conversation(conn, conversation.id).await?, message))
            })
            .await;
        settle(result)?.map_err(|()| PortError::Internal("a new group's announcement collided".into()))
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, PortError> {
        let mut conn = self.conn().await?;
        let row = conversations::table
            .find(id.0)
            .select(ConversationRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_diesel)?;
        row.map(ConversationRow::into_conversation).transpose()
    }

    async fn member(&self, id: ConversationId, user: UserId) -> Result<Option<Member>, PortError> {
        let mut conn = self.conn().await?;
        let row = conversation_members::table
            .find((id.0, user.0))
            .select(MemberRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_diesel)?;
        row.map(MemberRow::into_member).transpose()
    }

    async fn write_context(&self, id: ConversationId, writer: UserId) -> Result<Option<WriteContext>, PortError> {
        self.contexts.call(0, (id, writer)).await
    }

    async fn members(&self, id: ConversationId) -> Result<Vec<Member>, PortError> {
        let mut conn = self.conn().await?;
        let rows = conversation_members::table
            .filter(conversation_members::conversation_id.eq(id.0))
            .select(MemberRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        let mut members = rows.into_iter().map(MemberRow::into_member).collect::<Result<Vec<_>, _>>()?;
        members.sort_by_key(|m| (std::cmp::Reverse(m.role), m.joined_at, m.user_id));
        Ok(members)
    }

    async fn member_ids(&self, id: ConversationId) -> Result<Vec<UserId>, PortError> {
        let mut conn = self.conn().await?;
        let ids: Vec<uuid::Uuid> = conversation_members::table
            .filter(conversation_members::conversation_id.eq(id.0))
            .select(conversation_members::user_id)
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn change_membership(
        &self,
        change: MembershipChange,
        announcement: NewMessage,
    ) -> Result<MembershipOutcome, PortError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<MembershipOutcome>, _>(async |conn| {
                let (change, announcement) = (&change, &announcement);
                let id = change.conversation_id.0;
                // Lock the group first: concurrent changes to one group queue here.
                let locked: Option<uuid::Uuid> = conversations::table
                    .find(id)
                    .select(conversations::id)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                if locked.is_none() {
                    return Err(TxStop::Rollback(MembershipOutcome::NotFound));
                }
                if !change.remove.is_empty() {
                    let removed: Vec<uuid::Uuid> = change.remove.iter().map(|u| u.0).collect();
                    diesel::delete(
                        conversation_members::table
                            .filter(conversation_members::conversation_id.eq(id))
                            .filter(conversation_members::user_id.eq_any(removed)),
                    )
                    .execute(conn)
                    .await?;
                }
                if !change.add.is_empty() {
                    let rows: Vec<MemberRow> = change.add.iter().map(MemberRow::from_member).collect();
                    diesel::insert_into(conversation_members::table)
                        .values(&rows)
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                }
                let count: i64 = conversation_members::table
                    .filter(conversation_members::conversation_id.eq(id))
                    .count()
                    .get_result(conn)
                    .await?;
                if usize::try_from(count).unwrap_or(usize::MAX) > change.max_members {
                    return Err(TxStop::Rollback(MembershipOutcome::TooManyMembers));
                }
                if let Some(owner) = change.new_owner {
                    diesel::update(conversation_members::table.find((id, owner.0)))
                        .set(conversation_members::role.eq(role_name(Role::Owner)))
                        .execute(conn)
                        .await?;
                }
                diesel::update(conversations::table.find(id))
                    .set(conversations::member_count.eq(i32::try_from(count).unwrap_or(i32::MAX)))
                    .execute(conn)
                    .await?;
                if let Some(title) = &change.title {
                    diesel::update(conversations::table.find(id))
                        .set(conversations::title.eq(title))
                        .execute(conn)
                        .await?;
                }
                let message = match append(conn, announcement).await {
                    Ok(Some(stored)) => stored.message,
                    Ok(None) | Err(TxStop::Rollback(())) => {
                        return Err(PortError::Internal("announcement collided".into()).into());
                    }
                    Err(TxStop::Db(error)) => return Err(TxStop::Db(error)),
                    Err(TxStop::Repo(error)) => return Err(TxStop::Repo(error)),
                };
                let conversation = load_conversation(conn, change.conversation_id).await?;
                Ok(MembershipOutcome::Applied { conversation, announcement: message })
            })
            .await;
        Ok(settle(result)?.unwrap_or_else(|outcome| outcome))
    }

    async fn list_conversations(&self, user: UserId, query: ListQuery) -> Result<Vec<ConversationSummary>, PortError> {
        let mut conn = self.conn().await?;
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
        let unread = others_after_read(&mut conn, user, &ids, &read_seqs).await?;
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

    async fn other_members(
        &self,
        user: UserId,
        conversations: &[ConversationId],
    ) -> Result<Vec<(ConversationId, UserId)>, PortError> {
        let ids: Vec<uuid::Uuid> = conversations.iter().map(|id| id.0).collect();
        let mut conn = self.conn().await?;
        let rows: Vec<(uuid::Uuid, uuid::Uuid)> = conversation_members::table
            .filter(conversation_members::conversation_id.eq_any(ids))
            .filter(conversation_members::user_id.ne(user.0))
            .select((conversation_members::conversation_id, conversation_members::user_id))
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(rows.into_iter().map(|(conversation, member)| (ConversationId(conversation), UserId(member))).collect())
    }

    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>, PortError> {
        let mut conn = self.conn().await?;
        let (mine, theirs) = diesel::alias!(conversation_members as mine, conversation_members as theirs);
        let ids: Vec<uuid::Uuid> = mine
            .inner_join(
                theirs.on(theirs
                    .field(conversation_members::conversation_id)
                    .eq(mine.field(conversation_members::conversation_id))),
            )
            .filter(mine.field(conversation_members::user_id).eq(user.0))
            .filter(theirs.field(conversation_members::user_id).ne(user.0))
            .select(theirs.field(conversation_members::user_id))
            .distinct()
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn share_conversation(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        let mut conn = self.conn().await?;
        let (mine, theirs) = diesel::alias!(conversation_members as mine, conversation_members as theirs);
        let shared = diesel::select(diesel::dsl::exists(
            mine.inner_join(
                theirs.on(theirs
                    .field(conversation_members::conversation_id)
                    .eq(mine.field(conversation_members::conversation_id))),
            )
            .filter(mine.field(conversation_members::user_id).eq(a.0))
            .filter(theirs.field(conversation_members::user_id).eq(b.0)),
        ))
        .get_result::<bool>(&mut conn)
        .await
        .map_err(from_diesel)?;
        Ok(shared)
    }

    async fn conversation_seqs(&self, user: UserId) -> Result<Vec<ConversationCursor>, PortError> {
        let mut conn = self.conn().await?;
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

    async fn mark_read(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError> {
        raise_mark(self, "read_seq", id, user, seq).await
    }

    async fn mark_delivered(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError> {
        raise_mark(self, "delivered_seq", id, user, seq).await
    }

    async fn set_mute(&self, id: ConversationId, user: UserId, mute: Option<Mute>) -> Result<(), PortError> {
        let (muted, until) = match mute {
            None => (false, None),
            Some(Mute::Forever) => (true, None),
            Some(Mute::Until(until)) => (true, Some(until)),
        };
        let mut conn = self.conn().await?;
        diesel::update(conversation_members::table.find((id.0, user.0)))
            .set((conversation_members::muted.eq(muted), conversation_members::muted_until.eq(until)))
            .execute(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(())
    }

    async fn set_pinned(
        &self,
        id: ConversationId,
        user: UserId,
        pinned_at: Option<Timestamp>,
        max_pinned: usize,
    ) -> Result<PinOutcome, PortError> {
        let mut conn = self.conn().await?;
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
                        conversation_members::table
                            .find((id.0, user.0))
                            .filter(conversation_members::pinned_at.is_null()),
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
}

async fn load_conversation(conn: &mut AsyncPgConnection, id: ConversationId) -> Result<Conversation, PortError> {
    let row: ConversationRow =
        conversations::table.find(id.0).select(ConversationRow::as_select()).first(conn).await.map_err(from_diesel)?;
    row.into_conversation()
}

/// The newest message of each conversation, by its known `last_seq` (primary-key lookups).
async fn last_messages(
    conn: &mut AsyncPgConnection,
    ids: &[uuid::Uuid],
    seqs: &[i64],
) -> Result<HashMap<uuid::Uuid, Message>, PortError> {
    let rows: Vec<MessageRow> = diesel::sql_query(
        "SELECT m.* FROM messages m JOIN unnest($1::uuid[], $2::bigint[]) AS wanted(conversation_id, seq) \
         ON m.conversation_id = wanted.conversation_id AND m.seq = wanted.seq",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Int8>, _>(seqs)
    .load(conn)
    .await
    .map_err(from_diesel)?;
    let messages = with_reactions(conn, rows).await?;
    Ok(messages.into_iter().map(|m| (m.conversation_id.0, m)).collect())
}

#[derive(QueryableByName)]
struct UnreadRow {
    #[diesel(sql_type = SqlUuid)]
    conversation_id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    unread: i64,
}

/// Per conversation: messages after the member's read mark that others sent (range scans of
/// the `(conversation_id, seq)` primary key).
async fn others_after_read(
    conn: &mut AsyncPgConnection,
    user: UserId,
    ids: &[uuid::Uuid],
    read_seqs: &[i64],
) -> Result<HashMap<uuid::Uuid, u64>, PortError> {
    let rows: Vec<UnreadRow> = diesel::sql_query(
        "SELECT m.conversation_id, count(*) AS unread \
         FROM unnest($1::uuid[], $2::bigint[]) AS mark(conversation_id, read_seq) \
         JOIN messages m ON m.conversation_id = mark.conversation_id AND m.seq > mark.read_seq \
         WHERE m.sender_id <> $3 AND m.kind <> 'SYSTEM' \
         GROUP BY m.conversation_id",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Int8>, _>(read_seqs)
    .bind::<SqlUuid, _>(user.0)
    .load(conn)
    .await
    .map_err(from_diesel)?;
    Ok(rows.into_iter().map(|row| (row.conversation_id, to_u64(row.unread))).collect())
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
