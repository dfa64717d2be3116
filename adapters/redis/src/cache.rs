//! A read-through cache of user profiles (display name, avatar, settings) in front of any
//! `UserRepo`, invalidated on change. Credentials are never cached. When Redis is down the
//! cache steps aside and the store answers.

use std::sync::Arc;

use async_trait::async_trait;
use chat_core::domain::account::{Credentials, PasswordHash, Phone, User, Username};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::UserId;
use chat_core::ports::{UserConflict, UserRepo};

use crate::RedisConnection;

pub struct CachedUsers {
    inner: Arc<dyn UserRepo>,
    redis: RedisConnection,
    ttl_secs: u64,
}

impl CachedUsers {
    pub fn new(inner: Arc<dyn UserRepo>, redis: RedisConnection, ttl_secs: u64) -> Self {
        CachedUsers { inner, redis, ttl_secs }
    }

    fn key(&self, id: UserId) -> String {
        self.redis.key(&format!("user:{id}"))
    }

    async fn cached(&self, ids: &[UserId]) -> Result<Vec<Option<User>>, PortError> {
        let keys: Vec<String> = ids.iter().map(|id| self.key(*id)).collect();
        let mut conn = self.redis.conn().await?;
        let values: Vec<Option<String>> =
            redis::cmd("MGET").arg(&keys).query_async(&mut conn).await.map_err(|e| self.redis.failed(e))?;
        Ok(values.into_iter().map(|value| value.and_then(|json| serde_json::from_str(&json).ok())).collect())
    }

    async fn remember(&self, users: &[User]) {
        let result = async {
            let mut conn = self.redis.conn().await?;
            let mut pipe = redis::pipe();
            for user in users {
                let json = serde_json::to_string(user).map_err(|e| PortError::Internal(e.to_string()))?;
                pipe.cmd("SET").arg(self.key(user.id)).arg(json).arg("EX").arg(self.ttl_secs).ignore();
            }
            pipe.query_async::<()>(&mut conn).await.map_err(|e| self.redis.failed(e))
        }
        .await;
        if let Err(error) = result {
            tracing::debug!(%error, "profile cache not filled");
        }
    }

    async fn forget(&self, id: UserId) -> Result<(), PortError> {
        let mut conn = self.redis.conn().await?;
        redis::cmd("DEL").arg(self.key(id)).query_async::<i64>(&mut conn).await.map_err(|e| self.redis.failed(e))?;
        Ok(())
    }
}

#[async_trait]
impl UserRepo for CachedUsers {
    async fn insert_user(
        &self,
        user: User,
        password_hash: PasswordHash,
    ) -> Result<Result<(), UserConflict>, PortError> {
        self.inner.insert_user(user, password_hash).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(self.users(&[id]).await?.pop())
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, PortError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let cached = match self.cached(ids).await {
            Ok(cached) => cached,
            Err(error) => {
                tracing::debug!(%error, "profile cache unavailable; reading the store");
                return self.inner.users(ids).await;
            }
        };
        let missing: Vec<UserId> =
            ids.iter().zip(&cached).filter(|(_, hit)| hit.is_none()).map(|(id, _)| *id).collect();
        let mut found: Vec<User> = cached.into_iter().flatten().collect();
        if !missing.is_empty() {
            let loaded = self.inner.users(&missing).await?;
            self.remember(&loaded).await;
            found.extend(loaded);
        }
        Ok(found)
    }

    async fn credentials(&self, username: &Username) -> Result<Option<Credentials>, PortError> {
        self.inner.credentials(username).await
    }

    /// Searches go to the store: results change with every registration and are not cached.
    async fn search_users(&self, folded_query: &str, limit: usize) -> Result<Vec<User>, PortError> {
        self.inner.search_users(folded_query, limit).await
    }

    async fn users_by_phones(&self, phones: &[Phone]) -> Result<Vec<User>, PortError> {
        self.inner.users_by_phones(phones).await
    }

    async fn update_user(&self, user: &User) -> Result<Result<(), UserConflict>, PortError> {
        let outcome = self.inner.update_user(user).await?;
        // Invalidate after the write: a reader that filled the cache in between is undone.
        // If Redis is unreachable the change still stands and the entry ages out (TTL).
        if let Err(error) = self.forget(user.id).await {
            tracing::warn!(%error, user = %user.id, "profile cache not invalidated; it expires by itself");
        }
        Ok(outcome)
    }
}
