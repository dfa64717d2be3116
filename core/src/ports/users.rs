//! Storage of user accounts.

use async_trait::async_trait;

use crate::domain::account::{Credentials, User, Username};
use crate::domain::error::RepoError;
use crate::domain::ids::UserId;

/// Which unique field a write collided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserConflict {
    Username,
    Phone,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UserRepo: Send + Sync {
    async fn insert_user(&self, user: User, password_hash: String) -> Result<Result<(), UserConflict>, RepoError>;
    async fn user(&self, id: UserId) -> Result<Option<User>, RepoError>;
    /// The users among `ids` that exist, in no particular order.
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, RepoError>;
    async fn credentials(&self, username: &Username) -> Result<Option<Credentials>, RepoError>;
    /// Replaces the profile and settings of an existing user (a missing user is a no-op).
    async fn update_user(&self, user: &User) -> Result<Result<(), UserConflict>, RepoError>;
}
