//! `/api/v1/me`, `/api/v1/me/settings`, `/api/v1/users/{id}`.

use axum::Json;
use axum::extract::State;
use chat_core::app::profile::{self, ProfilePatch, SettingsPatch};
use chat_core::domain::account::{OwnProfile, PublicProfile, Settings};
use chat_core::domain::ids::UserId;

use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/me", tag = "profile", responses((status = 200, body = OwnProfile)), security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<OwnProfile>, ApiError> {
    Ok(Json(profile::me(&state.deps, actor).await?))
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "profile", request_body = ProfilePatch,
    responses((status = 200, body = OwnProfile),
        (status = 400, description = "a value is refused, e.g. `invalid_avatar`: the avatar is not an image of yours that finished uploading", body = ErrorBody),
        (status = 404, description = "`media_not_found`: the avatar names no media of yours", body = ErrorBody),
        (status = 409, description = "`phone_taken`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_me(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<Json<OwnProfile>, ApiError> {
    Ok(Json(profile::update_me(&state.deps, actor, patch).await?))
}

#[utoipa::path(get, path = "/api/v1/me/settings", tag = "profile", responses((status = 200, body = Settings)), security(("bearer" = [])))]
pub async fn settings(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<Settings>, ApiError> {
    Ok(Json(profile::settings(&state.deps, actor).await?))
}

#[utoipa::path(patch, path = "/api/v1/me/settings", tag = "profile", request_body = SettingsPatch,
    responses((status = 200, body = Settings)), security(("bearer" = [])))]
pub async fn update_settings(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(profile::update_settings(&state.deps, actor, patch).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "profile", params(("id" = UserId, Path)),
    responses((status = 200, body = PublicProfile),
        (status = 404, description = "`user_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<PublicProfile>, ApiError> {
    Ok(Json(profile::user_profile(&state.deps, actor, id).await?))
}
