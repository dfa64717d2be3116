//! Every store contract suite of `chat_core::testkit` against a real Postgres, one test per
//! check, each on a database of its own (`postgres_store::<check>`, `postgres_users::<check>`,
//! `postgres_social::<check>`, `postgres_media::<check>`, `postgres_search::<check>`,
//! `postgres_devices::<check>`); and the migration checks.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_core::testkit::{
    device_repo_contract_tests, media_repo_contract_tests, message_search_contract_tests, social_contract_tests,
    store_contract_tests, user_repo_contract_tests,
};
use chat_postgres::PgStore;
use chat_postgres::testing::TestDatabase;
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// A store on a new database, with the database's handle (which drops the database with it).
/// Connections open as needed, so a big pool costs only what a check uses.
async fn postgres_store(connections: u32) -> (TestDatabase, PgStore) {
    let database = TestDatabase::create().await;
    let store = database.store(connections).await;
    (database, store)
}

// Enough connections that the 50 concurrent sends really run on separate connections.
store_contract_tests! {
    mod postgres_store;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_database, store) = postgres_store(52).await;
    check(&store);
}

message_search_contract_tests! {
    mod postgres_search;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_database, store) = postgres_store(8).await;
    check(&store);
}

user_repo_contract_tests! {
    mod postgres_users;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_database, store) = postgres_store(8).await;
    check(&store);
}

social_contract_tests! {
    mod postgres_social;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_database, store) = postgres_store(8).await;
    check(&store);
}

// Enough connections that the 20 concurrent creates really run on separate connections.
media_repo_contract_tests! {
    mod postgres_media;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_database, store) = postgres_store(24).await;
    check(&store);
}

// Enough connections that the 20 concurrent registrations really run on separate connections.
device_repo_contract_tests! {
    mod postgres_devices;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    let (_database, store) = postgres_store(24).await;
    check(&store);
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

async fn lines(url: &str, sql: &str) -> Vec<String> {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let rows: Vec<Line> = diesel::sql_query(sql).load(&mut conn).await.unwrap();
    rows.into_iter().map(|row| row.line).collect()
}

const SCHEMA: &str = "
    SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS line
    FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL
    SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    ORDER BY 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_go_down_and_up_to_the_same_schema() {
    let database = TestDatabase::create().await;
    let store = database.store(1).await;
    let before = lines(&database.url, SCHEMA).await;
    assert!(before.iter().any(|l| l.contains("messages_pkey")), "{before:?}");
    store.revert_all().await.unwrap();
    let empty = lines(&database.url, SCHEMA).await;
    assert!(empty.iter().all(|l| l.contains("__diesel_schema_migrations")), "down.sql leaves: {empty:?}");
    store.migrate().await.unwrap();
    assert_eq!(lines(&database.url, SCHEMA).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_foreign_key_has_an_index() {
    let database = TestDatabase::create().await;
    // A foreign key whose columns do not lead some index makes deletes of the parent scan
    // the child table.
    let unindexed = lines(
        &database.url,
        "SELECT c.conrelid::regclass || ' ' || pg_get_constraintdef(c.oid) AS line
         FROM pg_constraint c
         WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
           AND NOT EXISTS (
             SELECT 1 FROM pg_index i
             WHERE i.indrelid = c.conrelid
               AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] @> c.conkey
               AND c.conkey @> (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1])
         ORDER BY 1",
    )
    .await;
    assert!(unindexed.is_empty(), "foreign keys without an index: {unindexed:?}");
}
