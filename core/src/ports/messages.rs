//! Storage of messages: gap-free `seq` allocation, idempotent inserts and history.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use crate::domain::message::{Message, NewMessage};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored, with the conversation's members at the moment it was stored: whom it reaches.
    Inserted { message: Message, members: Vec<UserId> },
    /// The sender already sent a message with this `client_msg_id`: here it is, unchanged.
    Existing(Message),
}

impl InsertOutcome {
    /// The message, stored now or before.
    pub fn message(&self) -> &Message {
        match self {
            InsertOutcome::Inserted { message, .. } | InsertOutcome::Existing(message) => message,
        }
    }

    pub fn into_message(self) -> Message {
        match self {
            InsertOutcome::Inserted { message, .. } | InsertOutcome::Existing(message) => message,
        }
    }
}

/// Which slice of history to read; results are always in ascending `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryPage {
    /// The newest `limit` messages.
    Latest { limit: usize },
    /// Up to `limit` messages just below `seq`.
    Before { seq: u64, limit: usize },
    /// Up to `limit` messages just above `seq`.
    After { seq: u64, limit: usize },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageUpdate {
    Edit { body: String, at: Timestamp },
    Recall { at: Timestamp },
    React { user: UserId, emoji: Option<String>, at: Timestamp },
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait MessageRepo: Send + Sync {
    /// Stores a message in one atomic step: allocates the conversation's next `seq` (no gaps,
    /// no duplicates, also under concurrent senders on several nodes), bumps the
    /// conversation's `last_seq` and activity time, and moves the sender's read mark to it.
    /// A `(sender, client_msg_id)` already stored returns `Existing` and writes nothing.
    /// Membership changes and inserts into one conversation are serialised, so the members
    /// returned with `Inserted` are exactly those who may see the message.
    async fn insert_message(&self, message: NewMessage) -> Result<InsertOutcome, PortError>;
    async fn message(&self, id: MessageId) -> Result<Option<Message>, PortError>;
    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_msg_id: ClientMsgId,
    ) -> Result<Option<Message>, PortError>;
    /// History as `viewer` sees it (without the messages they deleted for themselves).
    async fn history(
        &self,
        conversation: ConversationId,
        viewer: UserId,
        page: HistoryPage,
    ) -> Result<Vec<Message>, PortError>;
    /// Applies an edit, recall or reaction and returns the message as it now is. In the same
    /// step it takes the conversation's next change number and stamps it on the message.
    async fn update_message(&self, id: MessageId, update: MessageUpdate) -> Result<Option<Message>, PortError>;
    /// Messages of a conversation changed after `after_change_seq`, in change order, as
    /// `viewer` sees them (for `sync`).
    async fn changes(
        &self,
        conversation: ConversationId,
        viewer: UserId,
        after_change_seq: u64,
        limit: usize,
    ) -> Result<Vec<Message>, PortError>;
    /// Hides a message from one user's history ("delete for me").
    async fn hide_message(&self, id: MessageId, user: UserId) -> Result<(), PortError>;
}
