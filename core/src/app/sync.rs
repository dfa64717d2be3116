//! Resume after a disconnect: every message the client has not seen, and every change
//! (edit, recall, reaction) to the messages it already had, per conversation.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::event::MessageChange;
use crate::domain::ids::ConversationId;
use crate::domain::message::Message;
use crate::ports::HistoryPage;

use super::errors::ConversationError;
use super::{Actor, Deps};

/// The most messages (and, separately, changes) replayed per conversation; past it the client
/// pages with history.
pub const MAX_SYNC_PER_CONVERSATION: usize = 500;

/// Where one of the user's conversations stands after a sync: the cursors to send next time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncedConversation {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Its newest message: send it back in `since` next time.
    pub last_seq: u64,
    /// The conversation's change counter: send it back as `changes_since` next time.
    pub last_change_seq: u64,
    /// More than the replay limit was missed: fetch the rest with history (`after_seq`).
    pub truncated: bool,
}

/// Everything a client missed since the cursors it sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResult {
    /// Missed messages, grouped by conversation, in `seq` order within each.
    pub messages: Vec<Message>,
    /// Messages the client already had that changed meanwhile, in change order, each with
    /// what its latest change was.
    pub changes: Vec<(MessageChange, Message)>,
    /// Every conversation of the user, with its new cursors.
    pub conversations: Vec<SyncedConversation>,
}

/// What a client knows: per conversation the last `seq` it holds (`since`) and, optionally,
/// the last change number it saw (`changes_since`). Conversations missing from `since` (new
/// to the client) are replayed from the start; changes are replayed only for conversations
/// listed in `changes_since`.
pub async fn sync(
    deps: &Deps,
    actor: Actor,
    since: &HashMap<ConversationId, u64>,
    changes_since: &HashMap<ConversationId, u64>,
) -> Result<SyncResult, ConversationError> {
    let mut result = SyncResult { messages: Vec::new(), changes: Vec::new(), conversations: Vec::new() };
    for cursor in deps.conversations.conversation_seqs(actor.user_id).await? {
        let id = cursor.conversation_id;
        let known = since.get(&id).copied().unwrap_or(0);
        let mut truncated = false;
        if cursor.last_seq > known {
            let page = HistoryPage::After { seq: known, limit: MAX_SYNC_PER_CONVERSATION };
            let missed = deps.messages.history(id, actor.user_id, page).await?;
            // A full page may have more behind it (a short one cannot: hidden messages only
            // make pages shorter).
            truncated =
                missed.len() == MAX_SYNC_PER_CONVERSATION && missed.last().is_some_and(|m| m.seq < cursor.last_seq);
            result.messages.extend(missed);
        }
        if let Some(seen) = changes_since.get(&id).copied().filter(|seen| *seen < cursor.last_change_seq) {
            let changed = deps.messages.changes(id, actor.user_id, seen, MAX_SYNC_PER_CONVERSATION).await?;
            truncated |= changed.len() == MAX_SYNC_PER_CONVERSATION;
            // Messages replayed above are already current; only older ones need the change.
            let changed = changed.into_iter().filter(|m| m.seq <= known).map(|m| (latest_change(&m), m));
            result.changes.extend(changed);
        }
        result.conversations.push(SyncedConversation {
            conversation_id: id,
            last_seq: cursor.last_seq,
            last_change_seq: cursor.last_change_seq,
            truncated,
        });
    }
    result.messages = super::media::with_attachments(deps, result.messages).await?;
    let (changes, changed): (Vec<_>, Vec<_>) = result.changes.into_iter().unzip();
    let changed = super::media::with_attachments(deps, changed).await?;
    result.changes = changes.into_iter().zip(changed).collect();
    Ok(result)
}

/// What the latest change to a message was, judged from its state: a recall wins over an edit,
/// an edit over a reaction.
fn latest_change(message: &Message) -> MessageChange {
    if message.recalled_at.is_some() {
        MessageChange::Recalled
    } else if message.edited_at.is_some() {
        MessageChange::Edited
    } else {
        MessageChange::Reaction
    }
}
