//! Who is in a conversation: one member, all of them, and a group's membership change
//! (added, removed, new owner, title) applied with its announcement under the group's lock.

use chat_core::domain::conversation::{Member, Role};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::domain::message::NewMessage;
use chat_core::ports::{MembershipChange, MembershipOutcome};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::creation::load_conversation;
use crate::PgStore;
use crate::append::append;
use crate::error::{TxStop, from_diesel, settle};
use crate::rows::{MemberRow, role_name};
use crate::schema::{conversation_members, conversations};

pub(super) async fn member(store: &PgStore, id: ConversationId, user: UserId) -> Result<Option<Member>, PortError> {
    let mut conn = store.conn().await?;
    let row = conversation_members::table
        .find((id.0, user.0))
        .select(MemberRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(from_diesel)?;
    row.map(MemberRow::into_member).transpose()
}

pub(super) async fn members(store: &PgStore, id: ConversationId) -> Result<Vec<Member>, PortError> {
    let mut conn = store.conn().await?;
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

pub(super) async fn member_ids(store: &PgStore, id: ConversationId) -> Result<Vec<UserId>, PortError> {
    let mut conn = store.conn().await?;
    let ids: Vec<uuid::Uuid> = conversation_members::table
        .filter(conversation_members::conversation_id.eq(id.0))
        .select(conversation_members::user_id)
        .load(&mut conn)
        .await
        .map_err(from_diesel)?;
    Ok(ids.into_iter().map(UserId).collect())
}

pub(super) async fn change_membership(
    store: &PgStore,
    change: MembershipChange,
    announcement: NewMessage,
) -> Result<MembershipOutcome, PortError> {
    let mut conn = store.conn().await?;
    let result = conn
        .transaction::<_, TxStop<MembershipOutcome>, _>(async |conn| {
            let (change, announcement) = (&change, &announcement);
            let id = change.conversation_id.0;
            // Lock the group first: concurrent changes to one group queue here.
            let locked: Option<uuid::Uuid> =
                conversations::table.find(id).select(conversations::id).for_update().first(conn).await.optional()?;
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
                diesel::update(conversations::table.find(id)).set(conversations::title.eq(title)).execute(conn).await?;
            }
            if let Some(avatar) = change.avatar_media_id {
                diesel::update(conversations::table.find(id))
                    .set(conversations::avatar_media_id.eq(avatar))
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
