//! Readiness: a round trip to Postgres.

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::ports::HealthCheck;
use diesel_async::RunQueryDsl;

use crate::PgStore;
use crate::error::from_diesel;

#[async_trait]
impl HealthCheck for PgStore {
    fn component(&self) -> &'static str {
        "store"
    }

    fn adapter(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), PortError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await.map_err(from_diesel)?;
        Ok(())
    }
}
