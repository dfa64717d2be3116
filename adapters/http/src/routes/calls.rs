//! What a client fetches before a call: the ICE servers (STUN, and TURN with its credentials).
//! The call's signaling goes over the WebSocket (docs/protocol.md).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use chat_core::app::calls;
use chat_core::domain::turn::IceServers;

use crate::extract::Caller;
use crate::state::AppState;

/// The STUN and TURN servers for a call.
///
/// For `RTCPeerConnection`'s `iceServers` as they are. The TURN entry carries a username and
/// credential of the caller's own (the TURN REST scheme coturn checks with `use-auth-secret`),
/// valid for `ttl_secs`. The list is empty when the server has none configured.
#[utoipa::path(get, path = "/api/v1/calls/ice-servers", tag = "calls",
    responses((status = 200, body = IceServers)), security(("bearer" = [])))]
pub async fn ice_servers(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ([(header::HeaderName, &'static str); 1], Json<IceServers>) {
    // The credentials are the caller's own and short-lived: no cache may keep them.
    ([(header::CACHE_CONTROL, "private, no-store")], Json(calls::ice_servers(&state.deps, actor)))
}
