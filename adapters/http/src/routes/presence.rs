//! `GET /api/v1/presence`: online status and last seen of users the caller may see.

use axum::Json;
use axum::extract::State;
use chat_core::app::presence;
use chat_core::domain::error::Invalid;
use chat_core::domain::ids::UserId;
use chat_core::ports::PresenceStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceParams {
    /// Comma-separated user ids (at most 200).
    user_ids: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserPresence {
    user_id: UserId,
    #[serde(flatten)]
    status: PresenceStatus,
}

#[derive(Serialize, ToSchema)]
pub struct PresenceList {
    /// Only users the caller may see; the others are left out.
    presence: Vec<UserPresence>,
}

#[utoipa::path(get, path = "/api/v1/presence", tag = "presence", params(PresenceParams),
    responses((status = 200, body = PresenceList),
        (status = 400, description = "`invalid_user_id` or `too_many_users`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn presence(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<PresenceParams>,
) -> Result<Json<PresenceList>, ApiError> {
    let users = params
        .user_ids
        .split(',')
        .filter(|id| !id.trim().is_empty())
        .map(|id| id.trim().parse::<UserId>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            chat_core::app::errors::ConversationError::from(Invalid::new("invalid_user_id", "user_ids must be UUIDs"))
        })?;
    let statuses = presence::status(&state.deps, actor, &users).await?;
    let presence = statuses.into_iter().map(|(user_id, status)| UserPresence { user_id, status }).collect();
    Ok(Json(PresenceList { presence }))
}
