//! Storage of messages: gap-free `seq` allocation, idempotent inserts and history.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use crate::domain::message::{Message, MessageKind, NewMessage};
use crate::domain::search::{SearchPosition, SearchText};

/// What storing a message did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored, with the conversation's members at the moment it was stored: whom it reaches.
    Inserted {
        /// The stored message, with its `seq`.
        message: Message,
        /// Everyone who was a member when it was stored.
        members: Vec<UserId>,
    },
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

    /// The message, stored now or before, by value.
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
    Latest {
        /// The most messages to return.
        limit: usize,
    },
    /// Up to `limit` messages just below `seq`.
    Before {
        /// Messages below this `seq` (exclusive).
        seq: u64,
        /// The most messages to return.
        limit: usize,
    },
    /// Up to `limit` messages just above `seq`.
    After {
        /// Messages above this `seq` (exclusive).
        seq: u64,
        /// The most messages to return.
        limit: usize,
    },
}

/// A change to a stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageUpdate {
    /// Replace the text.
    Edit {
        /// The new text.
        body: String,
        /// When it was edited.
        at: Timestamp,
    },
    /// Recall for everyone: the text goes, a tombstone stays.
    Recall {
        /// When it was recalled.
        at: Timestamp,
    },
    /// Set or clear one user's reaction.
    React {
        /// Who reacts.
        user: UserId,
        /// Their emoji, or `None` to take their reaction back.
        emoji: Option<String>,
        /// When they reacted.
        at: Timestamp,
    },
}

/// A conversation a search looks in, and from where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchScope {
    /// The conversation.
    pub conversation: ConversationId,
    /// Only messages above this `seq` are looked at (0: the whole history the searcher may
    /// read).
    pub after_seq: u64,
}

/// A message search, everything decided: the store only finds and ranks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSearch {
    /// Who searches: messages they deleted for themselves are left out.
    pub viewer: UserId,
    /// What to look for.
    pub text: SearchText,
    /// Where to look; nothing outside these is returned.
    pub scopes: Vec<SearchScope>,
    /// Only messages of this sender.
    pub sender: Option<UserId>,
    /// Only messages of this kind.
    pub kind: Option<MessageKind>,
    /// Only messages sent before this moment (exclusive).
    pub sent_before: Option<Timestamp>,
    /// Only messages sent after this moment (exclusive).
    pub sent_after: Option<Timestamp>,
    /// Senders never returned (blocks, either way).
    pub excluded_senders: Vec<UserId>,
    /// The moment recency is measured from (`domain::search::score`).
    pub as_of: Timestamp,
    /// Only results ranked below this position (the previous page's last).
    pub after: Option<SearchPosition>,
    /// The most results.
    pub limit: usize,
}

impl MessageSearch {
    /// A search with no filter besides its scopes: every sender and kind, any time.
    pub fn unfiltered(
        viewer: UserId,
        text: SearchText,
        scopes: Vec<SearchScope>,
        as_of: Timestamp,
        limit: usize,
    ) -> MessageSearch {
        MessageSearch {
            viewer,
            text,
            scopes,
            sender: None,
            kind: None,
            sent_before: None,
            sent_after: None,
            excluded_senders: Vec::new(),
            as_of,
            after: None,
            limit,
        }
    }
}

/// One message found, and its score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchHit {
    /// The message as stored.
    pub message: Message,
    /// Its `domain::search::score`.
    pub score: i64,
}

/// Storage of messages: inserts, history, changes and per-user deletions.
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
    /// One message by id, as stored (hidden or not).
    async fn message(&self, id: MessageId) -> Result<Option<Message>, PortError>;
    /// The message a sender stored under this idempotency key, if any.
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
    /// Messages matching `search.text` (`SearchText::match_tier`), best `score` first, ties by
    /// higher id, at most `search.limit`: only in its scopes (above each scope's `after_seq`),
    /// never SYSTEM messages, recalled ones, ones the viewer deleted for themselves, or ones
    /// of an excluded sender, and only those matching every filter given.
    async fn search_messages(&self, search: &MessageSearch) -> Result<Vec<SearchHit>, PortError>;
}
