//! How database failures reach the ports on a real server: a query Postgres refuses is an
//! internal error (a bug, not worth retrying), a connection killed under a query is
//! unavailable (retryable).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chat_core::domain::error::PortError;
use chat_postgres::testing::{TestDatabase, wait_for_backend};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_query_is_internal_with_its_sqlstate() {
    let database = TestDatabase::create().await;
    let store = database.store(1).await;
    match store.execute_raw("SELECT no_such_column FROM users").await {
        Err(PortError::Internal(detail)) => {
            assert!(detail.contains("42703"), "the detail names the SQLSTATE: {detail}");
            assert!(detail.contains("no_such_column"), "the detail carries the message: {detail}");
        }
        other => panic!("an undefined column must be internal, got {other:?}"),
    }
    match store.execute_raw("SELEC 1").await {
        Err(PortError::Internal(detail)) => assert!(detail.contains("42601"), "syntax_error: {detail}"),
        other => panic!("a syntax error must be internal, got {other:?}"),
    }
    // A value Postgres refuses (a NUL in text) is not an outage either.
    match store.execute_raw("SELECT convert_from('\\x00'::bytea, 'UTF8')").await {
        Err(PortError::Internal(detail)) => assert!(detail.contains("SQLSTATE 22"), "data exception: {detail}"),
        other => panic!("refused data must be internal, got {other:?}"),
    }
    // The connection survives a refused query: the store still answers.
    assert_eq!(store.execute_raw("SELECT 1").await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_under_a_query_is_unavailable() {
    let database = TestDatabase::create().await;
    let store = database.store(1).await;
    let marker = format!("killed_{}", uuid::Uuid::now_v7().simple());
    let query = tokio::spawn({
        let store = store.clone();
        let sql = format!("SELECT pg_sleep(30) AS {marker}");
        async move { store.execute_raw(&sql).await }
    });
    let pid = wait_for_backend(
        &database.url,
        &format!("state = 'active' AND query LIKE '%{marker}%'"),
        Duration::from_secs(10),
    )
    .await;
    let mut admin = AsyncPgConnection::establish(&database.url).await.unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({pid}, 10000)")).execute(&mut admin).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), query).await.expect("the query ends with its backend") {
        Ok(Err(PortError::Unavailable(_))) => {}
        other => panic!("a killed connection must be unavailable, got {other:?}"),
    }
    // The pool replaces the dead connection.
    assert_eq!(store.execute_raw("SELECT 1").await.unwrap(), 1);
}
