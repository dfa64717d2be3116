//! Friends, friend requests and blocks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::app::social::{self, FriendView, RequestResult};
use chat_core::domain::ids::{FriendRequestId, UserId};
use chat_core::domain::social::{Block, FriendRequest, RequestStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::responses::RateLimited;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct FriendList {
    friends: Vec<FriendView>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewFriendRequest {
    user_id: UserId,
    /// A short note (at most 200 characters).
    message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestResponse {
    request: FriendRequest,
    /// True when the other user had asked first: you are friends now.
    became_friends: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestListParams {
    /// `incoming` (default) or `outgoing`.
    #[param(inline)]
    direction: Option<Direction>,
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
}

#[derive(Serialize, ToSchema)]
pub struct RequestList {
    requests: Vec<FriendRequest>,
}

#[derive(Serialize, ToSchema)]
pub struct BlockList {
    blocks: Vec<Block>,
}

#[utoipa::path(get, path = "/api/v1/friends", tag = "social", responses((status = 200, body = FriendList)), security(("bearer" = [])))]
pub async fn friends(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<FriendList>, ApiError> {
    Ok(Json(FriendList { friends: social::friends(&state.deps, actor).await? }))
}

#[utoipa::path(delete, path = "/api/v1/friends/{user_id}", tag = "social", params(("user_id" = UserId, Path)),
    responses((status = 204, description = "no longer friends"), (status = 404, description = "`not_friends`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn unfriend(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(user): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    social::unfriend(&state.deps, actor, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/friend-requests", tag = "social", request_body = NewFriendRequest,
    responses((status = 201, body = RequestResponse), (status = 200, description = "they had asked first (friends now), or your request was already pending", body = RequestResponse),
        (status = 400, description = "`cannot_befriend_self` or `invalid_request_message`", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 409, description = "`already_friends`", body = ErrorBody),
        (status = 429, response = RateLimited)), security(("bearer" = [])))]
pub async fn send_request(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<NewFriendRequest>,
) -> Result<Response, ApiError> {
    Ok(match social::send_request(&state.deps, actor, body.user_id, body.message.as_deref()).await? {
        RequestResult::Sent(request) => {
            (StatusCode::CREATED, Json(RequestResponse { request, became_friends: false })).into_response()
        }
        RequestResult::BecameFriends(request) => {
            Json(RequestResponse { request, became_friends: true }).into_response()
        }
        RequestResult::AlreadyPending(request) => {
            Json(RequestResponse { request, became_friends: false }).into_response()
        }
    })
}

#[utoipa::path(get, path = "/api/v1/friend-requests", tag = "social", params(RequestListParams),
    responses((status = 200, body = RequestList)), security(("bearer" = [])))]
pub async fn list_requests(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<RequestListParams>,
) -> Result<Json<RequestList>, ApiError> {
    let incoming = params.direction.unwrap_or(Direction::Incoming) == Direction::Incoming;
    Ok(Json(RequestList { requests: social::pending_requests(&state.deps, actor, incoming).await? }))
}

async fn answer(
    state: &AppState,
    actor: chat_core::app::Actor,
    id: FriendRequestId,
    answer: RequestStatus,
) -> Result<Json<RequestResponse>, ApiError> {
    let request = social::answer_request(&state.deps, actor, id, answer).await?;
    let became_friends = request.status == RequestStatus::Accepted;
    Ok(Json(RequestResponse { request, became_friends }))
}

#[utoipa::path(post, path = "/api/v1/friend-requests/{id}/accept", tag = "social", params(("id" = FriendRequestId, Path)),
    responses((status = 200, body = RequestResponse),
        (status = 404, description = "`friend_request_not_found`", body = ErrorBody),
        (status = 409, description = "`request_not_pending`: already answered or cancelled", body = ErrorBody)), security(("bearer" = [])))]
pub async fn accept(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<FriendRequestId>,
) -> Result<Json<RequestResponse>, ApiError> {
    answer(&state, actor, id, RequestStatus::Accepted).await
}

#[utoipa::path(post, path = "/api/v1/friend-requests/{id}/decline", tag = "social", params(("id" = FriendRequestId, Path)),
    responses((status = 200, body = RequestResponse),
        (status = 404, description = "`friend_request_not_found`", body = ErrorBody),
        (status = 409, description = "`request_not_pending`: already answered or cancelled", body = ErrorBody)), security(("bearer" = [])))]
pub async fn decline(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<FriendRequestId>,
) -> Result<Json<RequestResponse>, ApiError> {
    answer(&state, actor, id, RequestStatus::Declined).await
}

#[utoipa::path(post, path = "/api/v1/friend-requests/{id}/cancel", tag = "social", params(("id" = FriendRequestId, Path)),
    responses((status = 200, body = RequestResponse),
        (status = 404, description = "`friend_request_not_found`", body = ErrorBody),
        (status = 409, description = "`request_not_pending`: already answered or cancelled", body = ErrorBody)), security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<FriendRequestId>,
) -> Result<Json<RequestResponse>, ApiError> {
    answer(&state, actor, id, RequestStatus::Cancelled).await
}

#[utoipa::path(get, path = "/api/v1/blocks", tag = "social", responses((status = 200, body = BlockList)), security(("bearer" = [])))]
pub async fn blocks(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<BlockList>, ApiError> {
    Ok(Json(BlockList { blocks: social::blocks(&state.deps, actor).await? }))
}

#[utoipa::path(put, path = "/api/v1/blocks/{user_id}", tag = "social", params(("user_id" = UserId, Path)),
    responses((status = 204, description = "blocked"),
        (status = 400, description = "`cannot_block_self`", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn block(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(user): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    social::block(&state.deps, actor, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/blocks/{user_id}", tag = "social", params(("user_id" = UserId, Path)),
    responses((status = 204, description = "unblocked"),
        (status = 404, description = "`user_not_found`: not blocked", body = ErrorBody)), security(("bearer" = [])))]
pub async fn unblock(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(user): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    social::unblock(&state.deps, actor, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
