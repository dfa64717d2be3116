//! Writing the planned world. Users and conversations go through the store's ports, so every
//! column (settings, folded names, direct keys, a group's SYSTEM message) is what the server
//! would write. Messages, a million of them, go in bulk: `INSERT ... SELECT FROM unnest(...)`
//! of 10,000 rows a statement over a few connections of their own, then one update sets each
//! conversation's `last_seq`, `last_activity_at` and `last_change_seq` and each member's read
//! marks to match. `search_text` (the folded words) is written as the store writes it, when
//! the schema has it; `search_vector` never is: the database generates it.

use std::time::Instant;

use anyhow::Context;
use chat_core::app::Deps;
use chat_core::domain::account::{Audience, DisplayName, PasswordHash, Settings, User, Username};
use chat_core::domain::conversation::{Conversation, ConversationKind, Member, Role};
use chat_core::domain::ids::{ConversationId, MessageId, UserId};
use chat_core::domain::message::{NewMessage, SystemEvent};
use chat_core::domain::search::search_words;
use chat_core::domain::{DateTime, Utc};
use chat_core::ports::DirectOutcome;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::queries::QueryTally;
use super::world::{Kind, PlannedConversation, PlannedMessage, World};
use crate::seed_load::CONCURRENCY;

/// Rows per INSERT statement.
const BATCH_ROWS: usize = 10_000;

/// Creates the planned users after the registered ones (`registered`, numbers 0..); returns
/// every user's id by number.
pub async fn create_users(
    deps: &Deps,
    world: &World,
    registered: &[UserId],
    hash: &PasswordHash,
    tag: &str,
) -> anyhow::Result<Vec<UserId>> {
    let planned = world.users.iter().enumerate().skip(registered.len());
    let created: Vec<UserId> = stream::iter(planned)
        .map(|(number, user)| async move {
            let row = User {
                id: UserId(user.id),
                username: Username::parse(&format!("u{number}.{tag}"))?,
                display_name: DisplayName::parse(&user.display_name)?,
                phone: None,
                avatar_media_id: None,
                bio: String::new(),
                settings: Settings { who_can_add_to_groups: Audience::Everyone, ..Settings::default() },
                created_at: user.created_at,
                updated_at: user.created_at,
            };
            match deps.users.insert_user(row, hash.clone()).await? {
                Ok(()) => Ok(UserId(user.id)),
                Err(conflict) => Err(anyhow::anyhow!(
                    "user u{number}.{tag} exists already ({conflict:?}): seed a fresh database, or use another --seed"
                )),
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(registered.iter().copied().chain(created).collect())
}

/// Creates every planned conversation with its members (a group with its SYSTEM message),
/// as of its planned creation time.
pub async fn create_conversations(deps: &Deps, world: &World, users: &[UserId]) -> anyhow::Result<()> {
    stream::iter(&world.conversations)
        .map(|planned| create_conversation(deps, planned, users))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await
}

async fn create_conversation(deps: &Deps, planned: &PlannedConversation, users: &[UserId]) -> anyhow::Result<()> {
    let id = ConversationId(planned.id);
    let at = planned.created_at;
    let owner = users[planned.members[0]];
    let kind = if planned.kind == Kind::Group { ConversationKind::Group } else { ConversationKind::Direct };
    let conversation = Conversation {
        id,
        kind,
        title: planned.title.clone(),
        avatar_media_id: None,
        created_by: owner,
        created_at: at,
        last_seq: 0,
        last_activity_at: at,
        member_count: u32::try_from(planned.members.len())?,
        last_change_seq: 0,
    };
    let member = |number: usize, role| Member::new(id, users[number], role, at);
    match planned.kind {
        Kind::Direct => {
            let members = [member(planned.members[0], Role::Member), member(planned.members[1], Role::Member)];
            match deps.conversations.find_or_create_direct(conversation, members).await? {
                DirectOutcome::Created(_) => Ok(()),
                DirectOutcome::Existing(_) => anyhow::bail!("a direct conversation of this pair exists already"),
            }
        }
        Kind::Group => {
            let members = planned
                .members
                .iter()
                .enumerate()
                .map(|(n, &user)| member(user, if n == 0 { Role::Owner } else { Role::Member }))
                .collect();
            let title = planned.title.clone().unwrap_or_default();
            let event = SystemEvent::GroupCreated { actor: owner, title };
            let announcement = NewMessage::system(MessageId(planned.announcement_id), id, owner, event, at);
            deps.conversations.create_group(conversation, members, announcement).await?;
            Ok(())
        }
    }
}

/// Where a conversation stands once its messages are written.
pub struct ConversationEnd {
    pub id: Uuid,
    pub last_seq: u64,
    pub last_activity_at: DateTime<Utc>,
    pub last_change_seq: u64,
}

/// Writes every planned message over `writers` connections; the benchmark user's searchable
/// messages go to `tally` on the way. Returns where each conversation ends.
pub async fn write_messages(
    url: &str,
    world: &World,
    users: &[UserId],
    writers: usize,
    tally: &mut QueryTally,
) -> anyhow::Result<Vec<ConversationEnd>> {
    let started = Instant::now();
    let mut queues = Vec::new();
    let mut tasks = Vec::new();
    let mut first = connect(url).await?;
    let statement: std::sync::Arc<str> = insert_statement(writes_search_text(&mut first).await?).into();
    let mut connections = vec![first];
    for _ in 1..writers.max(1) {
        connections.push(connect(url).await?);
    }
    for mut connection in connections {
        let (sender, mut receiver) = mpsc::channel::<MessageRows>(2);
        let statement = statement.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(rows) = receiver.recv().await {
                rows.insert(&mut connection, &statement).await?;
            }
            anyhow::Ok(())
        }));
        queues.push(sender);
    }
    let total: usize = world.conversations.iter().map(|c| c.messages).sum();
    let (mut written, mut batches) = (0usize, 0usize);
    let mut rows = MessageRows::default();
    let mut ends = Vec::with_capacity(world.conversations.len());
    for conversation in &world.conversations {
        let (messages, last_change_seq) = world.messages(conversation);
        for message in &messages {
            let search_text = message.body.as_deref().map(|body| search_words(body).join(" ")).unwrap_or_default();
            if conversation.bench && message.recalled_at.is_none() && message.body.is_some() {
                tally.add_folded(&search_text);
            }
            rows.push(conversation.id, message, users[message.sender], search_text);
            if rows.len() == BATCH_ROWS {
                written += rows.len();
                let full = std::mem::take(&mut rows);
                queues[batches % queues.len()].send(full).await.context("a message writer stopped")?;
                batches += 1;
                if written % 100_000 == 0 {
                    let rate = written as f64 / started.elapsed().as_secs_f64();
                    println!("  {written} of {total} messages written ({rate:.0}/s)");
                }
            }
        }
        let last = messages.last();
        ends.push(ConversationEnd {
            id: conversation.id,
            last_seq: last.map_or(conversation.first_seq() - 1, |m| m.seq),
            last_activity_at: last.map_or(conversation.created_at, |m| m.created_at),
            last_change_seq,
        });
    }
    if rows.len() > 0 {
        queues[batches % queues.len()].send(rows).await.context("a message writer stopped")?;
    }
    drop(queues);
    for task in tasks {
        task.await??;
    }
    Ok(ends)
}

/// Sets each conversation's newest seq, activity and change number, and marks everything
/// read by its members, then refreshes the planner's statistics.
pub async fn finish_conversations(url: &str, ends: &[ConversationEnd]) -> anyhow::Result<()> {
    let mut connection = connect(url).await?;
    let ids: Vec<Uuid> = ends.iter().map(|e| e.id).collect();
    let seqs: Vec<i64> = ends.iter().map(|e| i64::try_from(e.last_seq)).collect::<Result<_, _>>()?;
    let activity: Vec<DateTime<Utc>> = ends.iter().map(|e| e.last_activity_at).collect();
    let changes: Vec<i64> = ends.iter().map(|e| i64::try_from(e.last_change_seq)).collect::<Result<_, _>>()?;
    diesel::sql_query(
        "UPDATE conversations c SET last_seq = v.last_seq, last_activity_at = v.activity, last_change_seq = v.changes \
         FROM unnest($1::uuid[], $2::int8[], $3::timestamptz[], $4::int8[]) AS v(id, last_seq, activity, changes) \
         WHERE c.id = v.id",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&seqs)
    .bind::<Array<Timestamptz>, _>(&activity)
    .bind::<Array<BigInt>, _>(&changes)
    .execute(&mut connection)
    .await?;
    diesel::sql_query(
        "UPDATE conversation_members m SET read_seq = c.last_seq, delivered_seq = c.last_seq \
         FROM conversations c WHERE m.conversation_id = c.id AND c.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .execute(&mut connection)
    .await?;
    connection
        .batch_execute("ANALYZE users; ANALYZE conversations; ANALYZE conversation_members; ANALYZE messages")
        .await?;
    Ok(())
}

/// Whether `messages.search_text` is the application's to write (the folded words message
/// search compares with, see migration 000006); the database generates `search_vector`.
async fn writes_search_text(connection: &mut AsyncPgConnection) -> anyhow::Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        is_generated: String,
    }
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT is_generated::text AS is_generated FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'messages' AND column_name = 'search_text'",
    )
    .load(connection)
    .await?;
    Ok(columns.first().is_some_and(|column| column.is_generated == "NEVER"))
}

/// The INSERT of one batch, with `search_text` or without it (then its array goes unused).
fn insert_statement(with_search_text: bool) -> String {
    let search_text = if with_search_text { ", search_text" } else { "" };
    format!(
        "INSERT INTO messages (conversation_id, seq, id, sender_id, kind, body, client_msg_id, created_at, \
                               recalled_at, change_seq, media_ids{search_text}) \
         SELECT conversation_id, seq, id, sender_id, kind, body, client_msg_id, created_at, recalled_at, change_seq, \
                CASE WHEN media_id IS NULL THEN '{{}}'::uuid[] ELSE ARRAY[media_id] END{search_text} \
         FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::uuid[], \
                     $8::timestamptz[], $9::timestamptz[], $10::int8[], $11::uuid[], $12::text[]) \
              AS r(conversation_id, seq, id, sender_id, kind, body, client_msg_id, created_at, recalled_at, \
                   change_seq, media_id, search_text)"
    )
}

async fn connect(url: &str) -> anyhow::Result<AsyncPgConnection> {
    let mut connection = AsyncPgConnection::establish(url).await.context("connecting to DATABASE_URL")?;
    // A crash while seeding loses the last few batches at most; the seed is run again anyway.
    connection.batch_execute("SET synchronous_commit = off").await?;
    Ok(connection)
}

/// Messages as columns, one array per column, for one `unnest` insert.
#[derive(Default)]
struct MessageRows {
    conversation_id: Vec<Uuid>,
    seq: Vec<i64>,
    id: Vec<Uuid>,
    sender_id: Vec<Uuid>,
    kind: Vec<&'static str>,
    body: Vec<Option<String>>,
    client_msg_id: Vec<Uuid>,
    created_at: Vec<DateTime<Utc>>,
    recalled_at: Vec<Option<DateTime<Utc>>>,
    change_seq: Vec<i64>,
    media_id: Vec<Option<Uuid>>,
    search_text: Vec<String>,
}

impl MessageRows {
    fn len(&self) -> usize {
        self.id.len()
    }

    fn push(&mut self, conversation: Uuid, message: &PlannedMessage, sender: UserId, search_text: String) {
        self.conversation_id.push(conversation);
        self.seq.push(i64::try_from(message.seq).unwrap_or(i64::MAX));
        self.id.push(message.id);
        self.sender_id.push(sender.0);
        self.kind.push(if message.image.is_some() { "IMAGE" } else { "TEXT" });
        self.body.push(message.body.clone());
        self.client_msg_id.push(message.client_msg_id);
        self.created_at.push(message.created_at);
        self.recalled_at.push(message.recalled_at);
        self.change_seq.push(i64::try_from(message.change_seq).unwrap_or(i64::MAX));
        self.media_id.push(message.image);
        self.search_text.push(search_text);
    }

    async fn insert(&self, connection: &mut AsyncPgConnection, statement: &str) -> anyhow::Result<()> {
        diesel::sql_query(statement)
            .bind::<Array<SqlUuid>, _>(&self.conversation_id)
            .bind::<Array<BigInt>, _>(&self.seq)
            .bind::<Array<SqlUuid>, _>(&self.id)
            .bind::<Array<SqlUuid>, _>(&self.sender_id)
            .bind::<Array<Text>, _>(&self.kind)
            .bind::<Array<Nullable<Text>>, _>(&self.body)
            .bind::<Array<SqlUuid>, _>(&self.client_msg_id)
            .bind::<Array<Timestamptz>, _>(&self.created_at)
            .bind::<Array<Nullable<Timestamptz>>, _>(&self.recalled_at)
            .bind::<Array<BigInt>, _>(&self.change_seq)
            .bind::<Array<Nullable<SqlUuid>>, _>(&self.media_id)
            .bind::<Array<Text>, _>(&self.search_text)
            .execute(connection)
            .await
            .context("inserting a batch of messages")?;
        Ok(())
    }
}
