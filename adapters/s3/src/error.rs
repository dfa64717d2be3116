//! How S3's answers become port errors: transport failures, timeouts and 5xx (including
//! `503 SlowDown`) are `Unavailable`, retryable later; any other answer the adapter did not
//! expect is `Internal`. S3 says what went wrong in an XML body (`<Error><Code>...`), kept
//! in the message.

use chat_core::domain::error::PortError;
use reqwest::StatusCode;

use crate::xml;

/// A request that did not get an answer (connection refused, TLS, timeout).
pub(crate) fn transport(action: &str, error: &reqwest::Error) -> PortError {
    PortError::Unavailable(format!("object store {action}: {error}"))
}

/// An answer the caller has no meaning for: a 5xx is the store's trouble, anything else ours.
pub(crate) fn unexpected(action: &str, status: StatusCode, body: &str) -> PortError {
    let code = xml::error_code(body).unwrap_or_default();
    let message = format!("object store {action}: {status} {code}");
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        PortError::Unavailable(message)
    } else {
        PortError::Internal(message)
    }
}

/// An answer that cannot be read as S3 documents it.
pub(crate) fn malformed(action: &str, what: impl std::fmt::Display) -> PortError {
    PortError::Internal(format!("object store {action}: unreadable answer: {what}"))
}
