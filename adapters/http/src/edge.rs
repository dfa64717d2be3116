//! What every request and response passes through at the edge: a tracing span per request,
//! the header-size limit, the framework's own refusals put in our error envelope, and the
//! headers every response (or every token response) carries.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::error::ApiError;

/// The most header fields a request may carry.
pub const MAX_HEADER_COUNT: usize = 100;

/// The most bytes of request target and header fields a request may carry (a bearer token is
/// a few hundred). nginx allows 32 KiB by default, Node.js 16 KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The routes whose responses carry tokens: no cache (a proxy's or the browser's) may keep them.
pub const TOKEN_ROUTES: [&str; 3] = ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh"];

/// Adds the edge layers to the router; the first listed here is the innermost.
pub fn layers(router: Router) -> Router {
    router
        .layer(middleware::from_fn(no_store_tokens))
        .layer(middleware::from_fn(envelope_bare_errors))
        .layer(middleware::from_fn(limit_headers))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(record_response)
                // A failed request is logged once, where its error is answered (`ApiError`).
                .on_failure(()),
        )
}

/// One span per request with its method and route template: never the raw URI, whose query
/// may hold a token (`/ws?token=...`). Status and latency are filled in at the response.
fn request_span(request: &Request) -> Span {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

fn record_response(response: &Response, latency: Duration, span: &Span) {
    span.record("status", response.status().as_u16());
    span.record("latency_ms", u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
    tracing::debug!(status = response.status().as_u16(), latency_ms = latency.as_millis(), "response");
}

/// Refuses a request with too many or too large header fields, in the envelope (hyper's own
/// caps are above these; see `server`).
async fn limit_headers(request: Request, next: Next) -> Response {
    let headers = request.headers();
    // The request target as sent (path and query); no copy of it is made.
    let target = request.uri().path_and_query().map_or(0, |target| target.as_str().len());
    let bytes = target + headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum::<usize>();
    if headers.len() > MAX_HEADER_COUNT || bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request's header fields are too many or too large",
        )
        .into_response();
    }
    next.run(request).await
}

/// `Cache-Control: no-store` on the responses of the token routes.
async fn no_store_tokens(request: Request, next: Next) -> Response {
    let is_token_route =
        request.extensions().get::<MatchedPath>().is_some_and(|route| TOKEN_ROUTES.contains(&route.as_str()));
    let mut response = next.run(request).await;
    if is_token_route {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Puts an error the framework answered by itself (a 405 with no body, a WebSocket upgrade
/// refused in plain text, ...) in the `{"error": {"code", "message"}}` envelope, keeping its
/// status and headers (`Allow` on a 405). Our own errors are JSON already and pass untouched.
async fn envelope_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The framework's texts are one line ("Connection header did not include 'upgrade'").
    let text = axum::body::to_bytes(body, 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("the request was refused").to_lowercase()
    } else {
        text.trim().to_owned()
    };
    let mut enveloped = ApiError::new(status, code_of(status), message).into_response();
    for (name, value) in &parts.headers {
        if !is_body_header(name) {
            enveloped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    enveloped
}

fn is_body_header(name: &HeaderName) -> bool {
    name == header::CONTENT_TYPE || name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING
}

/// The stable code of a status the framework answers by itself.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UPGRADE_REQUIRED => "upgrade_required",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.is_server_error() => "internal",
        _ => "bad_request",
    }
}
