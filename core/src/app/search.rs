//! Message search: the caller's conversations only, without what blocks, recalls and
//! "delete for me" hide, ranked by relevance and recency, one page at a time.

use serde::Serialize;

use crate::domain::Timestamp;
use crate::domain::ids::{ConversationId, UserId};
use crate::domain::message::{Message, MessageKind};
use crate::domain::page::{PageBounds, PageLimit};
use crate::domain::rate_limit::RateLimitKey;
use crate::domain::search::{SearchCursor, SearchPosition, SearchText, snippet};
use crate::ports::{MessageSearch, SearchScope};

use super::access::{WhenUnavailable, membership, rate_check};
use super::errors::SearchError;
use super::media::with_attachments;
use super::{Actor, Deps};

/// Results per page: 20 unless asked, at most 50.
pub const SEARCH_PAGE: PageBounds = PageBounds { default: 20, max: 50 };

/// What narrows a search besides its text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchFilters {
    /// Only this conversation (the caller must be a member).
    pub conversation: Option<ConversationId>,
    /// Only messages of this sender.
    pub sender: Option<UserId>,
    /// Only messages of this kind (SYSTEM messages are never found).
    pub kind: Option<MessageKind>,
    /// Only messages sent before this moment.
    pub before: Option<Timestamp>,
    /// Only messages sent after this moment.
    pub after: Option<Timestamp>,
}

/// One message found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageResult {
    /// The message, as history shows it.
    pub message: Message,
    /// Its conversation (also `message.conversation_id`), for grouping results.
    pub conversation_id: ConversationId,
    /// An extract around the first match: HTML-escaped text in which each matched word is
    /// wrapped in `<mark>` and `</mark>` (the only tags), `…` where text was cut.
    pub snippet: String,
    /// Relevance and recency in one number, higher first; comparable within one search.
    pub rank: i64,
}

/// One page of results; pass `next_cursor` back as `cursor` for the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageSearchPage {
    /// Best first.
    pub results: Vec<MessageResult>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// Messages of the caller's conversations matching `query` (see `domain::search`): case and
/// Vietnamese marks ignored, the last word also a prefix, and the query inside words when it
/// has 3 characters or more. Never SYSTEM messages, recalled ones, ones the caller deleted
/// for themselves, or ones of a user blocked either way.
pub async fn search_messages(
    deps: &Deps,
    actor: Actor,
    query: &str,
    filters: SearchFilters,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<MessageSearchPage, SearchError> {
    let text = SearchText::parse(query)?;
    let limit = PageLimit::parse(limit, SEARCH_PAGE)?.get();
    let cursor = cursor.map(SearchCursor::parse).transpose()?;
    if let (Some(before), Some(after)) = (filters.before, filters.after)
        && before <= after
    {
        return Err(crate::domain::error::Invalid::new("invalid_range", "before must be later than after").into());
    }
    rate_check(deps, &RateLimitKey::message_searches(actor.user_id), deps.limits.searches, WhenUnavailable::Refuse)
        .await?
        .map_err(|retry_after_ms| SearchError::RateLimited { retry_after_ms })?;
    let scopes = scopes(deps, actor, filters.conversation).await?;
    let as_of = cursor.map_or_else(|| whole_seconds(deps.clock.now()), |c| c.as_of);
    let search = MessageSearch {
        viewer: actor.user_id,
        text,
        scopes,
        sender: filters.sender,
        kind: filters.kind,
        sent_before: filters.before,
        sent_after: filters.after,
        excluded_senders: deps.social.hidden_from(actor.user_id).await?.into_iter().collect(),
        as_of,
        after: cursor.map(|c| c.position),
        // One more than shown tells whether another page exists.
        limit: limit + 1,
    };
    let mut hits = if search.scopes.is_empty() { Vec::new() } else { deps.messages.search_messages(&search).await? };
    let more = hits.len() > limit;
    hits.truncate(limit);
    let next_cursor = more
        .then(|| {
            hits.last()
                .map(|hit| SearchCursor { as_of, position: SearchPosition { score: hit.score, id: hit.message.id } })
        })
        .flatten()
        .map(|cursor| cursor.format());
    let ranks: Vec<i64> = hits.iter().map(|hit| hit.score).collect();
    let messages = with_attachments(deps, hits.into_iter().map(|hit| hit.message).collect()).await?;
    let results = messages
        .into_iter()
        .zip(ranks)
        .map(|(message, rank)| MessageResult {
            conversation_id: message.conversation_id,
            snippet: snippet(message.body.as_deref().unwrap_or_default(), &search.text),
            rank,
            message,
        })
        .collect();
    Ok(MessageSearchPage { results, next_cursor })
}

/// Where the caller may search: the one conversation asked for (404 unless a member), or
/// every conversation they are in. A member reads the whole history of a conversation, so
/// the whole of it is searchable; a conversation left is no longer theirs to search.
async fn scopes(deps: &Deps, actor: Actor, only: Option<ConversationId>) -> Result<Vec<SearchScope>, SearchError> {
    let whole = |conversation| SearchScope { conversation, after_seq: 0 };
    match only {
        Some(conversation) => {
            membership(deps, conversation, actor.user_id).await?.ok_or(SearchError::ConversationNotFound)?;
            Ok(vec![whole(conversation)])
        }
        None => {
            let cursors = deps.conversations.conversation_seqs(actor.user_id).await?;
            Ok(cursors.into_iter().map(|c| whole(c.conversation_id)).collect())
        }
    }
}

/// Recency is scored in whole seconds, and a cursor carries its moment in them.
fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}
