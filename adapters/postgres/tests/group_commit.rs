//! Group commit on Postgres: a message the database refuses (here, from a sender who does
//! not exist) rolls its batch back, and the batch is then written one message at a time,
//! so that only the bad message fails and no seq is burnt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_core::domain::ids::UserId;
use chat_core::ports::{ConversationRepo, HistoryPage, InsertOutcome, MessageRepo};
use chat_core::testkit::contract::{group, new_id, text, user};
use chat_postgres::testing::TestDatabase;
use futures_util::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_database_refuses_fails_alone_and_burns_no_seq() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
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
