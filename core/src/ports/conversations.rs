//! Storage of conversations, memberships and each member's private state.

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::account::Audience;
use crate::domain::conversation::{Conversation, ConversationKind, ConversationSummary, Member, Mute};
use crate::domain::error::PortError;
use crate::domain::ids::{ConversationId, UserId};
use crate::domain::message::{Message, NewMessage};

/// What finding or creating a direct conversation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectOutcome {
    /// It was created by this call.
    Created(Conversation),
    /// It existed already.
    Existing(Conversation),
}

/// Changes to a group, applied together with the SYSTEM message that announces them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipChange {
    /// The group.
    pub conversation_id: ConversationId,
    /// Members to add.
    pub add: Vec<Member>,
    /// Members to remove.
    pub remove: Vec<UserId>,
    /// Make this member the owner (when the owner leaves).
    pub new_owner: Option<UserId>,
    /// A new title.
    pub title: Option<String>,
    /// A new photo (`Some(None)` removes it).
    pub avatar_media_id: Option<Option<uuid::Uuid>>,
    /// Refuse the change if the group would have more members than this.
    pub max_members: usize,
}

// Returned once per change and consumed at once, so the size difference costs nothing.
/// What a membership change did.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipOutcome {
    /// Applied, with the group as it is now and the stored SYSTEM message announcing it.
    Applied {
        /// The group after the change.
        conversation: Conversation,
        /// The SYSTEM message that announces the change.
        announcement: Message,
    },
    /// The group would exceed `max_members`: nothing changed.
    TooManyMembers,
    /// No such group: nothing changed.
    NotFound,
}

/// Where a conversation stands: its newest message and its newest change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationCursor {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The `seq` of its newest message.
    pub last_seq: u64,
    /// Its change counter (edits, recalls, reactions).
    pub last_change_seq: u64,
}

/// What deciding on a write (a send, an edit, a reaction, a typing indicator) into a
/// conversation needs, read in one step: the writer's membership and, in a direct
/// conversation, what the privacy rules need to know of the other member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteContext {
    /// The writer's membership.
    pub member: Member,
    /// Direct or group.
    pub kind: ConversationKind,
    /// The other member of a direct conversation; `None` in a group.
    pub peer: Option<DirectPeer>,
}

/// The other member of a direct conversation, as the write rules see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectPeer {
    /// The other member.
    pub user_id: UserId,
    /// Either of the two has blocked the other.
    pub blocked: bool,
    /// Whether the two are friends.
    pub friends: bool,
    /// The peer's setting of who may message them.
    pub who_can_message: Audience,
}

/// What a pin did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOutcome {
    /// Pinned or unpinned as asked.
    Done,
    /// The user has the most pins already: nothing changed.
    TooManyPinned,
}

/// A page of a user's conversation list, newest activity first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// `true`: only the pinned conversations (all of them); `false`: only the others.
    pub pinned: bool,
    /// Only conversations whose (last activity, id) sorts before this cursor.
    pub before: Option<(Timestamp, ConversationId)>,
    /// The most conversations to return.
    pub limit: usize,
}

/// Storage of conversations, memberships and per-member state (read marks, mute, pin).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ConversationRepo: Send + Sync {
    /// Returns the direct conversation of the two members' users, creating it if there is
    /// none; at most one exists per pair, also under concurrent calls.
    async fn find_or_create_direct(
        &self,
        conversation: Conversation,
        members: [Member; 2],
    ) -> Result<DirectOutcome, PortError>;
    /// Creates a group with its members and its first (SYSTEM) message, atomically.
    async fn create_group(
        &self,
        conversation: Conversation,
        members: Vec<Member>,
        announcement: NewMessage,
    ) -> Result<(Conversation, Message), PortError>;
    /// One conversation by id.
    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, PortError>;
    /// One user's membership, if they are a member.
    async fn member(&self, id: ConversationId, user: UserId) -> Result<Option<Member>, PortError>;
    /// The [`WriteContext`] of `writer` in the conversation, or `None` when they are not a
    /// member: the one read a message send makes before its insert.
    async fn write_context(&self, id: ConversationId, writer: UserId) -> Result<Option<WriteContext>, PortError>;
    /// Every membership of the conversation.
    async fn members(&self, id: ConversationId) -> Result<Vec<Member>, PortError>;
    /// Member user ids only: the hot path of every fan-out.
    async fn member_ids(&self, id: ConversationId) -> Result<Vec<UserId>, PortError>;
    /// Applies a membership change and stores its SYSTEM message, atomically, serialised
    /// with message inserts into the same conversation.
    async fn change_membership(
        &self,
        change: MembershipChange,
        announcement: NewMessage,
    ) -> Result<MembershipOutcome, PortError>;
    /// Summaries without `peer` (the use case fills it in).
    async fn list_conversations(&self, user: UserId, query: ListQuery) -> Result<Vec<ConversationSummary>, PortError>;
    /// For each of `conversations`, its members other than `user`, in one round trip (the
    /// conversation list shows the peer of every direct conversation).
    async fn other_members(
        &self,
        user: UserId,
        conversations: &[ConversationId],
    ) -> Result<Vec<(ConversationId, UserId)>, PortError>;
    /// Everyone who shares at least one conversation with `user` (without `user`).
    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>, PortError>;
    /// Whether the two users share at least one conversation.
    async fn share_conversation(&self, a: UserId, b: UserId) -> Result<bool, PortError>;
    /// Every conversation of a user with its counters, for `sync`.
    async fn conversation_seqs(&self, user: UserId) -> Result<Vec<ConversationCursor>, PortError>;
    /// Raises the member's read mark to `seq` (clamped to `last_seq`; never lowers it).
    /// Returns the new mark if it moved.
    async fn mark_read(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError>;
    /// Same for the delivered mark.
    async fn mark_delivered(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError>;
    /// The app icon's badge of each of `users`, in one call (a message to a group badges
    /// every offline member): a user's unread messages (as `ConversationSummary::unread_count`
    /// counts them) summed over their conversations not muted at `now`, counting no further
    /// than `cap` (a badge shows "99+" long before).
    ///
    /// One entry per distinct user asked, in no particular order; a user with nothing unread,
    /// or unknown, gets 0. Any number of users may be asked at once (the Postgres store sends
    /// them in statements of up to 1,000).
    async fn unread_totals(&self, users: &[UserId], now: Timestamp, cap: u64) -> Result<Vec<(UserId, u64)>, PortError>;
    /// Sets or clears one member's mute.
    async fn set_mute(&self, id: ConversationId, user: UserId, mute: Option<Mute>) -> Result<(), PortError>;
    /// Pins (with the time) or unpins; refuses a pin past `max_pinned`.
    async fn set_pinned(
        &self,
        id: ConversationId,
        user: UserId,
        pinned_at: Option<Timestamp>,
        max_pinned: usize,
    ) -> Result<PinOutcome, PortError>;
}
