//! Media on Postgres beyond the shared contract: the quota holds when the creates come from
//! several nodes (stores with pools of their own), a cleanup's delete and a message's attach
//! of one record settle whichever way they meet, and media ids survive every message write
//! and read path (group commit batches with ids of different lengths, conversation lists).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chat_core::domain::Timestamp;
use chat_core::domain::ids::{MediaId, MessageId, UserId};
use chat_core::domain::media::{MediaKind, NewMedia, UploadTarget, upload_window};
use chat_core::domain::message::{MessageKind, NewMessage};
use chat_core::ports::{ConversationRepo, CreateMediaOutcome, ListQuery, MediaRepo, MessageRepo};
use chat_core::testkit::contract::{group, new_id, now, text, user};
use chat_postgres::PgStore;
use chat_postgres::testing::{TestDatabase, wait_for_backend};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::future::join_all;

fn upload(owner: UserId, kind: MediaKind, size: u64, at: Timestamp) -> NewMedia {
    NewMedia {
        id: MediaId(new_id()),
        owner_id: owner,
        kind,
        content_type: "application/octet-stream".into(),
        filename: "tệp.bin".into(),
        size,
        upload: UploadTarget::Single,
        created_at: at,
        upload_expires_at: at + upload_window(),
    }
}

async fn create(store: &PgStore, new: NewMedia) -> MediaId {
    match store.create_media(new, 1 << 40).await.unwrap() {
        CreateMediaOutcome::Created(media) => media.id,
        other => panic!("under a roomy quota: {other:?}"),
    }
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

async fn line(url: &str, sql: &str) -> String {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let row: Line = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
    row.line
}

/// Forty creates of every kind from three nodes at once, for an owner with no usage row
/// yet (the case a lock on existing counter rows would miss): exactly as many as the quota
/// admits are stored, and the counters agree with the records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_holds_for_concurrent_creates_on_several_nodes() {
    let database = TestDatabase::create().await;
    let nodes = [database.store(14).await, database.store(14).await, database.store(14).await];
    let owner = user(&nodes[0], "a").await;
    let (size, quota) = (100, 1250);
    let creates = (0..40).map(|i| {
        let node = &nodes[i % nodes.len()];
        node.create_media(upload(owner, MediaKind::ALL[i % 4], size, now()), quota)
    });
    let outcomes = join_all(creates).await;
    let mut created = 0;
    for outcome in outcomes {
        match outcome.unwrap() {
            CreateMediaOutcome::Created(_) => created += 1,
            CreateMediaOutcome::OverQuota { used } => assert!(used + size > quota, "refused with {used} used"),
        }
    }
    assert_eq!(created, 12, "floor(1250 / 100) fit");
    let usage = nodes[1].usage(owner).await.unwrap();
    assert_eq!(usage.bytes, 1200);
    assert_eq!(usage.by_kind.iter().map(|line| line.count).sum::<u64>(), 12);
    let stored = line(
        &database.url,
        &format!("SELECT count(*) || ' ' || sum(size) AS line FROM media WHERE owner_id = '{owner}'"),
    )
    .await;
    assert_eq!(stored, "12 1200", "the counters count the stored records");
    for kind_usage in usage.by_kind {
        let counted = line(
            &database.url,
            &format!(
                "SELECT count(*) || ' ' || sum(size) AS line FROM media WHERE owner_id = '{owner}' AND kind = '{}'",
                kind_usage.kind.as_str()
            ),
        )
        .await;
        assert_eq!(counted, format!("{} {}", kind_usage.count, kind_usage.bytes), "{:?}", kind_usage.kind);
    }
}

/// A message in a new group of `owner`, to attach media to.
async fn message_of(store: &PgStore, owner: UserId) -> (chat_core::domain::ids::ConversationId, MessageId) {
    let other = user(store, "b").await;
    let conversation = group(store, &[owner, other]).await;
    let message = store.insert_message(text(conversation, owner, None)).await.unwrap().into_message();
    (conversation, message.id)
}

/// A cleanup's delete that meets an attach still in its transaction waits for it, then
/// leaves the record: it is attached now, and a message keeps its media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_meeting_an_attach_in_progress_leaves_the_record() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    let owner = user(&store, "a").await;
    let (conversation, message) = message_of(&store, owner).await;
    let media = create(&store, upload(owner, MediaKind::Image, 10, now())).await;

    // What `attach` writes, held open in a transaction of its own.
    let mut attaching = AsyncPgConnection::establish(&database.url).await.unwrap();
    attaching
        .batch_execute(&format!(
            "BEGIN;
             UPDATE media SET attached_at = now() WHERE id = '{media}' AND attached_at IS NULL;
             INSERT INTO media_attachments VALUES ('{media}', '{conversation}', '{message}', now());"
        ))
        .await
        .unwrap();
    let deleting = tokio::spawn({
        let store = store.clone();
        async move { store.delete_unattached(media).await }
    });
    wait_for_backend(&database.url, "wait_event_type = 'Lock' AND query LIKE 'DELETE%'", Duration::from_secs(10)).await;
    attaching.batch_execute("COMMIT").await.unwrap();

    assert_eq!(deleting.await.unwrap().unwrap(), None, "an attached record is not deleted");
    assert!(store.media(media).await.unwrap().unwrap().attached_at.is_some());
    assert_eq!(store.usage(owner).await.unwrap().bytes, 10, "and its bytes stay counted");
}

/// An attach that meets a delete still in its transaction waits for it, then attaches the
/// records that are left and leaves the deleted one out, without failing the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attach_meeting_a_delete_in_progress_leaves_the_deleted_record_out() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    let owner = user(&store, "a").await;
    let (conversation, message) = message_of(&store, owner).await;
    let gone = create(&store, upload(owner, MediaKind::Image, 10, now())).await;
    let kept = create(&store, upload(owner, MediaKind::Image, 10, now())).await;

    let mut deleting = AsyncPgConnection::establish(&database.url).await.unwrap();
    deleting.batch_execute(&format!("BEGIN; DELETE FROM media WHERE id = '{gone}';")).await.unwrap();
    let attaching = tokio::spawn({
        let store = store.clone();
        async move { store.attach(&[gone, kept], conversation, message, now()).await }
    });
    wait_for_backend(
        &database.url,
        "wait_event_type = 'Lock' AND query LIKE '%FOR NO KEY UPDATE%'",
        Duration::from_secs(10),
    )
    .await;
    deleting.batch_execute("COMMIT").await.unwrap();

    attaching.await.unwrap().unwrap();
    assert_eq!(store.attached_conversations(kept).await.unwrap(), vec![conversation]);
    assert!(store.attached_conversations(gone).await.unwrap().is_empty());
    assert_eq!(store.media(gone).await.unwrap(), None);
}

/// Messages with zero to three media ids, sent at once so that group commit writes them in
/// shared batches, each read back with its own ids in order; and the conversation list's
/// last message carries its ids too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_ids_survive_batched_writes_and_conversation_lists() {
    let database = TestDatabase::create().await;
    let store = database.store(24).await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let conversation = group(&store, &[a, b]).await;
    let messages: Vec<NewMessage> = (0..20)
        .map(|i| {
            let media_ids: Vec<MediaId> = (0..i % 4).map(|_| MediaId(new_id())).rev().collect();
            let kind = if media_ids.is_empty() { MessageKind::Text } else { MessageKind::Image };
            let body = media_ids.is_empty().then(|| "xin chào".to_owned());
            NewMessage { kind, body, media_ids, ..text(conversation, if i % 2 == 0 { a } else { b }, Some(new_id())) }
        })
        .collect();
    let outcomes = join_all(messages.iter().cloned().map(|m| store.insert_message(m))).await;
    for (sent, outcome) in messages.iter().zip(outcomes) {
        let stored = outcome.unwrap().into_message();
        assert_eq!(stored.media_ids, sent.media_ids, "as inserted");
        assert!(stored.attachments.is_empty(), "attachments are never stored");
        let read = store.message(sent.id).await.unwrap().unwrap();
        assert_eq!((read.kind, read.media_ids), (sent.kind, sent.media_ids.clone()), "as read back");
    }

    let album = NewMessage {
        kind: MessageKind::Image,
        body: None,
        media_ids: vec![MediaId(new_id()), MediaId(new_id())],
        ..text(conversation, a, None)
    };
    store.insert_message(album.clone()).await.unwrap();
    let listed = store.list_conversations(b, ListQuery { pinned: false, before: None, limit: 10 }).await.unwrap();
    let last = listed[0].last_message.clone().unwrap();
    assert_eq!((last.id, last.media_ids), (album.id, album.media_ids));
}
