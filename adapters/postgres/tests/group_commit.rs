//! Group commit on Postgres: a message the database refuses (here, from a sender who does
//! not exist) rolls its batch back, and the batch is then written one message at a time,
//! so that only the bad message fails and no seq is burnt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_core::domain::ids::UserId;
use chat_core::ports::{ConversationRepo, HistoryPage, InsertOutcome, MessageRepo};
use chat_core::testkit::contract::{group, new_id, text, user};
use chat_postgres::testing::{TestDatabase, wait_for_backend};
use futures_util::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_database_refuses_fails_alone_and_burns_no_seq() {
    let database = TestDatabase::create().await;
    let store = database.store(8).await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let id = group(&store, &[a, b]).await;
    for round in 0..5 {
        let mut sends: Vec<_> = (0..20).map(|i| text(id, if i % 2 == 0 { a } else { b }, Some(new_id()))).collect();
        // Not a user: the foreign key on messages.sender_id refuses it.
        sends.insert(7, text(id, UserId(new_id()), Some(new_id())));
        let outcomes = join_all(sends.into_iter().map(|m| store.insert_message(m))).await;
        for (i, outcome) in outcomes.into_iter().enumerate() {
            match (i, outcome) {
                (7, Err(_)) => {}
                (7, Ok(outcome)) => panic!("round {round}: a message from no one was stored: {outcome:?}"),
                (_, Ok(InsertOutcome::Inserted { .. })) => {}
                (_, other) => panic!("round {round}: a good message must be stored, got {other:?}"),
            }
        }
    }
    let history = store.history(id, a, HistoryPage::Latest { limit: 200 }).await.unwrap();
    let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=101).collect::<Vec<u64>>(), "no gaps, no duplicates");
    assert_eq!(store.conversation(id).await.unwrap().unwrap().last_seq, 101);
}

/// A batch locks its conversations before it appends, and the append reads the members
/// once it holds the locks: a member added by a transaction that held the lock while the
/// batch waited is among the recipients of the message numbered after it. Were the append
/// to run before the lock, or within the locking statement's snapshot, the new member
/// would be missing. Both with the writer's statements prepared already and with a fresh
/// writer, which prepares them in this batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_waits_for_the_conversation_lock_and_reads_the_members_after_it() {
    members_read_after_the_lock(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_writer_also_appends_only_after_the_lock() {
    members_read_after_the_lock(false).await;
}

async fn members_read_after_the_lock(prepared: bool) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

    let database = TestDatabase::create().await;
    let store = database.store(8).await;
    let (a, b, late) = (user(&store, "a").await, user(&store, "b").await, user(&store, "late").await);
    let id = group(&store, &[a, b]).await;
    if prepared {
        // The conversation's writer has prepared its statements: they are then sent at
        // once, not after a round trip to prepare them.
        store.insert_message(text(id, b, Some(new_id()))).await.unwrap();
    }

    // Another writer holds the conversation's lock and adds a member meanwhile.
    let mut other = AsyncPgConnection::establish(&database.url).await.unwrap();
    other
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM conversations WHERE id = '{conversation}' FOR UPDATE;
             INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
             VALUES ('{conversation}', '{late}', 'member', now())",
            conversation = id.0,
            late = late.0,
        ))
        .await
        .unwrap();
    let send = tokio::spawn({
        let store = store.clone();
        async move { store.insert_message(text(id, a, Some(new_id()))).await }
    });
    // The batch's writer is seen waiting for a lock, which only the other writer holds.
    wait_for_backend(&database.url, "wait_event_type = 'Lock'", std::time::Duration::from_secs(10)).await;
    assert!(!send.is_finished(), "the send must wait for the conversation's lock");
    other.batch_execute("COMMIT").await.unwrap();

    match send.await.unwrap().unwrap() {
        InsertOutcome::Inserted { mut members, .. } => {
            members.sort_by_key(|m| m.0);
            let mut expected = vec![a, b, late];
            expected.sort_by_key(|m| m.0);
            assert_eq!(members, expected, "the member added under the lock receives the message");
        }
        other => panic!("the message must be stored, got {other:?}"),
    }
}
