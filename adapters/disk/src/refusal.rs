//! The blob endpoint's refusals, in the API's `{"error": {"code", "message"}}` shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::domain::error::PortError;

use crate::token::TokenRefusal;

/// A refused blob request: its status, stable code and words for the client.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    /// A refusal with this status, code and message.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { status, code, message: message.into() }
    }

    /// The store's own failure: logged here, told to the client without details.
    pub(crate) fn port(error: PortError) -> Refusal {
        match error {
            PortError::Unavailable(detail) => {
                tracing::warn!(%detail, "blob endpoint: a dependency is unavailable");
                Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "storage is unavailable, try again")
            }
            PortError::Internal(detail) => {
                tracing::error!(%detail, "blob endpoint failed");
                Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the file could not be stored or read")
            }
        }
    }

    /// A URL used for what it was not signed for (a download URL with PUT, say).
    pub(crate) fn wrong_use(what: &str) -> Refusal {
        Refusal::new(StatusCode::FORBIDDEN, "invalid_signature", format!("this URL is not signed for {what}"))
    }
}

impl From<TokenRefusal> for Refusal {
    fn from(refusal: TokenRefusal) -> Refusal {
        match refusal {
            TokenRefusal::InvalidSignature => {
                Refusal::new(StatusCode::FORBIDDEN, "invalid_signature", "the URL's signature is not valid")
            }
            TokenRefusal::Expired => {
                Refusal::new(StatusCode::FORBIDDEN, "url_expired", "the URL has expired; ask for a new one")
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}
