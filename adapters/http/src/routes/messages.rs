//! Messages: history and send under a conversation; edit, delete/recall and reactions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::app::messages::{self, DeleteScope, SendMessage};
use chat_core::domain::ids::{ConversationId, MessageId};
use chat_core::domain::message::Message;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub struct HistoryParams {
    /// Messages just below this seq (older).
    before_seq: Option<u64>,
    /// Messages just above this seq (newer).
    after_seq: Option<u64>,
    /// 1..=200, default 50.
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    /// Oldest first.
    messages: Vec<Message>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    message: Message,
}

#[derive(Deserialize, ToSchema)]
pub struct EditRequest {
    body: String,
}

#[derive(Deserialize, IntoParams)]
pub struct DeleteParams {
    /// `me` (default) hides it from your history; `everyone` recalls it.
    #[serde(rename = "for")]
    scope: Option<DeleteScope>,
}

#[derive(Deserialize, ToSchema)]
pub struct ReactionRequest {
    emoji: String,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = ConversationId, Path), HistoryParams),
    responses((status = 200, body = MessagePage), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Json<MessagePage>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    let messages = messages::history(&state.deps, actor, id, params.before_seq, params.after_seq, limit).await?;
    Ok(Json(MessagePage { messages }))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = ConversationId, Path)), request_body = SendMessage,
    responses((status = 201, body = MessageResponse), (status = 200, description = "a retry: the original message", body = MessageResponse),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)), security(("bearer" = [])))]
pub async fn send(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(command): ApiJson<SendMessage>,
) -> Result<Response, ApiError> {
    let sent = messages::send(&state.deps, actor, id, command).await?;
    let status = if sent.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(MessageResponse { message: sent.message })).into_response())
}

#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = MessageId, Path)), request_body = EditRequest,
    responses((status = 200, body = MessageResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)), security(("bearer" = [])))]
pub async fn edit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MessageId>,
    ApiJson(request): ApiJson<EditRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    let message = messages::edit(&state.deps, actor, id, &request.body).await?;
    Ok(Json(MessageResponse { message }))
}

#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = MessageId, Path), DeleteParams),
    responses((status = 204, description = "deleted for you"), (status = 200, description = "recalled: the tombstone", body = MessageResponse),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MessageId>,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> Result<Response, ApiError> {
    let scope = params.scope.unwrap_or(DeleteScope::Me);
    Ok(match messages::delete(&state.deps, actor, id, scope).await? {
        Some(message) => Json(MessageResponse { message }).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[utoipa::path(put, path = "/api/v1/messages/{id}/reactions", tag = "messages", params(("id" = MessageId, Path)), request_body = ReactionRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn react(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MessageId>,
    ApiJson(request): ApiJson<ReactionRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    let message = messages::react(&state.deps, actor, id, Some(&request.emoji)).await?;
    Ok(Json(MessageResponse { message }))
}

#[utoipa::path(delete, path = "/api/v1/messages/{id}/reactions", tag = "messages", params(("id" = MessageId, Path)),
    responses((status = 200, body = MessageResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn unreact(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MessageId>,
) -> Result<Json<MessageResponse>, ApiError> {
    let message = messages::react(&state.deps, actor, id, None).await?;
    Ok(Json(MessageResponse { message }))
}
