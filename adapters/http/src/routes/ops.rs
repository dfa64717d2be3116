//! Operations: liveness, readiness (each adapter checked), Prometheus metrics.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ComponentStatus {
    adapter: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    status: &'static str,
    components: BTreeMap<&'static str, ComponentStatus>,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Every adapter can serve: 503 with the failing ones otherwise.
#[utoipa::path(get, path = "/ready", tag = "operations", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let mut components = BTreeMap::new();
    for check in &state.deps.health {
        let result = check.check().await;
        let status = ComponentStatus {
            adapter: check.adapter(),
            ok: result.is_ok(),
            error: result.err().map(|e| e.to_string()),
        };
        components.insert(check.component(), status);
    }
    let all_ok = components.values().all(|c| c.ok);
    let status = if all_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Readiness { status: if all_ok { "ready" } else { "not_ready" }, components }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
