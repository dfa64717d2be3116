//! The two routes that are not JSON API calls, documented like the rest so that every route
//! the server mounts is in the OpenAPI document: `GET /openapi.json` (the document itself) and
//! `GET /ws` (the upgrade to the WebSocket gateway, whose protocol is docs/protocol.md).

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use utoipa::openapi::OpenApi;

use crate::error::{ApiQuery, ErrorBody};
use crate::state::AppState;
use crate::ws::{self, UpgradeParams};

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "this document (OpenAPI 3.1)", content_type = "application/json")))]
pub async fn openapi_document(Extension(document): Extension<Arc<OpenApi>>) -> axum::Json<OpenApi> {
    axum::Json(document.as_ref().clone())
}

/// Upgrades to the WebSocket gateway (docs/protocol.md). The access token may come as a bearer
/// header, as `?token=`, or in the first frame.
#[utoipa::path(get, path = "/ws", tag = "gateway",
    params(("token" = Option<String>, Query, description = "the access token, for clients that cannot set headers")),
    responses(
        (status = 101, description = "switched to the WebSocket protocol"),
        (status = 400, description = "`bad_request`: not a WebSocket upgrade (the message says what is missing), or `invalid_query`", body = ErrorBody),
        (status = 401, description = "the token given at the upgrade is invalid, expired or revoked", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`: the browser origin is not configured", body = ErrorBody),
        (status = 426, description = "`upgrade_required`: the connection cannot be upgraded", body = ErrorBody),
        (status = 503, description = "`unavailable`: checking the token needs a store that is unreachable", body = ErrorBody)))]
pub async fn socket(
    state: State<AppState>,
    params: ApiQuery<UpgradeParams>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    ws::upgrade(state, params, headers, upgrade).await
}
