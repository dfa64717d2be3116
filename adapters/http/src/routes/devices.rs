//! Push registrations of the caller's devices.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::app::devices::{self, DeviceView, RegisterDevice};
use chat_core::domain::ids::DeviceId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct DeviceResponse {
    device: DeviceView,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceList {
    /// Oldest first.
    devices: Vec<DeviceView>,
}

#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = RegisterDevice,
    responses((status = 201, body = DeviceResponse),
        (status = 400, description = "`invalid_push_token`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(command): ApiJson<RegisterDevice>,
) -> Result<(StatusCode, Json<DeviceResponse>), ApiError> {
    let device = devices::register(&state.deps, actor, command).await?;
    Ok((StatusCode::CREATED, Json(DeviceResponse { device })))
}

#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    responses((status = 200, body = DeviceList)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<DeviceList>, ApiError> {
    Ok(Json(DeviceList { devices: devices::list(&state.deps, actor).await? }))
}

#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = DeviceId, Path)),
    responses((status = 204, description = "removed"),
        (status = 404, description = "`device_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<DeviceId>,
) -> Result<StatusCode, ApiError> {
    devices::remove(&state.deps, actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
