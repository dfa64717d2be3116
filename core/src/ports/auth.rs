//! Credential primitives: password hashing and token minting/verification.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::account::{AccessClaims, Password, PasswordHash, TokenHash};
use crate::domain::error::PortError;

/// Hashes and verifies passwords (argon2id in `chat-system`).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password (argon2id in production). CPU-heavy: adapters run it off the
    /// async executor.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PortError>;

    /// Checks a password against a stored hash. With `None` (unknown user) it still does the
    /// same work and returns false, so response time does not reveal which usernames exist.
    async fn verify(&self, password: &Password, stored_hash: Option<PasswordHash>) -> Result<bool, PortError>;
}

/// Mints and checks access tokens, and makes and digests refresh tokens (JWT in
/// `chat-system`).
#[cfg_attr(test, mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// Signs a short-lived access token.
    fn issue_access(&self, claims: &AccessClaims) -> Result<String, PortError>;
    /// Checks an access token's signature and expiry (against `now`, from the clock port).
    fn verify_access(&self, token: &str, now: Timestamp) -> Option<AccessClaims>;
    /// A new opaque refresh token (high-entropy, URL-safe).
    fn new_refresh_token(&self) -> String;
    /// The digest under which a refresh token is stored.
    fn hash_refresh_token(&self, token: &str) -> TokenHash;
}
