//! `chat-postgres`: the production store. Every repository port of `chat-core` on Postgres,
//! through diesel's query builder and diesel-async (pure Rust, no libpq), with a bb8 pool.
//!
//! Multi-step writes (a message with its seq and the sender's read mark; a group change with
//! its announcement) each run in one transaction, with the conversation row as the lock that
//! serialises senders of one conversation across every node.

mod append;
mod batch;
mod conversations;
mod devices;
mod error;
mod group_commit;
mod health;
mod media;
mod messages;
mod rows;
mod schema;
mod search;
mod sessions;
mod social;
mod users;
mod write_context;

#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use chat_core::domain::error::PortError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection, RecyclingMethod,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The schema migrations of `/migrations`, compiled into every binary that links this crate.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The advisory lock key that serialises migration runs ("chat" in ASCII).
const MIGRATION_LOCK: i64 = 0x6368_6174;

/// Connection pool settings.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Connections shared by the queries; the message writers and the send-gate readers
    /// keep five more of their own.
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { max_connections: 16, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The check a pooled connection passes before it is handed out. It asks the server nothing:
/// diesel-async's default (`RecyclingMethod::Verified`) sends `SELECT 1` on every checkout,
/// a round trip that cost a send about nine of its 26. A connection the server closed (a
/// restart, `pg_terminate_backend`, a failover) is still caught: the task that drives each
/// tokio-postgres connection ends when its socket fails or reaches end of file, also while
/// the connection sits idle in the pool, and `is_broken` sees that (`Client::is_closed`), as it
/// sees a transaction left open by a cancelled query. bb8 then drops the connection and
/// hands out another. bb8 makes the same check (`has_broken`) when a connection comes back
/// after a query failed on it, so a broken one does not even return to the pool. What this
/// cannot see is a connection whose socket silently stopped answering (no FIN, no RST): its
/// next query fails or times out, and `has_broken` drops it then.
fn usable_without_asking(connection: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    if PoolableConnection::is_broken(connection) {
        return Err(DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("the pooled connection is closed".to_owned()),
        ));
    }
    Ok(())
}

async fn build_pool(
    database_url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<Pool<AsyncPgConnection>, PortError> {
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    manager_config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|connection| {
        Box::pin(std::future::ready(usable_without_asking(connection)))
    }));
    let manager = AsyncDieselConnectionManager::new_with_config(database_url, manager_config);
    Pool::builder()
        .max_size(max_connections)
        .connection_timeout(acquire_timeout)
        .build(manager)
        .await
        .map_err(|e| PortError::Unavailable(format!("database pool: {e}")))
}

/// The Postgres store; cheap to clone (it is a pool handle).
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
    /// Where `insert_message` goes: batched into shared transactions.
    appender: group_commit::GroupCommit,
    /// Where `write_context` goes: batched into shared statements.
    contexts: write_context::WriteContexts,
}

impl PgStore {
    /// Builds the pool and starts the message writers and send-gate readers on the current
    /// runtime. Connections
    /// are opened lazily, so this fails only on a bad URL.
    pub async fn connect(database_url: &str, config: PoolConfig) -> Result<PgStore, PortError> {
        let pool = build_pool(database_url, config.max_connections, config.acquire_timeout).await?;
        // The batch workers keep their connections for good, so they get their own, apart
        // from the pool the other queries share: a small pool (chatctl's, a test's) would
        // otherwise be held entirely by them.
        let writers = build_pool(database_url, group_commit::CONNECTIONS, config.acquire_timeout).await?;
        let appender = group_commit::GroupCommit::start(writers, pool.clone());
        let readers = build_pool(database_url, write_context::CONNECTIONS, config.acquire_timeout).await?;
        let contexts = write_context::start(readers);
        Ok(PgStore { pool, appender, contexts })
    }

    pub(crate) async fn conn(&self) -> Result<PooledConnection<'_, AsyncPgConnection>, PortError> {
        self.pool.get().await.map_err(error::from_pool)
    }

    /// Applies every pending migration and returns their names. Needs the multi-threaded
    /// tokio runtime (diesel's migration harness is synchronous).
    /// Several nodes may start with `--migrate` at once: an advisory lock makes them take
    /// turns, and the later ones find nothing left to do.
    pub async fn migrate(&self) -> Result<Vec<String>, PortError> {
        use diesel_async::RunQueryDsl;
        let mut connection = self.pool.get_owned().await.map_err(error::from_pool)?;
        let lock = format!("SELECT pg_advisory_lock({MIGRATION_LOCK})");
        diesel::sql_query(lock).execute(&mut *connection).await.map_err(error::from_diesel)?;
        let mut harness = diesel_async::AsyncMigrationHarness::new(connection);
        let applied = harness
            .run_pending_migrations(MIGRATIONS)
            .map(|applied| applied.iter().map(ToString::to_string).collect())
            .map_err(|e| PortError::Internal(format!("migrating: {e}")));
        let mut connection = harness.into_inner();
        let unlock = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})");
        diesel::sql_query(unlock).execute(&mut *connection).await.map_err(error::from_diesel)?;
        applied
    }

    /// Names of the migrations not yet applied: a server refuses to start on a stale schema.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, PortError> {
        let connection = self.pool.get_owned().await.map_err(error::from_pool)?;
        let mut harness = diesel_async::AsyncMigrationHarness::new(connection);
        let pending = harness
            .pending_migrations(MIGRATIONS)
            .map_err(|e| PortError::Internal(format!("reading migrations: {e}")))?;
        Ok(pending.iter().map(|m| m.name().to_string()).collect())
    }

    /// Gives an existing user the admin role (for `chatctl create-admin`). Returns whether
    /// the user exists.
    pub async fn grant_admin(&self, user: chat_core::domain::ids::UserId) -> Result<bool, PortError> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        let updated = diesel::update(schema::users::table.find(user.0))
            .set(schema::users::role.eq("admin"))
            .execute(&mut conn)
            .await
            .map_err(error::from_diesel)?;
        Ok(updated == 1)
    }

    /// Reverts every migration (for tests of the migrations themselves).
    pub async fn revert_all(&self) -> Result<(), PortError> {
        let connection = self.pool.get_owned().await.map_err(error::from_pool)?;
        let mut harness = diesel_async::AsyncMigrationHarness::new(connection);
        harness.revert_all_migrations(MIGRATIONS).map_err(|e| PortError::Internal(format!("reverting: {e}")))?;
        Ok(())
    }
}
