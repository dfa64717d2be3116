//! argon2id password hashing, run on the blocking pool so it never stalls the executor.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use chat_core::domain::account::{Password, PasswordHash};
use chat_core::domain::error::PortError;
use chat_core::ports::PasswordHasher;
use tokio::sync::Semaphore;

/// argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
pub struct Argon2Passwords {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist so that
    /// unknown usernames take as long as wrong passwords.
    decoy_hash: String,
    /// Each hash holds 19 MiB for tens of milliseconds: cap how many run at once so a login
    /// storm cannot exhaust memory or the blocking pool.
    permits: Arc<Semaphore>,
}

impl Argon2Passwords {
    pub fn new(max_concurrent: usize) -> Result<Self, PortError> {
        let params = Params::new(19 * 1024, 2, 1, None).map_err(internal)?;
        let mut decoy_password = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut decoy_password);
        let decoy_hash = hash_blocking(&params, &decoy_password)?;
        Ok(Argon2Passwords { params, decoy_hash, permits: Arc::new(Semaphore::new(max_concurrent.max(1))) })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Params) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let _permit = self.permits.acquire().await.map_err(internal)?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || work(params)).await.map_err(internal)?
    }
}

#[async_trait]
impl PasswordHasher for Argon2Passwords {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PortError> {
        let password = password.expose().to_owned();
        self.run(move |params| hash_blocking(&params, password.as_bytes())).await.map(PasswordHash::new)
    }

    async fn verify(&self, password: &Password, stored_hash: Option<PasswordHash>) -> Result<bool, PortError> {
        let known = stored_hash.is_some();
        let hash = stored_hash.map_or_else(|| self.decoy_hash.clone(), PasswordHash::into_encoded);
        let password = password.expose().to_owned();
        let matches = self
            .run(move |params| Ok(hasher(params).verify_password(password.as_bytes(), hash.as_str()).is_ok()))
            .await?;
        Ok(known && matches)
    }
}

fn hasher(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, PortError> {
    hasher(params.clone()).hash_password(password).map(|hash| hash.to_string()).map_err(internal)
}

fn internal(error: impl std::fmt::Display) -> PortError {
    PortError::Internal(format!("password hashing: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_only_the_right_password() -> Result<(), PortError> {
        let passwords = Argon2Passwords::new(2)?;
        let right = Password::parse("mật khẩu đúng").map_err(internal)?;
        let wrong = Password::parse("mật khẩu sai!").map_err(internal)?;
        let hash = passwords.hash(&right).await?;
        assert!(hash.expose().starts_with("$argon2id$"));
        assert!(passwords.verify(&right, Some(hash.clone())).await?);
        assert!(!passwords.verify(&wrong, Some(hash)).await?);
        assert!(!passwords.verify(&right, None).await?);
        Ok(())
    }
}
