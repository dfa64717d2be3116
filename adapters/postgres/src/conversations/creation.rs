//! Creating conversations: a direct conversation found or created once per pair, a group
//! with its members and announcement in one transaction; and reading one back.

use chat_core::domain::conversation::{Conversation, Member};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::ConversationId;
use chat_core::domain::message::{Message, NewMessage};
use chat_core::ports::DirectOutcome;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::PgStore;
use crate::append::append;
use crate::error::{TxStop, from_diesel, settle};
use crate::rows::{ConversationRow, MemberRow};
use crate::schema::{conversation_members, conversations};

pub(super) async fn find_or_create_direct(
    store: &PgStore,
    conversation: Conversation,
    members: [Member; 2],
) -> Result<DirectOutcome, PortError> {
    let (a, b) = (members[0].user_id.0, members[1].user_id.0);
    let direct_key = if a <= b { format!("{a}:{b}") } else { format!("{b}:{a}") };
    let mut conn = store.conn().await?;
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

pub(super) async fn create_group(
    store: &PgStore,
    conversation: Conversation,
    members: Vec<Member>,
    announcement: NewMessage,
) -> Result<(Conversation, Message), PortError> {
    let mut conn = store.conn().await?;
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

pub(super) async fn conversation(store: &PgStore, id: ConversationId) -> Result<Option<Conversation>, PortError> {
    let mut conn = store.conn().await?;
    let row = conversations::table
        .find(id.0)
        .select(ConversationRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(from_diesel)?;
    row.map(ConversationRow::into_conversation).transpose()
}

pub(super) async fn load_conversation(
    conn: &mut AsyncPgConnection,
    id: ConversationId,
) -> Result<Conversation, PortError> {
    let row: ConversationRow =
        conversations::table.find(id.0).select(ConversationRow::as_select()).first(conn).await.map_err(from_diesel)?;
    row.into_conversation()
}
