//! `SessionRepo` in memory, with refresh-token rotation and reuse detection.

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::account::{Session, TokenHash};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{SessionId, UserId};
use chat_core::ports::{NewSession, RotateOutcome, SessionRepo};

use crate::store::MemoryStore;

#[async_trait]
impl SessionRepo for MemoryStore {
    async fn create_session(&self, new: NewSession) -> Result<(), PortError> {
        let mut state = self.state.lock();
        state.refresh_current.insert(new.refresh_hash.0, new.session.id);
        state.sessions.insert(new.session.id, new.session);
        Ok(())
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>, PortError> {
        Ok(self.state.lock().sessions.get(&id).cloned())
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        replacement: TokenHash,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<RotateOutcome, PortError> {
        let mut state = self.state.lock();
        if let Some(session_id) = state.refresh_rotated.get(&presented.0).copied() {
            if let Some(session) = state.sessions.get_mut(&session_id) {
                session.revoked_at.get_or_insert(now);
            }
            return Ok(RotateOutcome::Reused(session_id));
        }
        let Some(session_id) = state.refresh_current.get(&presented.0).copied() else {
            return Ok(RotateOutcome::Invalid);
        };
        let Some(session) = state.sessions.get_mut(&session_id).filter(|s| s.is_active(now)) else {
            return Ok(RotateOutcome::Invalid);
        };
        session.refresh_expires_at = expires_at;
        let session = session.clone();
        state.refresh_current.remove(&presented.0);
        state.refresh_rotated.insert(presented.0.clone(), session_id);
        state.refresh_current.insert(replacement.0, session_id);
        Ok(RotateOutcome::Rotated(session))
    }

    async fn revoke_session(&self, id: SessionId, now: Timestamp) -> Result<(), PortError> {
        if let Some(session) = self.state.lock().sessions.get_mut(&id) {
            session.revoked_at.get_or_insert(now);
        }
        Ok(())
    }

    async fn revoke_all_sessions(&self, user: UserId, now: Timestamp) -> Result<Vec<SessionId>, PortError> {
        let mut state = self.state.lock();
        let revoked = state
            .sessions
            .values_mut()
            .filter(|session| session.user_id == user && session.revoked_at.is_none())
            .map(|session| {
                session.revoked_at = Some(now);
                session.id
            })
            .collect();
        Ok(revoked)
    }
}
