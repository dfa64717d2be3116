//! Message search.

use axum::Json;
use axum::extract::State;
use chat_core::app::search::{self, MessageSearchPage, SearchFilters};
use chat_core::domain::Timestamp;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::domain::message::MessageKind;
use serde::Deserialize;
use utoipa::IntoParams;

use super::responses::RateLimited;
use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageSearchParams {
    /// 1 to 100 characters. Case and Vietnamese marks are ignored ("nguyen" finds "Nguyễn",
    /// "duc" finds "Đức"); the last word also matches the start of a word; 3 characters or
    /// more are also found inside words ("12345" finds "DH12345"). Everything but letters and
    /// digits separates words: there are no operators.
    q: String,
    /// Only this conversation (you must be a member).
    conversation_id: Option<ConversationId>,
    /// Only messages of this user.
    sender_id: Option<UserId>,
    /// Only messages of this kind (`TEXT`, `IMAGE`, `VIDEO`, `AUDIO`, `FILE`; captions are
    /// searched).
    #[param(inline)]
    kind: Option<MessageKind>,
    /// Only messages sent before this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    before: Option<Timestamp>,
    /// Only messages sent after this moment (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    after: Option<Timestamp>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1..=50, default 20.
    #[param(minimum = 1, maximum = 50)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/search/messages", tag = "search", params(MessageSearchParams),
    responses((status = 200, body = MessageSearchPage),
        (status = 400, description = "`invalid_query` (no letter or digit), `query_too_long`, `invalid_characters`, `invalid_cursor`, `invalid_range` or `invalid_limit`", body = ErrorBody),
        (status = 404, description = "`conversation_not_found`: not a conversation of yours", body = ErrorBody),
        (status = 429, response = RateLimited)), security(("bearer" = [])))]
pub async fn search_messages(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<MessageSearchParams>,
) -> Result<Json<MessageSearchPage>, ApiError> {
    let filters = SearchFilters {
        conversation: params.conversation_id,
        sender: params.sender_id,
        kind: params.kind,
        before: params.before,
        after: params.after,
    };
    let page =
        search::search_messages(&state.deps, actor, &params.q, filters, params.cursor.as_deref(), params.limit).await?;
    Ok(Json(page))
}
