//! `ConversationRepo` on Postgres. The trait's methods are split along its seams: creating
//! conversations (`creation`), who is in them (`membership`), a user's list and contacts
//! (`listing`), unread counts for the list and the badge (`unread`), and each member's own
//! marks, mute and pin (`member_settings`).

mod creation;
mod listing;
mod member_settings;
mod membership;
mod unread;

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::conversation::{Conversation, ConversationSummary, Member, Mute};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::domain::message::{Message, NewMessage};
use chat_core::ports::{
    ConversationCursor, ConversationRepo, DirectOutcome, ListQuery, MembershipChange, MembershipOutcome, PinOutcome,
    WriteContext,
};

use crate::PgStore;

#[async_trait]
impl ConversationRepo for PgStore {
    async fn find_or_create_direct(
        &self,
        conversation: Conversation,
        members: [Member; 2],
    ) -> Result<DirectOutcome, PortError> {
        creation::find_or_create_direct(self, conversation, members).await
    }

    async fn create_group(
        &self,
        conversation: Conversation,
        members: Vec<Member>,
        announcement: NewMessage,
    ) -> Result<(Conversation, Message), PortError> {
        creation::create_group(self, conversation, members, announcement).await
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, PortError> {
        creation::conversation(self, id).await
    }

    async fn member(&self, id: ConversationId, user: UserId) -> Result<Option<Member>, PortError> {
        membership::member(self, id, user).await
    }

    async fn write_context(&self, id: ConversationId, writer: UserId) -> Result<Option<WriteContext>, PortError> {
        self.contexts.call(0, (id, writer)).await
    }

    async fn members(&self, id: ConversationId) -> Result<Vec<Member>, PortError> {
        membership::members(self, id).await
    }

    async fn member_ids(&self, id: ConversationId) -> Result<Vec<UserId>, PortError> {
        membership::member_ids(self, id).await
    }

    async fn change_membership(
        &self,
        change: MembershipChange,
        announcement: NewMessage,
    ) -> Result<MembershipOutcome, PortError> {
        membership::change_membership(self, change, announcement).await
    }

    async fn list_conversations(&self, user: UserId, query: ListQuery) -> Result<Vec<ConversationSummary>, PortError> {
        listing::list_conversations(self, user, query).await
    }

    async fn other_members(
        &self,
        user: UserId,
        conversations: &[ConversationId],
    ) -> Result<Vec<(ConversationId, UserId)>, PortError> {
        listing::other_members(self, user, conversations).await
    }

    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>, PortError> {
        listing::contacts(self, user).await
    }

    async fn share_conversation(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        listing::share_conversation(self, a, b).await
    }

    async fn conversation_seqs(&self, user: UserId) -> Result<Vec<ConversationCursor>, PortError> {
        listing::conversation_seqs(self, user).await
    }

    async fn mark_read(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError> {
        member_settings::mark_read(self, id, user, seq).await
    }

    async fn mark_delivered(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError> {
        member_settings::mark_delivered(self, id, user, seq).await
    }

    async fn unread_totals(&self, users: &[UserId], now: Timestamp, cap: u64) -> Result<Vec<(UserId, u64)>, PortError> {
        unread::unread_totals(self, users, now, cap).await
    }

    async fn set_mute(&self, id: ConversationId, user: UserId, mute: Option<Mute>) -> Result<(), PortError> {
        member_settings::set_mute(self, id, user, mute).await
    }

    async fn set_pinned(
        &self,
        id: ConversationId,
        user: UserId,
        pinned_at: Option<Timestamp>,
        max_pinned: usize,
    ) -> Result<PinOutcome, PortError> {
        member_settings::set_pinned(self, id, user, pinned_at, max_pinned).await
    }
}
