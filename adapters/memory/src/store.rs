//! The shared in-memory state behind `MemoryStore`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chat_core::domain::account::{PasswordHash, Session, User};
use chat_core::domain::conversation::{Conversation, Member};
use chat_core::domain::ids::{ClientMsgId, ConversationId, MessageId, SessionId, UserId};
use chat_core::domain::message::Message;
use parking_lot::Mutex;

/// Users, sessions, conversations and messages, kept in memory for the life of the process.
#[derive(Clone, Default)]
pub struct MemoryStore {
    pub(crate) state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub users: HashMap<UserId, StoredUser>,
    pub user_by_name: HashMap<String, UserId>,
    pub user_by_phone: HashMap<String, UserId>,

    pub sessions: HashMap<SessionId, Session>,
    /// Current refresh-token digest → session.
    pub refresh_current: HashMap<String, SessionId>,
    /// Digests already rotated away → session (for reuse detection).
    pub refresh_rotated: HashMap<String, SessionId>,

    pub conversations: HashMap<ConversationId, StoredConversation>,
    pub direct_pairs: HashMap<(UserId, UserId), ConversationId>,
    pub conversations_of: HashMap<UserId, HashSet<ConversationId>>,
    /// Where each message lives: its conversation and `seq`.
    pub message_at: HashMap<MessageId, (ConversationId, u64)>,
    pub by_client_id: HashMap<(UserId, ClientMsgId), MessageId>,
    pub hidden: HashSet<(MessageId, UserId)>,

    pub social: crate::social::SocialState,
    pub media: crate::media::MediaState,
    pub devices: crate::devices::DeviceState,
}

pub(crate) struct StoredUser {
    pub user: User,
    pub password_hash: PasswordHash,
}

pub(crate) struct StoredConversation {
    pub conversation: Conversation,
    pub members: HashMap<UserId, Member>,
    /// Messages in `seq` order; `messages[i].seq == i + 1`.
    pub messages: Vec<Message>,
}

impl State {
    pub fn message(&self, id: MessageId) -> Option<&Message> {
        let (conversation, seq) = self.message_at.get(&id)?;
        self.message_by_seq(*conversation, *seq)
    }

    pub fn message_mut(&mut self, id: MessageId) -> Option<&mut Message> {
        let (conversation, seq) = *self.message_at.get(&id)?;
        let index = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.conversations.get_mut(&conversation)?.messages.get_mut(index)
    }

    pub fn message_by_seq(&self, conversation: ConversationId, seq: u64) -> Option<&Message> {
        let index = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.conversations.get(&conversation)?.messages.get(index)
    }

    /// Appends a message at the next `seq`; the caller has checked idempotency.
    pub fn append(&mut self, new: chat_core::domain::message::NewMessage) -> Option<Message> {
        let stored = self.conversations.get_mut(&new.conversation_id)?;
        let seq = stored.conversation.last_seq + 1;
        let message = new.into_message(seq);
        stored.conversation.last_seq = seq;
        stored.conversation.last_activity_at = stored.conversation.last_activity_at.max(message.created_at);
        if let Some(sender) = stored.members.get_mut(&message.sender_id) {
            sender.read_seq = sender.read_seq.max(seq);
            sender.delivered_seq = sender.delivered_seq.max(seq);
        }
        stored.messages.push(message.clone());
        self.message_at.insert(message.id, (message.conversation_id, seq));
        if let Some(client_msg_id) = message.client_msg_id {
            self.by_client_id.insert((message.sender_id, client_msg_id), message.id);
        }
        Some(message)
    }

    pub fn add_member(&mut self, member: Member) {
        self.conversations_of.entry(member.user_id).or_default().insert(member.conversation_id);
        if let Some(stored) = self.conversations.get_mut(&member.conversation_id) {
            stored.members.insert(member.user_id, member);
            stored.conversation.member_count = u32::try_from(stored.members.len()).unwrap_or(u32::MAX);
        }
    }

    pub fn remove_member(&mut self, conversation: ConversationId, user: UserId) {
        if let Some(set) = self.conversations_of.get_mut(&user) {
            set.remove(&conversation);
        }
        if let Some(stored) = self.conversations.get_mut(&conversation) {
            stored.members.remove(&user);
            stored.conversation.member_count = u32::try_from(stored.members.len()).unwrap_or(u32::MAX);
        }
    }
}
