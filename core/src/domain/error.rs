//! The shape every use-case error shares, so that one mapping (in the HTTP adapter) turns any
//! of them into a status code or a WebSocket error frame.

use thiserror::Error;

/// What kind of failure an error is; adapters map this to transport status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Gone,
    TooLarge,
    RateLimited,
    Unavailable,
    Internal,
}

/// Implemented by every use-case error: a stable snake_case code clients may branch on.
pub trait DomainError: std::error::Error {
    fn code(&self) -> &'static str;
    fn kind(&self) -> ErrorKind;
    /// For rate-limited errors: how long the caller should wait.
    fn retry_after_ms(&self) -> Option<u64> {
        None
    }
}

/// A failure of a port's dependency (a store, the event bus, the token issuer, the password
/// hasher, ...): what went wrong outside the rules. It never names the adapter behind the port.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PortError {
    /// The dependency is down or overloaded; the same call may succeed later.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data: not the caller's fault and not worth retrying.
    #[error("dependency failure: {0}")]
    Internal(String),
}

/// A validation failure of one field, with the stable code the API returns.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid { code, message: message.into() }
    }
}
