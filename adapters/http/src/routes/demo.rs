//! A small page for trying calls by hand: two browser tabs, two users, one call (issue #17's
//! "a newcomer can place a call"). Plain HTML and JavaScript built into the binary, so it needs
//! no build step and nothing beside the server. It is documented like every other route (the
//! router serves nothing undocumented) under the `demo` tag, and is not part of the API.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The page's script may come only from this server (its few style rules are inline); it talks
/// only to this server, over HTTP and the WebSocket (`connect-src 'self'` covers `ws:`/`wss:` to
/// the same host); the videos show camera streams (`blob:` and `mediastream:`).
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; \
    media-src 'self' blob: mediastream:; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The call demo page: log in as a user, call another one, talk, hang up.
#[utoipa::path(get, path = "/demo/call", tag = "demo",
    responses((status = 200, description = "the call demo page (HTML; see the README's Calls section)", content_type = "text/html")))]
pub async fn call_page() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        include_str!("../../static/call.html"),
    )
        .into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
    response
}

/// The demo page's script.
#[utoipa::path(get, path = "/demo/call.js", tag = "demo",
    responses((status = 200, description = "the call demo page's script", content_type = "text/javascript")))]
pub async fn call_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        include_str!("../../static/call.js"),
    )
        .into_response()
}
