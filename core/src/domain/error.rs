//! The shape every use-case error shares, so that one mapping (in the HTTP adapter) turns any
//! of them into a status code or a WebSocket error frame.

use thiserror::Error;

/// What kind of failure an error is; adapters map this to transport status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input broke a rule (400).
    Validation,
    /// No valid credentials or token (401).
    Unauthorized,
    /// Known caller, not allowed (403).
    Forbidden,
    /// No such thing, or not visible to the caller (404).
    NotFound,
    /// Clashes with the current state (409).
    Conflict,
    /// It existed and was removed (410).
    Gone,
    /// The request is too large (413).
    TooLarge,
    /// The content is of a type that is not accepted, or not the type it claims (415).
    UnsupportedMediaType,
    /// Well-formed, but what it describes does not hold (422), e.g. an upload of another size.
    Unprocessable,
    /// Too many requests; retry later (429).
    RateLimited,
    /// A dependency is down; the same request may succeed later (503).
    Unavailable,
    /// A bug or corrupt data (500).
    Internal,
}

/// Implemented by every use-case error: a stable snake_case code clients may branch on.
pub trait DomainError: std::error::Error {
    /// The stable snake_case code, e.g. `username_taken`.
    fn code(&self) -> &'static str;
    /// What kind of failure it is, for the status code.
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
    /// The stable code, e.g. `invalid_username`.
    pub code: &'static str,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl Invalid {
    /// A failure with its code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid { code, message: message.into() }
    }
}
