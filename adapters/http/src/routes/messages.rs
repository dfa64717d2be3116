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

use super::responses::RateLimited;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Messages just below this seq (older).
    #[param(format = "uint64")]
    before_seq: Option<u64>,
    /// Messages just above this seq (newer).
    #[param(format = "uint64")]
    after_seq: Option<u64>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
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
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// `me` (default) hides it from your history; `everyone` recalls it.
    #[serde(rename = "for")]
    #[param(inline)]
    scope: Option<DeleteScope>,
}

#[derive(Deserialize, ToSchema)]
pub struct ReactionRequest {
    emoji: String,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = ConversationId, Path), HistoryParams),
    responses((status = 200, body = MessagePage),
        (status = 400, description = "`invalid_range`: give `before_seq` or `after_seq`, not both; or a limit out of range", body = ErrorBody),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Json<MessagePage>, ApiError> {
    let messages = messages::history(&state.deps, actor, id, params.before_seq, params.after_seq, params.limit).await?;
    Ok(Json(MessagePage { messages }))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages", params(("id" = ConversationId, Path)), request_body = SendMessage,
    responses((status = 201, body = MessageResponse), (status = 200, description = "a retry: the original message", body = MessageResponse),
        (status = 400, description = "`empty_message`, `message_too_long`, `reply_not_found`, `client_msg_id_reused`, ...", body = ErrorBody),
        (status = 403, description = "`blocked` (either of you blocked the other) or `not_allowed_to_message`", body = ErrorBody),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
        (status = 429, response = RateLimited)), security(("bearer" = [])))]
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
    responses((status = 200, body = MessageResponse),
        (status = 400, description = "`empty_message`, `message_too_long`, `not_editable` (not a text message), ...", body = ErrorBody),
        (status = 403, description = "`not_sender`, `edit_window_closed`, `blocked` or `not_allowed_to_message`", body = ErrorBody),
        (status = 404, description = "`message_not_found`", body = ErrorBody),
        (status = 410, description = "`message_recalled`", body = ErrorBody)), security(("bearer" = [])))]
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
        (status = 400, description = "`not_editable`: only text messages can be recalled", body = ErrorBody),
        (status = 403, description = "`not_sender` or `edit_window_closed`", body = ErrorBody),
        (status = 404, description = "`message_not_found`", body = ErrorBody),
        (status = 410, description = "`message_recalled`: already recalled", body = ErrorBody)), security(("bearer" = [])))]
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
    responses((status = 200, body = MessageResponse),
        (status = 400, description = "`invalid_emoji`", body = ErrorBody),
        (status = 403, description = "`blocked` or `not_allowed_to_message`", body = ErrorBody),
        (status = 404, description = "`message_not_found`", body = ErrorBody),
        (status = 410, description = "`message_recalled`", body = ErrorBody)), security(("bearer" = [])))]
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
    responses((status = 200, body = MessageResponse),
        (status = 403, description = "`blocked` or `not_allowed_to_message`", body = ErrorBody),
        (status = 404, description = "`message_not_found`", body = ErrorBody),
        (status = 410, description = "`message_recalled`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn unreact(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MessageId>,
) -> Result<Json<MessageResponse>, ApiError> {
    let message = messages::react(&state.deps, actor, id, None).await?;
    Ok(Json(MessageResponse { message }))
}
