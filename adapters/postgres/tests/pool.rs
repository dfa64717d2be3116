//! The connection pool hands out no connection the server has closed, without asking the
//! server before every checkout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_core::domain::error::PortError;
use chat_postgres::testing::TestDatabase;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closed_is_replaced() {
    let database = TestDatabase::create().await;
    let store = database.store(1).await;
    let first = store.backend_pid().await.unwrap();
    assert_eq!(store.backend_pid().await.unwrap(), first, "one connection, reused");
    // The two-argument form waits until the backend has exited.
    let mut admin = AsyncPgConnection::establish(&database.url).await.unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({first}, 10000)")).execute(&mut admin).await.unwrap();
    // The closed socket ends the connection's driving task, usually before the next
    // checkout, which then opens a new connection; if the query gets there first it fails
    // as retryable, and the broken connection is dropped when it comes back to the pool.
    let next = match store.backend_pid().await {
        Ok(pid) => pid,
        Err(PortError::Unavailable(_)) => store.backend_pid().await.unwrap(),
        Err(error) => panic!("a closed connection must fail as unavailable, not {error:?}"),
    };
    assert_ne!(next, first, "a new connection replaces the closed one");
    assert_eq!(store.backend_pid().await.unwrap(), next);
}
