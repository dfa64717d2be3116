//! Storage of user accounts.

use async_trait::async_trait;

use crate::domain::account::{Credentials, PasswordHash, Phone, User, Username};
use crate::domain::error::PortError;
use crate::domain::ids::UserId;

/// Which unique field a write collided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserConflict {
    /// The username is taken.
    Username,
    /// The phone number belongs to another account.
    Phone,
}

/// Storage of user accounts, their profiles, settings and password hashes.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UserRepo: Send + Sync {
    /// Stores a new user with their password hash, or reports which unique field is taken.
    async fn insert_user(&self, user: User, password_hash: PasswordHash)
    -> Result<Result<(), UserConflict>, PortError>;
    /// One user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, PortError>;
    /// The users among `ids` that exist, in no particular order.
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, PortError>;
    /// The id and password hash behind a username, for login only.
    async fn credentials(&self, username: &Username) -> Result<Option<Credentials>, PortError>;
    /// Users whose username or display name, folded with `fold_for_search`, contains the
    /// (folded) query; best matches (prefix of a name) first.
    async fn search_users(&self, folded_query: &str, limit: usize) -> Result<Vec<User>, PortError>;
    /// The users with these phone numbers.
    async fn users_by_phones(&self, phones: &[Phone]) -> Result<Vec<User>, PortError>;
    /// Replaces the profile and settings of an existing user (a missing user is a no-op).
    async fn update_user(&self, user: &User) -> Result<Result<(), UserConflict>, PortError>;
}
