//! Resume after a disconnect: every message the client has not seen, per conversation.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::ids::ConversationId;
use crate::domain::message::Message;
use crate::ports::HistoryPage;

use super::errors::ConversationError;
use super::{Actor, Deps};

/// The most messages replayed per conversation; past it the client pages with history.
pub const MAX_SYNC_PER_CONVERSATION: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncedConversation {
    pub conversation_id: ConversationId,
    pub last_seq: u64,
    /// More than the replay limit was missed: fetch the rest with history (`after_seq`).
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResult {
    /// Missed messages, grouped by conversation, in `seq` order within each.
    pub messages: Vec<Message>,
    pub conversations: Vec<SyncedConversation>,
}

/// `since` maps conversations to the last `seq` the client holds; conversations it does not
/// list (new to it) are replayed from the start.
pub async fn sync(
    deps: &Deps,
    actor: Actor,
    since: &HashMap<ConversationId, u64>,
) -> Result<SyncResult, ConversationError> {
    let mut messages = Vec::new();
    let mut conversations = Vec::new();
    for (conversation_id, last_seq) in deps.conversations.conversation_seqs(actor.user_id).await? {
        let known = since.get(&conversation_id).copied().unwrap_or(0);
        let mut truncated = false;
        if last_seq > known {
            let page = HistoryPage::After { seq: known, limit: MAX_SYNC_PER_CONVERSATION };
            let missed = deps.messages.history(conversation_id, actor.user_id, page).await?;
            // A full page may have more behind it (a short one cannot: hidden messages only
            // make pages shorter).
            truncated = missed.len() == MAX_SYNC_PER_CONVERSATION && missed.last().is_some_and(|m| m.seq < last_seq);
            messages.extend(missed);
        }
        conversations.push(SyncedConversation { conversation_id, last_seq, truncated });
    }
    Ok(SyncResult { messages, conversations })
}
