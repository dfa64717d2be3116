//! `chat-http`: the HTTP API (`/api/v1`), the WebSocket gateway (`/ws`), auth extraction,
//! the mapping of domain errors to responses, operations endpoints and the OpenAPI document.
//!
//! [`serve`] runs the whole server on a listener the caller bound, so tests bind port 0.

mod edge;
mod error;
mod extract;
#[cfg(test)]
mod failure_log_tests;
mod metrics;
mod routes;
mod server;
mod state;
mod ws;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use chat_core::app::Deps;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use error::ApiError;
pub use metrics::prometheus;
pub use state::{AppState, HttpConfig};
pub use ws::{Gateway, close_code};

/// The largest JSON body the API accepts (a 4,000-character message is ~16 KiB of UTF-8).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Builds the application: subscribes the gateway to the event bus and assembles the routes.
pub fn app(deps: Deps, config: HttpConfig) -> (Router, AppState) {
    let gateway = Arc::new(Gateway::new(config.outbound_queue));
    deps.events.subscribe(gateway.clone());
    let deps = Arc::new(deps);
    let heartbeats = ws::Heartbeats::start(deps.clone(), config.heartbeat_flush_interval, gateway.shutdown.clone());
    let state = AppState { deps, gateway, heartbeats, config: Arc::new(config), metrics: metrics::prometheus() };
    // Every route is mounted there, with its OpenAPI description (`/ws` and `/openapi.json` too).
    let router = routes::api_routes()
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors(&state.config))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state.clone());
    (edge::layers(router), state)
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish,
/// flushes every socket's queue and closes it with 1001, waiting at most the drain timeout.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gateway = state.gateway.clone();
    // One token stops both the accept loop and the sockets.
    let stop = gateway.shutdown.clone();
    let signal = async move {
        shutdown.await;
        stop.cancel();
    };
    tokio::join!(server::accept_until(listener, router, gateway.shutdown.clone()), signal);
    gateway.tasks.close();
    if tokio::time::timeout(state.config.drain_timeout, gateway.tasks.wait()).await.is_err() {
        tracing::warn!(open = gateway.connection_count(), "sockets still open after the drain timeout");
    }
    Ok(())
}

fn cors(config: &HttpConfig) -> CorsLayer {
    let origins: Vec<HeaderValue> =
        config.allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let allow = if origins.is_empty() { AllowOrigin::any() } else { AllowOrigin::list(origins) };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}
