//! The real-time gateway at `GET /ws`.

mod connection;
mod frames;
mod heartbeats;
mod registry;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::app::auth;
use chat_core::domain::ids::ConnectionId;
use serde::Deserialize;

#[cfg(test)]
pub(crate) use connection::log_frame_failure;
pub use heartbeats::Heartbeats;
pub use registry::{Gateway, close_code};

use crate::error::{ApiError, ApiQuery};
use crate::extract::bearer_token;
use crate::state::{AppState, HttpConfig};

#[derive(Deserialize)]
pub struct UpgradeParams {
    /// The access token, for clients that cannot set headers on the upgrade.
    token: Option<String>,
}

pub async fn upgrade(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<UpgradeParams>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&state.config, &headers) {
        return ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", "this origin may not open a socket")
            .into_response();
    }
    let token = bearer_token(&headers).map(str::to_owned).or(params.token);
    let authenticated = match token {
        Some(token) => match auth::authenticate(&state.deps, &token).await {
            Ok(actor) => Some(actor),
            Err(error) => return ApiError::from_domain(&error).into_response(),
        },
        None => None,
    };
    let limit = state.config.max_ws_message_bytes;
    let tasks = state.gateway.tasks.clone();
    let connection = ConnectionId(state.deps.ids.new_id());
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        // tungstenite reserves 128 KiB per socket for reads and writes by default, and the read
        // buffer keeps its size for the socket's life. Client frames are a few hundred bytes
        // (a heartbeat 40, a send of 100 Vietnamese characters about 300); a bigger one grows
        // the buffer as it needs. Small buffers let one process hold far more sockets.
        .read_buffer_size(512)
        // Frames queued together (`connection::write_queued`) go out in one write up to
        // this size; the buffer keeps the capacity it reached, so it stays small.
        .write_buffer_size(COALESCE_BYTES)
        .max_write_buffer_size(limit * 4)
        .on_upgrade(move |socket| tasks.track_future(connection::run(socket, state, authenticated, connection)))
}

/// How many bytes of queued frames a socket buffers before writing them out.
const COALESCE_BYTES: usize = 1024;

/// Browsers send `Origin`; when origins are configured, only those may connect. Clients
/// that send no Origin (native apps) are not browsers and are let through.
fn origin_allowed(config: &HttpConfig, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    config.allowed_origins.is_empty()
        || origin.to_str().is_ok_and(|origin| config.allowed_origins.iter().any(|allowed| allowed == origin))
}
