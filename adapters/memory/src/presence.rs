//! `PresenceStore` in memory: live sessions with expiry times.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConnectionId, UserId};
use chat_core::domain::{Duration, Timestamp};
use chat_core::ports::{PresenceStatus, PresenceStore};
use parking_lot::Mutex;

#[derive(Default)]
pub struct MemoryPresence {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Live sessions per user and when each expires.
    sessions: HashMap<UserId, HashMap<ConnectionId, Timestamp>>,
    last_seen: HashMap<UserId, Timestamp>,
}

impl MemoryPresence {
    pub fn new() -> Self {
        MemoryPresence::default()
    }
}

impl State {
    /// Drops the user's expired sessions; returns whether any live one is left.
    fn prune(&mut self, user: UserId, now: Timestamp) -> bool {
        let Some(sessions) = self.sessions.get_mut(&user) else {
            return false;
        };
        sessions.retain(|_, expiry| *expiry > now);
        !sessions.is_empty()
    }
}

#[async_trait]
impl PresenceStore for MemoryPresence {
    async fn connection_alive(
        &self,
        user: UserId,
        session: ConnectionId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, PortError> {
        let mut state = self.state.lock();
        let was_online = state.prune(user, now);
        state.sessions.entry(user).or_default().insert(session, now + ttl);
        Ok(!was_online)
    }

    async fn connection_ended(&self, user: UserId, session: ConnectionId, now: Timestamp) -> Result<bool, PortError> {
        let mut state = self.state.lock();
        let Some(sessions) = state.sessions.get_mut(&user) else {
            return Ok(false);
        };
        if sessions.remove(&session).is_none() {
            return Ok(false);
        }
        if state.prune(user, now) {
            return Ok(false);
        }
        state.sessions.remove(&user);
        state.last_seen.insert(user, now);
        Ok(true)
    }

    async fn take_expired(&self, now: Timestamp) -> Result<Vec<(UserId, Timestamp)>, PortError> {
        let mut state = self.state.lock();
        let mut expired = Vec::new();
        for (user, sessions) in &state.sessions {
            let last_expiry = sessions.values().max().copied();
            if let Some(last) = last_expiry.filter(|last| *last <= now) {
                expired.push((*user, last));
            }
        }
        for (user, last) in &expired {
            state.sessions.remove(user);
            state.last_seen.insert(*user, *last);
        }
        Ok(expired)
    }

    async fn status(&self, users: &[UserId], now: Timestamp) -> Result<Vec<(UserId, PresenceStatus)>, PortError> {
        let state = self.state.lock();
        Ok(users
            .iter()
            .map(|user| {
                let online = state.sessions.get(user).is_some_and(|s| s.values().any(|expiry| *expiry > now));
                let last_seen = if online { None } else { state.last_seen.get(user).copied() };
                (*user, PresenceStatus { online, last_seen })
            })
            .collect())
    }
}
