//! Message search on a real Postgres, beyond the shared contract (which runs in
//! `contract.rs`): every way the store can read (the word indexes, newest messages first)
//! ranks exactly as `domain::search` does, also across the edges of its windows of time;
//! what the application folds is what the database compares; the migration folds the
//! messages that exist as the application would; a search that runs too long is cancelled
//! as unavailable; and one call returns at most `MAX_RESULTS`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, MessageId, UserId};
use chat_core::domain::message::{Message, NewMessage};
use chat_core::domain::search::{SearchPosition, SearchText, score, search_words};
use chat_core::ports::{InsertOutcome, MessageRepo, MessageSearch, MessageUpdate, SearchScope};
use chat_core::testkit::contract::{group, text, user};
use chat_postgres::PgStore;
use chat_postgres::testing::{Lookup, SearchPath, TestDatabase};
use diesel::QueryableByName;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const DAY: i64 = 24 * 60 * 60;
/// Every way the store reads; each must give the same results.
const PATHS: [SearchPath; 6] = [
    SearchPath::ByEstimate,
    SearchPath::Indexes { lookup: Lookup::Words, scopes_by_index: true },
    SearchPath::Indexes { lookup: Lookup::LeadingWords, scopes_by_index: false },
    SearchPath::Indexes { lookup: Lookup::MiddleWords, scopes_by_index: true },
    SearchPath::Indexes { lookup: Lookup::LastWord, scopes_by_index: false },
    SearchPath::NewestFirst,
];
const MICROS: i64 = 1_000_000;

async fn postgres_store() -> (TestDatabase, PgStore) {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    (database, store)
}

/// Stores a text message with this body, sent at `at`.
async fn say(store: &PgStore, conversation: ConversationId, sender: UserId, body: &str, at: Timestamp) -> Message {
    let message = NewMessage { body: Some(body.to_owned()), created_at: at, ..text(conversation, sender, None) };
    match store.insert_message(message).await.unwrap() {
        InsertOutcome::Inserted { message, .. } => message,
        InsertOutcome::Existing(_) => panic!("a message without client id is always new"),
    }
}

fn search(viewer: UserId, query: &str, scopes: Vec<SearchScope>, as_of: Timestamp, limit: usize) -> MessageSearch {
    MessageSearch::unfiltered(viewer, SearchText::parse(query).unwrap(), scopes, as_of, limit)
}

fn whole(conversation: ConversationId) -> SearchScope {
    SearchScope { conversation, after_seq: 0 }
}

/// Every result of `search`, page after page, the way `path` reads.
async fn every_page(store: &PgStore, search: &MessageSearch, path: SearchPath) -> Vec<(MessageId, i64)> {
    let mut page = search.clone();
    let mut all = Vec::new();
    loop {
        let hits = store.search_messages_by(&page, path).await.unwrap();
        assert!(hits.len() <= page.limit);
        let Some(last) = hits.last() else { return all };
        page.after = Some(SearchPosition { score: last.score, id: last.message.id });
        all.extend(hits.iter().map(|hit| (hit.message.id, hit.score)));
        assert!(all.len() <= 1000, "paging must end");
    }
}

/// What `domain::search` ranks for `query` among `messages`, best first.
fn ranked(messages: &[Message], query: &str, as_of: Timestamp) -> Vec<(MessageId, i64)> {
    let text = SearchText::parse(query).unwrap();
    let mut hits: Vec<(MessageId, i64)> = messages
        .iter()
        .filter_map(|message| {
            let tier = text.match_tier(&search_words(message.body.as_deref()?))?;
            Some((message.id, score(tier, message.created_at, as_of)))
        })
        .collect();
    hits.sort_by_key(|&(id, score)| std::cmp::Reverse((score, id.0)));
    hits
}

/// Bodies with every tier of match for the queries below, sent at ages on both sides of
/// each window the newest-first reading uses (2, 16, 64 and 256 days), are found and
/// ranked as the rules say whichever way the store reads, in pages of any size, also from
/// a scope's `after_seq`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_ranks_as_the_rules_across_the_windows() {
    let (_database, store) = postgres_store().await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let (first, second) = (group(&store, &[a, b]).await, group(&store, &[a, b]).await);
    let as_of = Timestamp::from_timestamp(1_900_000_000, 0).unwrap();
    let bodies = [
        "phở bò",
        "Phở gà ngon",
        "ăn phở không",
        "phởbò nhé",
        "phòng họp",
        "cà phê phố cổ",
        "giảm 50% off_sale",
        "it's a&b|c!",
        "đường\\dẫn (x:*)",
        "bún chả",
        // Matches only inside a word: the trigram path, and the window after a word-index page.
        "xphở bòx",
        "aphở bò",
        "xhọp chi",
        "họp chiều nay",
    ];
    let ages: Vec<i64> = [0, 1, 2, 16, 64, 256]
        .iter()
        .flat_map(|days| [days * DAY * MICROS - 1, days * DAY * MICROS, days * DAY * MICROS + 1])
        .filter(|age| *age >= 0)
        .chain([5 * DAY * MICROS, 40 * DAY * MICROS, 400 * DAY * MICROS])
        .collect();
    let mut messages = Vec::new();
    for (i, age) in ages.iter().enumerate() {
        for (j, body) in bodies.iter().enumerate() {
            let at = Timestamp::from_timestamp_micros(as_of.timestamp_micros() - age).unwrap();
            let conversation = if (i + j) % 2 == 0 { first } else { second };
            messages.push(say(&store, conversation, a, body, at).await);
        }
    }
    // The first conversation from its 20th message on.
    let scopes = vec![SearchScope { conversation: first, after_seq: 20 }, whole(second)];
    let in_scope: Vec<Message> =
        messages.iter().filter(|m| m.conversation_id == second || m.seq > 20).cloned().collect();
    let queries =
        ["pho", "pho bo", "phở gà", "ph", "pho co", "hop", "hop chi", "bo", "50%", "a & b | !c", "dẫn (x:*)", "xyzzy"];
    for query in queries {
        let expected = ranked(&in_scope, query, as_of);
        for limit in [3, 11, 200] {
            for path in PATHS {
                let found = every_page(&store, &search(b, query, scopes.clone(), as_of, limit), path).await;
                assert_eq!(found, expected, "{query:?}, pages of {limit}, {path:?}");
            }
        }
    }
}

/// The date filters cut the newest-first windows short without losing results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_filters_and_windows_agree() {
    let (_database, store) = postgres_store().await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let id = group(&store, &[a, b]).await;
    let as_of = Timestamp::from_timestamp(1_900_000_000, 0).unwrap();
    let mut messages = Vec::new();
    for days in [0, 1, 3, 10, 20, 70, 300] {
        let at = Timestamp::from_timestamp(as_of.timestamp() - days * DAY, 0).unwrap();
        messages.push(say(&store, id, a, &format!("trà sữa ngày {days}"), at).await);
    }
    let day = |days: i64| Timestamp::from_timestamp(as_of.timestamp() - days * DAY, 0).unwrap();
    for (before, after) in [(None, Some(day(5))), (Some(day(2)), None), (Some(day(15)), Some(day(100))), (None, None)] {
        let expected: Vec<(MessageId, i64)> = ranked(&messages, "tra sua", as_of)
            .into_iter()
            .filter(|(id, _)| {
                let sent = messages.iter().find(|m| m.id == *id).unwrap().created_at;
                before.is_none_or(|b| sent < b) && after.is_none_or(|a| sent > a)
            })
            .collect();
        for path in PATHS {
            let query = MessageSearch {
                sent_before: before,
                sent_after: after,
                ..search(b, "tra sua", vec![whole(id)], as_of, 2)
            };
            assert_eq!(
                every_page(&store, &query, path).await,
                expected,
                "before {before:?}, after {after:?}, {path:?}"
            );
        }
    }
}

/// Marks typed precomposed or as combining characters, and invisible characters inside a
/// word, fold the same on both sides: the application folds the body it stores and the
/// query it searches for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decomposed_marks_and_invisible_characters_fold_like_the_query() {
    let (_database, store) = postgres_store().await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let id = group(&store, &[a, b]).await;
    let at = Timestamp::from_timestamp(1_900_000_000, 0).unwrap();
    let bodies = ["Nguye\u{302}\u{303}n Đức", "Ng\u{200B}uyễn Văn", "NGUYỄN"];
    for body in bodies {
        say(&store, id, a, body, at).await;
    }
    for query in ["nguyen", "Nguyễn", "Nguye\u{302}\u{303}n", "NGUYEN"] {
        for path in PATHS {
            let hits = store.search_messages_by(&search(b, query, vec![whole(id)], at, 10), path).await.unwrap();
            let mut found: Vec<String> = hits.into_iter().map(|hit| hit.message.body.unwrap()).collect();
            found.sort();
            let mut expected = bodies.map(str::to_owned).to_vec();
            expected.sort();
            assert_eq!(found, expected, "{query:?} {path:?}");
        }
    }
}

/// An edit is searched by its new words and no longer by the old; a recalled message by
/// none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_recalls_change_what_is_found() {
    let (database, store) = postgres_store().await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let id = group(&store, &[a, b]).await;
    let at = Timestamp::from_timestamp(1_900_000_000, 0).unwrap();
    let edited = say(&store, id, a, "phở bò", at).await;
    let recalled = say(&store, id, a, "bún chả", at).await;
    store.update_message(edited.id, MessageUpdate::Edit { body: "bánh mì".into(), at }).await.unwrap();
    store.update_message(recalled.id, MessageUpdate::Recall { at }).await.unwrap();
    let count =
        async |query: &str| store.search_messages(&search(b, query, vec![whole(id)], at, 10)).await.unwrap().len();
    assert_eq!(count("pho").await, 0);
    assert_eq!(count("banh mi").await, 1);
    assert_eq!(count("bun cha").await, 0);
    #[derive(QueryableByName)]
    struct Folded {
        #[diesel(sql_type = Text)]
        search_text: String,
    }
    let mut conn = AsyncPgConnection::establish(&database.url).await.unwrap();
    let folded: Folded = diesel::sql_query("SELECT search_text FROM messages WHERE id = $1")
        .bind::<SqlUuid, _>(recalled.id.0)
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(folded.search_text, "", "a recall clears the folded text with the body");
}

/// The migration fills `search_text` for the messages that exist: for Vietnamese and other
/// Latin-script text exactly as the application folds (what it writes from then on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_folds_existing_messages_as_the_application_does() {
    let (database, store) = postgres_store().await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let id = group(&store, &[a, b]).await;
    let at = Timestamp::from_timestamp(1_900_000_000, 0).unwrap();
    let bodies = [
        "Chào anh Nguyễn Văn Đức!",
        "ĐẶNG THỊ ÁNH — đi Đà Nẵng 2 ngày",
        "Nguye\u{302}\u{303}n decomposed, Ng\u{200B}uyễn with a zero-width space",
        "  many   spaces\tand\nlines  ",
        "Mã đơn DH123456: 100_000đ (50% off) it's a&b|c! x:*",
        "Ưu đãi ở Hội An: ổ bánh mì, ữ ự ỳ ỵ ỷ ỹ",
        "café naïve Zürich İstanbul Ελλάδα Ёлка",
        "emoji 👍🏽 and ❤️ between words",
        "",
    ];
    for body in bodies {
        say(&store, id, a, body, at).await;
    }
    database.store(1).await.redo_migrations_from("20261205000006").await.unwrap();
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        body: String,
        #[diesel(sql_type = Text)]
        search_text: String,
    }
    let mut conn = AsyncPgConnection::establish(&database.url).await.unwrap();
    let rows: Vec<Row> =
        diesel::sql_query("SELECT body, search_text FROM messages WHERE kind = 'TEXT'").load(&mut conn).await.unwrap();
    assert_eq!(rows.len(), bodies.len());
    for row in rows {
        assert_eq!(row.search_text, search_words(&row.body).join(" "), "{:?}", row.body);
    }
    // And the search finds them through the rebuilt indexes.
    let hits = store.search_messages(&search(b, "nguyen", vec![whole(id)], at, 10)).await.unwrap();
    assert_eq!(hits.len(), 2);
}

/// A search still running at the statement timeout is cancelled by Postgres (57014) and
/// reported as unavailable, and the connection serves the next search. Here it waits for a
/// lock that another session holds until the search has failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_its_statement_timeout_is_unavailable() {
    let (database, store) = postgres_store().await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let id = group(&store, &[a, b]).await;
    let at = Timestamp::from_timestamp(1_900_000_000, 0).unwrap();
    say(&store, id, a, "phở bò", at).await;
    let query = search(b, "pho", vec![whole(id)], at, 10);
    let mut locker = AsyncPgConnection::establish(&database.url).await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut locker).await.unwrap();
    diesel::sql_query("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    for path in [SearchPath::ByEstimate, SearchPath::NewestFirst] {
        let outcome = tokio::time::timeout(Duration::from_secs(60), store.search_messages_by(&query, path))
            .await
            .expect("the statement timeout ends the search");
        match outcome {
            Err(PortError::Unavailable(detail)) => assert!(detail.contains("57014"), "{detail}"),
            other => panic!("a search past its timeout must be unavailable, got {other:?}"),
        }
    }
    diesel::sql_query("ROLLBACK").execute(&mut locker).await.unwrap();
    assert_eq!(store.search_messages(&query).await.unwrap().len(), 1);
}

/// However many results a call asks for, it gets at most 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_returns_at_most_two_hundred() {
    let (_database, store) = postgres_store().await;
    let (a, b) = (user(&store, "a").await, user(&store, "b").await);
    let id = group(&store, &[a, b]).await;
    let at = Timestamp::from_timestamp(1_900_000_000, 0).unwrap();
    for i in 0..201 {
        say(&store, id, a, &format!("cà phê {i}"), at).await;
    }
    for path in PATHS {
        let hits = store.search_messages_by(&search(b, "ca phe", vec![whole(id)], at, 1000), path).await.unwrap();
        assert_eq!(hits.len(), 200, "{path:?}");
    }
}
