//! Finding people: search, phone lookup, contact sync.

use axum::Json;
use axum::extract::State;
use chat_core::app::discovery::{self, ContactMatch};
use chat_core::domain::account::PublicProfile;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::responses::RateLimited;
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// At least 2 characters; case and Vietnamese marks are ignored.
    q: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<PublicProfile>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PhoneParams {
    /// E.164 or Vietnamese local form (0912 345 678).
    phone: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ContactSyncRequest {
    /// At most 1,000 numbers, E.164 or Vietnamese local form.
    phones: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ContactSyncResponse {
    matches: Vec<ContactMatch>,
}

#[utoipa::path(get, path = "/api/v1/users/search", tag = "discovery", params(SearchParams),
    responses((status = 200, body = UserList),
        (status = 400, description = "`query_too_short` or `query_too_long`", body = ErrorBody),
        (status = 429, response = RateLimited)), security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList { users: discovery::search(&state.deps, actor, &params.q).await? }))
}

#[utoipa::path(get, path = "/api/v1/users/by-phone", tag = "discovery", params(PhoneParams),
    responses((status = 200, body = PublicProfile),
        (status = 400, description = "`invalid_phone`", body = ErrorBody),
        (status = 404, description = "`user_not_found`: nobody you may find has this number", body = ErrorBody),
        (status = 429, response = RateLimited)), security(("bearer" = [])))]
pub async fn by_phone(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<PhoneParams>,
) -> Result<Json<PublicProfile>, ApiError> {
    Ok(Json(discovery::find_by_phone(&state.deps, actor, &params.phone).await?))
}

#[utoipa::path(post, path = "/api/v1/contacts/sync", tag = "discovery", request_body = ContactSyncRequest,
    responses((status = 200, body = ContactSyncResponse),
        (status = 400, description = "`too_many_phones`", body = ErrorBody),
        (status = 429, response = RateLimited)), security(("bearer" = [])))]
pub async fn contact_sync(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<ContactSyncRequest>,
) -> Result<Json<ContactSyncResponse>, ApiError> {
    Ok(Json(ContactSyncResponse { matches: discovery::contact_sync(&state.deps, actor, &body.phones).await? }))
}
