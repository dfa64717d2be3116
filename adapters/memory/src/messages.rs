//! `MessageRepo` in memory.

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::domain::message::{Message, NewMessage, apply_reaction};
use chat_core::ports::{HistoryPage, InsertOutcome, MessageRepo, MessageSearch, MessageUpdate, SearchHit};

use crate::store::MemoryStore;

#[async_trait]
impl MessageRepo for MemoryStore {
    async fn insert_message(&self, message: NewMessage) -> Result<InsertOutcome, PortError> {
        let mut state = self.state.lock();
        if let Some(client_msg_id) = message.client_msg_id {
            let existing = state.by_client_id.get(&(message.sender_id, client_msg_id)).copied();
            if let Some(original) = existing.and_then(|id| state.message(id)) {
                return Ok(InsertOutcome::Existing(original.clone()));
            }
        }
        let conversation = message.conversation_id;
        let message = state
            .append(message)
            .ok_or_else(|| PortError::Internal(format!("conversation {conversation} does not exist")))?;
        let members =
            state.conversations.get(&conversation).map(|c| c.members.keys().copied().collect()).unwrap_or_default();
        Ok(InsertOutcome::Inserted { message, members })
    }

    async fn message(&self, id: MessageId) -> Result<Option<Message>, PortError> {
        Ok(self.state.lock().message(id).cloned())
    }

    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_msg_id: ClientMsgId,
    ) -> Result<Option<Message>, PortError> {
        let state = self.state.lock();
        let id = state.by_client_id.get(&(sender, client_msg_id)).copied();
        Ok(id.and_then(|id| state.message(id)).cloned())
    }

    async fn history(
        &self,
        conversation: ConversationId,
        viewer: UserId,
        page: HistoryPage,
    ) -> Result<Vec<Message>, PortError> {
        let state = self.state.lock();
        let Some(stored) = state.conversations.get(&conversation) else {
            return Ok(Vec::new());
        };
        let visible = |m: &&Message| !state.hidden.contains(&(m.id, viewer));
        let messages = &stored.messages;
        let page: Vec<Message> = match page {
            HistoryPage::Latest { limit } => {
                let mut newest: Vec<Message> = messages.iter().rev().filter(visible).take(limit).cloned().collect();
                newest.reverse();
                newest
            }
            HistoryPage::Before { seq, limit } => {
                let end = usize::try_from(seq.saturating_sub(1)).unwrap_or(usize::MAX).min(messages.len());
                let mut older: Vec<Message> =
                    messages[..end].iter().rev().filter(visible).take(limit).cloned().collect();
                older.reverse();
                older
            }
            HistoryPage::After { seq, limit } => {
                let start = usize::try_from(seq).unwrap_or(usize::MAX).min(messages.len());
                messages[start..].iter().filter(visible).take(limit).cloned().collect()
            }
        };
        Ok(page)
    }

    async fn update_message(&self, id: MessageId, update: MessageUpdate) -> Result<Option<Message>, PortError> {
        let mut state = self.state.lock();
        let Some(&(conversation, _)) = state.message_at.get(&id) else {
            return Ok(None);
        };
        let Some(stored) = state.conversations.get_mut(&conversation) else {
            return Ok(None);
        };
        stored.conversation.last_change_seq += 1;
        let change_seq = stored.conversation.last_change_seq;
        let Some(message) = state.message_mut(id) else {
            return Ok(None);
        };
        message.change_seq = change_seq;
        match update {
            MessageUpdate::Edit { body, at } => {
                message.body = Some(body);
                message.edited_at = Some(at);
            }
            MessageUpdate::Recall { at } => {
                message.body = None;
                message.reactions.clear();
                message.recalled_at = Some(at);
            }
            MessageUpdate::React { user, emoji, .. } => apply_reaction(&mut message.reactions, user, emoji),
        }
        Ok(Some(message.clone()))
    }

    async fn changes(
        &self,
        conversation: ConversationId,
        viewer: UserId,
        after_change_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, PortError> {
        let state = self.state.lock();
        let Some(stored) = state.conversations.get(&conversation) else {
            return Ok(Vec::new());
        };
        let mut changed: Vec<Message> = stored
            .messages
            .iter()
            .filter(|m| m.change_seq > after_change_seq && !state.hidden.contains(&(m.id, viewer)))
            .cloned()
            .collect();
        changed.sort_by_key(|m| m.change_seq);
        changed.truncate(limit);
        Ok(changed)
    }

    async fn hide_message(&self, id: MessageId, user: UserId) -> Result<(), PortError> {
        self.state.lock().hidden.insert((id, user));
        Ok(())
    }

    async fn search_messages(&self, search: &MessageSearch) -> Result<Vec<SearchHit>, PortError> {
        Ok(crate::search::search(&self.state.lock(), search))
    }
}
