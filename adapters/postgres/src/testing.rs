//! A throwaway database per test (feature `testing`): created from `DATABASE_URL` (or the
//! local server), migrated, and dropped again when the handle goes away.
//!
//! Without a reachable Postgres the test fails, naming the server it tried and the command
//! that brings one up (`scripts/test`): a test that needs Postgres never passes without it.

#![allow(clippy::expect_used, clippy::panic)]

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

pub use crate::search::{Lookup, SearchPath};
use crate::{PgStore, PoolConfig};

/// The server tests use: `DATABASE_URL`, else the local one on 127.0.0.1:5432.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub struct TestDatabase {
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// A new, migrated database. Panics, naming what is missing, when Postgres is not
    /// reachable.
    pub async fn create() -> TestDatabase {
        let admin_url = server_url();
        let mut admin = match AsyncPgConnection::establish(&admin_url).await {
            Ok(connection) => connection,
            Err(error) => panic!(
                "Postgres is not reachable at {admin_url} ({error}). Run the suite with `scripts/test`, \
                 which starts (or installs) Postgres and Redis, or set DATABASE_URL to a server that \
                 lets this role create databases."
            ),
        };
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
        let url = replace_database(&admin_url, &name);
        let store =
            PgStore::connect(&url, PoolConfig { max_connections: 2, ..PoolConfig::default() }).await.expect("pool");
        store.migrate().await.expect("migrations apply");
        TestDatabase { url, name, admin_url }
    }

    /// A store on this database with room for `connections` concurrent callers.
    pub async fn store(&self, connections: u32) -> PgStore {
        PgStore::connect(&self.url, PoolConfig { max_connections: connections, ..PoolConfig::default() })
            .await
            .expect("pool")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let mut admin = AsyncPgConnection::establish(&admin_url).await.ok()?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Polls `pg_stat_activity` until a backend of the database at `url` other than the poller
/// matches `condition` (SQL over the view's columns), and returns its pid. Each look runs
/// in a transaction of its own, because a transaction sees one snapshot of the view. Panics
/// after `deadline`, naming what it waited for and what the database's backends were doing.
pub async fn wait_for_backend(url: &str, condition: &str, deadline: std::time::Duration) -> i32 {
    #[derive(diesel::QueryableByName)]
    struct Backend {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
    }
    let mut observer = AsyncPgConnection::establish(url).await.expect("an observer connection");
    let select = "SELECT pid, concat_ws(' / ', state, wait_event_type, wait_event, left(query, 80)) AS state \
                  FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    let matching = format!("{select} AND ({condition})");
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        let found: Vec<Backend> = diesel::sql_query(&matching).load(&mut observer).await.expect("pg_stat_activity");
        if let Some(backend) = found.first() {
            return backend.pid;
        }
        if tokio::time::Instant::now() >= give_up {
            let all: Vec<Backend> = diesel::sql_query(select).load(&mut observer).await.expect("pg_stat_activity");
            let states: Vec<String> = all.iter().map(|b| format!("{}: {}", b.pid, b.state)).collect();
            panic!("no backend matched `{condition}` within {deadline:?}; the backends were {states:#?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The same server URL with another database name.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{prefix}/{database}?{query}"),
        None => format!("{prefix}/{database}"),
    }
}

impl PgStore {
    /// The server process behind the pooled connection this call gets: tells tests which
    /// connection the pool handed out.
    pub async fn backend_pid(&self) -> Result<i32, chat_core::domain::error::PortError> {
        #[derive(diesel::QueryableByName)]
        struct Pid {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let mut conn = self.conn().await?;
        let row: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result(&mut conn)
            .await
            .map_err(crate::error::from_diesel)?;
        Ok(row.pid)
    }

    /// `MessageRepo::search_messages`, reading the way `path` says, so that tests reach
    /// every path on a database too small for the planner to pick them.
    pub async fn search_messages_by(
        &self,
        search: &chat_core::ports::MessageSearch,
        path: SearchPath,
    ) -> Result<Vec<chat_core::ports::SearchHit>, chat_core::domain::error::PortError> {
        crate::search::search_messages_by(self, search, path).await
    }

    /// Reverts the migrations from `version` on and applies them again: what running them on
    /// a database that already holds rows does (tests of a migration's backfill).
    pub async fn redo_migrations_from(&self, version: &str) -> Result<(), chat_core::domain::error::PortError> {
        use diesel_migrations::MigrationHarness;
        let internal = |e: Box<dyn std::error::Error + Send + Sync>| {
            chat_core::domain::error::PortError::Internal(format!("migrating: {e}"))
        };
        let connection = self.pool.get_owned().await.map_err(crate::error::from_pool)?;
        let mut harness = diesel_async::AsyncMigrationHarness::new(connection);
        while harness
            .applied_migrations()
            .map_err(internal)?
            .iter()
            .any(|applied| applied.to_string().as_str() >= version)
        {
            harness.revert_last_migration(crate::MIGRATIONS).map_err(internal)?;
        }
        harness.run_pending_migrations(crate::MIGRATIONS).map_err(internal)?;
        Ok(())
    }

    /// Runs `sql` on a pooled connection and classifies a failure as every query of the
    /// store does: lets tests see what a malformed query or a killed connection becomes.
    pub async fn execute_raw(&self, sql: &str) -> Result<usize, chat_core::domain::error::PortError> {
        let mut conn = self.conn().await?;
        diesel::sql_query(sql).execute(&mut conn).await.map_err(crate::error::from_diesel)
    }
}
