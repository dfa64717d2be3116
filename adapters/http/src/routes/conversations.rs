//! `/api/v1/conversations/*`: create, list, details, rename, members, mute, pin, read.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::app::{conversations, receipts};
use chat_core::domain::conversation::{ConversationDetails, ConversationPage, Mute};
use chat_core::domain::event::ReceiptKind;
use chat_core::domain::ids::{ConversationId, MediaId, UserId};
use chat_core::domain::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, OptionalJson};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CreateConversation {
    Direct {
        user_id: UserId,
    },
    Group {
        title: String,
        #[serde(default)]
        member_ids: Vec<UserId>,
    },
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1..=100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// What to change about a group: its title, its photo, or both.
#[derive(Deserialize, ToSchema)]
pub struct GroupPatch {
    /// A new title.
    title: Option<String>,
    /// A new photo: an image of yours that finished uploading; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<MediaId>, nullable)]
    avatar_media_id: Option<Option<MediaId>>,
}

/// A field that is present, as `Some` (null included), apart from an absent one (`None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<MediaId>>, D::Error> {
    Option::<MediaId>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, ToSchema)]
pub struct AddMembersRequest {
    user_ids: Vec<UserId>,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct MuteRequest {
    /// Muted until then; absent or null mutes until unmuted.
    until: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ReadMark {
    /// Any seq is accepted; the stored mark never goes down, nor past the last message.
    #[schema(format = "uint64")]
    seq: u64,
}

#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", request_body = CreateConversation,
    responses((status = 201, body = ConversationDetails), (status = 200, description = "the existing direct conversation", body = ConversationDetails),
        (status = 400, description = "`cannot_chat_with_self`, `invalid_title`, ...", body = ErrorBody),
        (status = 403, description = "`not_allowed_to_message` (direct) or `not_allowed_to_add` (group): the user's privacy settings refuse you", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 409, description = "`group_full`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(request): ApiJson<CreateConversation>,
) -> Result<Response, ApiError> {
    let (details, created) = match request {
        CreateConversation::Direct { user_id } => conversations::open_direct(&state.deps, actor, user_id).await?,
        CreateConversation::Group { title, member_ids } => {
            (conversations::create_group(&state.deps, actor, &title, &member_ids).await?, true)
        }
    };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(details)).into_response())
}

#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ListParams),
    responses((status = 200, body = ConversationPage)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ConversationPage>, ApiError> {
    Ok(Json(conversations::list(&state.deps, actor, params.cursor.as_deref(), params.limit).await?))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = ConversationId, Path)),
    responses((status = 200, body = ConversationDetails), (status = 404, description = "`conversation_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn details(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationDetails>, ApiError> {
    Ok(Json(conversations::details(&state.deps, actor, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = ConversationId, Path)), request_body = GroupPatch,
    responses((status = 200, body = ConversationDetails),
        (status = 400, description = "`invalid_title`, `invalid_avatar` (not an image of yours that finished uploading), `not_a_group`, or `empty_patch`", body = ErrorBody),
        (status = 403, description = "`not_permitted`: your role does not allow it", body = ErrorBody),
        (status = 404, description = "`conversation_not_found`, or `media_not_found` for the photo", body = ErrorBody)), security(("bearer" = [])))]
pub async fn rename(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(patch): ApiJson<GroupPatch>,
) -> Result<Json<ConversationDetails>, ApiError> {
    if patch.title.is_none() && patch.avatar_media_id.is_none() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "empty_patch", "give a title, an avatar_media_id, or both"));
    }
    let mut details = None;
    if let Some(title) = &patch.title {
        details = Some(conversations::rename(&state.deps, actor, id, title).await?);
    }
    if let Some(avatar) = patch.avatar_media_id {
        details = Some(conversations::set_avatar(&state.deps, actor, id, avatar).await?);
    }
    details.map(Json).ok_or_else(ApiError::not_found)
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/members", tag = "conversations", params(("id" = ConversationId, Path)), request_body = AddMembersRequest,
    responses((status = 200, body = ConversationDetails),
        (status = 400, description = "`not_a_group`, ...", body = ErrorBody),
        (status = 403, description = "`not_permitted` or `not_allowed_to_add`", body = ErrorBody),
        (status = 404, description = "`conversation_not_found` or `user_not_found`", body = ErrorBody),
        (status = 409, description = "`already_member` or `group_full`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_members(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(request): ApiJson<AddMembersRequest>,
) -> Result<Json<ConversationDetails>, ApiError> {
    Ok(Json(conversations::add_members(&state.deps, actor, id, &request.user_ids).await?))
}

/// Removes a member; removing yourself leaves the group.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members/{user_id}", tag = "conversations",
    params(("id" = ConversationId, Path), ("user_id" = UserId, Path)),
    responses((status = 200, body = ConversationDetails), (status = 204, description = "you left"),
        (status = 400, description = "`not_a_group`", body = ErrorBody),
        (status = 403, description = "`not_permitted`", body = ErrorBody),
        (status = 404, description = "`conversation_not_found` or `user_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath((id, user_id)): ApiPath<(ConversationId, UserId)>,
) -> Result<Response, ApiError> {
    Ok(match conversations::remove_member(&state.deps, actor, id, user_id).await? {
        Some(details) => Json(details).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[utoipa::path(put, path = "/api/v1/conversations/{id}/mute", tag = "conversations", params(("id" = ConversationId, Path)), request_body(content = Option<MuteRequest>, description = "optional"),
    responses((status = 200, body = ConversationDetails),
        (status = 400, description = "`invalid_mute`: the end is not in the future", body = ErrorBody),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn mute(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
    OptionalJson(body): OptionalJson<MuteRequest>,
) -> Result<Json<ConversationDetails>, ApiError> {
    let until = body.and_then(|request| request.until);
    let mute = until.map_or(Mute::Forever, Mute::Until);
    Ok(Json(conversations::set_mute(&state.deps, actor, id, Some(mute)).await?))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}/mute", tag = "conversations", params(("id" = ConversationId, Path)),
    responses((status = 200, body = ConversationDetails), (status = 404, description = "`conversation_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn unmute(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationDetails>, ApiError> {
    Ok(Json(conversations::set_mute(&state.deps, actor, id, None).await?))
}

#[utoipa::path(put, path = "/api/v1/conversations/{id}/pin", tag = "conversations", params(("id" = ConversationId, Path)),
    responses((status = 200, body = ConversationDetails),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
        (status = 409, description = "`too_many_pinned`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn pin(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationDetails>, ApiError> {
    Ok(Json(conversations::set_pinned(&state.deps, actor, id, true).await?))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}/pin", tag = "conversations", params(("id" = ConversationId, Path)),
    responses((status = 200, body = ConversationDetails), (status = 404, description = "`conversation_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn unpin(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationDetails>, ApiError> {
    Ok(Json(conversations::set_pinned(&state.deps, actor, id, false).await?))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations", params(("id" = ConversationId, Path)), request_body = ReadMark,
    responses((status = 200, description = "the read mark as stored", body = ReadMark),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(mark): ApiJson<ReadMark>,
) -> Result<Json<ReadMark>, ApiError> {
    let seq = receipts::mark(&state.deps, actor, id, ReceiptKind::Read, mark.seq).await?;
    Ok(Json(ReadMark { seq }))
}
