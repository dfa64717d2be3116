//! `SessionRepo` on Postgres, with refresh-token rotation and reuse detection.

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::account::{Session, TokenHash};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{SessionId, UserId};
use chat_core::ports::{NewSession, RotateOutcome, SessionRepo};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::PgStore;
use crate::error::{TxStop, from_diesel, settle};
use crate::schema::{rotated_refresh_tokens, sessions};

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
struct SessionRow {
    id: uuid::Uuid,
    user_id: uuid::Uuid,
    device_name: String,
    created_at: Timestamp,
    refresh_expires_at: Timestamp,
    revoked_at: Option<Timestamp>,
}

impl SessionRow {
    fn into_session(self) -> Session {
        Session {
            id: SessionId(self.id),
            user_id: UserId(self.user_id),
            device_name: self.device_name,
            created_at: self.created_at,
            refresh_expires_at: self.refresh_expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

#[async_trait]
impl SessionRepo for PgStore {
    async fn create_session(&self, new: NewSession) -> Result<(), PortError> {
        let session = new.session;
        let mut conn = self.conn().await?;
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(session.id.0),
                sessions::user_id.eq(session.user_id.0),
                sessions::device_name.eq(session.device_name),
                sessions::refresh_hash.eq(new.refresh_hash.0),
                sessions::created_at.eq(session.created_at),
                sessions::refresh_expires_at.eq(session.refresh_expires_at),
                sessions::revoked_at.eq(session.revoked_at),
            ))
            .execute(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(())
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>, PortError> {
        let mut conn = self.conn().await?;
        let row = sessions::table
            .find(id.0)
            .select(SessionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_diesel)?;
        Ok(row.map(SessionRow::into_session))
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        replacement: TokenHash,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<RotateOutcome, PortError> {
        let presented = presented.0.clone();
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                let replayed: Option<uuid::Uuid> = rotated_refresh_tokens::table
                    .find(&presented)
                    .select(rotated_refresh_tokens::session_id)
                    .first(conn)
                    .await
                    .optional()?;
                if let Some(session_id) = replayed {
                    diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
                        .set(sessions::revoked_at.eq(now))
                        .execute(conn)
                        .await?;
                    return Ok(RotateOutcome::Reused(SessionId(session_id)));
                }
                let rotated = diesel::update(
                    sessions::table
                        .filter(sessions::refresh_hash.eq(&presented))
                        .filter(sessions::revoked_at.is_null())
                        .filter(sessions::refresh_expires_at.gt(now)),
                )
                .set((sessions::refresh_hash.eq(replacement.0), sessions::refresh_expires_at.eq(expires_at)))
                .returning(SessionRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
                let Some(session) = rotated else {
                    return Ok(RotateOutcome::Invalid);
                };
                diesel::insert_into(rotated_refresh_tokens::table)
                    .values((
                        rotated_refresh_tokens::refresh_hash.eq(&presented),
                        rotated_refresh_tokens::session_id.eq(session.id),
                        rotated_refresh_tokens::rotated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                Ok(RotateOutcome::Rotated(session.into_session()))
            })
            .await;
        Ok(settle(result)?.unwrap_or(RotateOutcome::Invalid))
    }

    async fn revoke_session(&self, id: SessionId, now: Timestamp) -> Result<(), PortError> {
        let mut conn = self.conn().await?;
        diesel::update(sessions::table.find(id.0).filter(sessions::revoked_at.is_null()))
            .set(sessions::revoked_at.eq(now))
            .execute(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(())
    }

    async fn revoke_all_sessions(&self, user: UserId, now: Timestamp) -> Result<Vec<SessionId>, PortError> {
        let mut conn = self.conn().await?;
        let revoked: Vec<uuid::Uuid> =
            diesel::update(sessions::table.filter(sessions::user_id.eq(user.0)).filter(sessions::revoked_at.is_null()))
                .set(sessions::revoked_at.eq(now))
                .returning(sessions::id)
                .get_results(&mut conn)
                .await
                .map_err(from_diesel)?;
        Ok(revoked.into_iter().map(SessionId).collect())
    }
}
