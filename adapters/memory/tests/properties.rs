//! Properties of the in-memory store under arbitrary interleavings, on a multi-threaded
//! runtime so sends really race.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::domain::message::MessageKind;
use chat_core::ports::{ConversationRepo, HistoryPage, InsertOutcome, ListQuery, MessageRepo};
use chat_core::testkit::contract::{group, text, user};
use chat_memory::MemoryStore;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap()
}

async fn setup(store: &MemoryStore, members: usize) -> (ConversationId, Vec<UserId>) {
    let mut users = Vec::new();
    for _ in 0..members {
        users.push(user(store, "u").await);
    }
    (group(store, &users).await, users)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any mix of senders, retries and concurrency: seqs are 1..=n with no gap or duplicate,
    /// and each (sender, client_msg_id) is stored once, retries returning the original.
    #[test]
    fn seqs_are_gap_free_and_retries_never_duplicate(
        sends in proptest::collection::vec((0usize..3, 0u8..12), 1..80),
        tasks in 1usize..6,
    ) {
        let store = Arc::new(MemoryStore::new());
        let runtime = runtime();
        let (conversation, users) = runtime.block_on(setup(&store, 3));
        // A small pool of client keys per sender makes retries likely.
        let keys: Vec<uuid::Uuid> = (0..12).map(|_| uuid::Uuid::now_v7()).collect();
        let chunks: Vec<Vec<(usize, u8)>> = sends.chunks(sends.len().div_ceil(tasks)).map(<[_]>::to_vec).collect();
        let outcomes: Vec<(UserId, uuid::Uuid, InsertOutcome)> = runtime.block_on(async {
            let handles: Vec<_> = chunks.into_iter().map(|chunk| {
                let store = store.clone();
                let (users, keys) = (users.clone(), keys.clone());
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    for (sender, key) in chunk {
                        let (sender, key) = (users[sender], keys[usize::from(key)]);
                        let outcome = store.insert_message(text(conversation, sender, Some(key))).await.unwrap();
                        outcomes.push((sender, key, outcome));
                        tokio::task::yield_now().await;
                    }
                    outcomes
                })
            }).collect();
            let mut all = Vec::new();
            for handle in handles {
                all.extend(handle.await.unwrap());
            }
            all
        });
        let history = runtime.block_on(store.history(conversation, users[0], HistoryPage::After { seq: 0, limit: 1000 })).unwrap();
        let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
        prop_assert_eq!(seqs, (1..=history.len() as u64).collect::<Vec<_>>());
        let distinct: HashSet<(UserId, uuid::Uuid)> = outcomes.iter().map(|(s, k, _)| (*s, *k)).collect();
        prop_assert_eq!(history.iter().filter(|m| m.kind == MessageKind::Text).count(), distinct.len());
        let mut first_id = HashMap::new();
        for (sender, key, outcome) in outcomes {
            let message = outcome.into_message();
            let id = *first_id.entry((sender, key)).or_insert(message.id);
            prop_assert_eq!(id, message.id, "a retry returned a different message");
        }
    }

    /// Whatever order sends and read marks come in, the unread count equals the number of
    /// others' messages after the reader's mark, and never exceeds last_seq - read_seq.
    #[test]
    fn unread_counts_are_exact_and_never_negative(ops in proptest::collection::vec((any::<bool>(), 0u64..40), 1..60)) {
        let store = MemoryStore::new();
        let runtime = runtime();
        runtime.block_on(async {
            let (conversation, users) = setup(&store, 2).await;
            let (writer, reader) = (users[0], users[1]);
            for (send, seq) in ops {
                if send {
                    store.insert_message(text(conversation, writer, None)).await.unwrap();
                } else {
                    store.mark_read(conversation, reader, seq).await.unwrap();
                }
                let member = store.member(conversation, reader).await.unwrap().unwrap();
                let last_seq = store.conversation(conversation).await.unwrap().unwrap().last_seq;
                prop_assert!(member.read_seq <= last_seq);
                let after_mark = store.history(conversation, reader, HistoryPage::After { seq: member.read_seq, limit: 1000 }).await.unwrap();
                let expected = after_mark.iter().filter(|m| m.sender_id == writer && m.kind == MessageKind::Text).count() as u64;
                let summary = store.list_conversations(reader, ListQuery { pinned: false, before: None, limit: 10 }).await.unwrap();
                let unread = summary[0].unread_count;
                prop_assert_eq!(unread, expected);
                prop_assert!(unread <= last_seq - member.read_seq);
            }
            Ok(())
        })?;
    }
}
