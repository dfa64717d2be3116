//! The one mapping from use-case errors to HTTP responses, and extractors whose rejections
//! use the same `{"error": {"code", "message"}}` shape.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::app::errors::{
    AuthError, ConversationError, DeviceError, MediaError, MessageError, ProfileError, SearchError, SocialError,
};
use chat_core::domain::error::{DomainError, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

/// An error as the API returns it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_ms: Option<u64>,
    /// What went wrong behind an `unavailable` or `internal` answer, for the log only: it is
    /// logged once, when the response is made, inside the request's span.
    pub detail: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code clients may branch on.
    pub code: String,
    /// Human-readable explanation (may change).
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after_ms: None, detail: None }
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the token is missing, invalid or expired")
    }
}

/// The HTTP status for each kind of domain failure.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Validation => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The response for a use-case error. Nothing is logged here: the detail is kept and
    /// logged when the response is made, so an error converted once is logged once.
    pub fn from_domain(error: &(impl DomainError + ?Sized)) -> Self {
        ApiError {
            status: status_of(error.kind()),
            code: error.code(),
            message: error.to_string(),
            retry_after_ms: error.retry_after_ms(),
            detail: failure_detail(error),
        }
    }
}

/// The detail of a failure that is not the caller's doing (a dependency down, a bug): the
/// error's source (a port's own words, see `chat_core::app::errors::Detail`), or the error.
pub(crate) fn failure_detail(error: &(impl DomainError + ?Sized)) -> Option<String> {
    match error.kind() {
        ErrorKind::Unavailable | ErrorKind::Internal => {
            Some(error.source().map_or_else(|| error.to_string(), ToString::to_string))
        }
        _ => None,
    }
}

/// Logs a failure the client sees only by its code. Called once per failure, where it is
/// answered (the HTTP response, the WebSocket error frame), so the event carries that
/// request's or socket's span. An outage is a warning; anything else is an error.
pub(crate) fn log_failure(kind: ErrorKind, code: &str, detail: &str) {
    if kind == ErrorKind::Unavailable {
        tracing::warn!(code, detail, "a dependency is unavailable");
    } else {
        tracing::error!(code, detail, "internal error");
    }
}

macro_rules! from_domain_errors {
    ($($error:ty),*) => {$(
        impl From<$error> for ApiError {
            fn from(error: $error) -> Self {
                ApiError::from_domain(&error)
            }
        }
    )*};
}

from_domain_errors!(
    AuthError,
    ProfileError,
    ConversationError,
    MessageError,
    SocialError,
    MediaError,
    SearchError,
    DeviceError
);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(detail) = &self.detail {
            let kind = if self.status == StatusCode::SERVICE_UNAVAILABLE {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Internal
            };
            log_failure(kind, self.code, detail);
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                retry_after_ms: self.retry_after_ms,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(ms) = self.retry_after_ms {
            let seconds = ms.div_ceil(1000).max(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ),
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", rejection.body_text())
            }
            JsonRejection::JsonDataError(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", rejection.body_text())
            }
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large")
            }
            _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    /// A malformed id names nothing the caller may see.
    fn from(_: PathRejection) -> Self {
        ApiError::not_found()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rejection.body_text())
    }
}

/// A JSON object body (`axum::Json`'s rules) with our error shape on rejection. Only an object
/// is taken: serde would otherwise read a struct from an array of its fields in order
/// (`[null, null]`), a shape the API document does not have and clients must not rely on.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(request.headers()) {
            return Err(ApiError::from(JsonRejection::from(
                axum::extract::rejection::MissingJsonContentType::default(),
            )));
        }
        let bytes = read_body(request, state).await?;
        parse_object(&bytes).map(ApiJson)
    }
}

/// The whole body, within the body limit.
async fn read_body<S: Send + Sync>(request: axum::extract::Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", rejection.body_text())
        }
    })
}

/// A JSON object read into `T`: anything else (an array, a number) is refused first.
fn parse_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", "the body must be a JSON object"));
    }
    let axum::Json(value) = axum::Json::<T>::from_bytes(bytes).map_err(ApiError::from)?;
    Ok(value)
}

/// `application/json`, or a `+json` type, as `axum::Json` accepts.
fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(content_type) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// An optional JSON body: an empty body is `None`, anything else must be a JSON object.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        parse_object(&bytes).map(|value| OptionalJson(Some(value)))
    }
}

/// `axum::extract::Path` with our error shape on rejection.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` with our error shape on rejection.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

use axum::extract::FromRequestParts;
