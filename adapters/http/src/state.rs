//! What every handler can reach: the core's dependencies, the gateway and the settings.

use std::sync::Arc;
use std::time::Duration;

use chat_core::app::Deps;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::ws::Gateway;

/// Settings of the HTTP and WebSocket layer.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Browser origins allowed to open `/ws` and call the API; empty = any (no check).
    pub allowed_origins: Vec<String>,
    /// Largest WebSocket frame/message a client may send (SPEC: 64 KiB).
    pub max_ws_message_bytes: usize,
    /// Events queued for one socket before it counts as a slow consumer and is closed.
    pub outbound_queue: usize,
    /// How long a new socket may take to authenticate.
    pub auth_timeout: Duration,
    /// How often clients are told (in `ready`) to send a heartbeat.
    pub heartbeat_interval: Duration,
    /// How long heartbeats gather before their presence is renewed in one store call; keep
    /// it well inside the presence TTL, less the heartbeat interval.
    pub heartbeat_flush_interval: Duration,
    /// A socket that sends nothing (not even a heartbeat) for this long is closed; keep it
    /// well above the heartbeat interval.
    pub idle_timeout: Duration,
    /// A socket that cannot take one frame in this long is dropped.
    pub write_timeout: Duration,
    /// How long shutdown waits for sockets to flush and close.
    pub drain_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            allowed_origins: Vec::new(),
            max_ws_message_bytes: 64 * 1024,
            outbound_queue: 256,
            auth_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(30),
            heartbeat_flush_interval: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    /// Shared, not copied: every socket task holds an `AppState` for its whole life.
    pub deps: Arc<Deps>,
    pub gateway: Arc<Gateway>,
    pub heartbeats: Arc<crate::ws::Heartbeats>,
    pub config: Arc<HttpConfig>,
    pub metrics: PrometheusHandle,
}
