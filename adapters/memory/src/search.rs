//! Message search in memory: a scan of the scoped conversations under the store's lock,
//! following `chat_core::domain::search` directly. Linear in the messages of the searcher's
//! conversations: fine for the embedded mode's size (tens of thousands of messages), not for
//! millions; that is Postgres's job (docs/operations.md).

use chat_core::domain::message::{Message, MessageKind};
use chat_core::domain::search::{score, search_words};
use chat_core::ports::{MessageSearch, SearchHit};

use crate::store::State;

/// Every hit of `search`, best first, at most `search.limit`.
pub(crate) fn search(state: &State, search: &MessageSearch) -> Vec<SearchHit> {
    let mut hits = Vec::new();
    for scope in &search.scopes {
        let Some(stored) = state.conversations.get(&scope.conversation) else { continue };
        let from = usize::try_from(scope.after_seq).unwrap_or(usize::MAX).min(stored.messages.len());
        for message in &stored.messages[from..] {
            if !passes_filters(state, search, message) {
                continue;
            }
            let Some(body) = message.body.as_deref() else { continue };
            let Some(tier) = search.text.match_tier(&search_words(body)) else { continue };
            let score = score(tier, message.created_at, search.as_of);
            if search.after.is_some_and(|after| !after.is_before(score, message.id)) {
                continue;
            }
            hits.push(SearchHit { message: message.clone(), score });
        }
    }
    hits.sort_by_key(|hit| std::cmp::Reverse((hit.score, hit.message.id.0)));
    hits.truncate(search.limit);
    hits
}

fn passes_filters(state: &State, search: &MessageSearch, message: &Message) -> bool {
    message.kind != MessageKind::System
        && message.recalled_at.is_none()
        && search.sender.is_none_or(|sender| sender == message.sender_id)
        && search.kind.is_none_or(|kind| kind == message.kind)
        && search.sent_before.is_none_or(|before| message.created_at < before)
        && search.sent_after.is_none_or(|after| message.created_at > after)
        && !search.excluded_senders.contains(&message.sender_id)
        && !state.hidden.contains(&(message.id, search.viewer))
}
