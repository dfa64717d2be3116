//! `ConversationRepo` in memory.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::conversation::{
    Conversation, ConversationKind, ConversationSummary, Member, Mute, Role, unread_count,
};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, UserId};
use chat_core::domain::message::{Message, MessageKind, NewMessage};
use chat_core::ports::{
    ConversationCursor, ConversationRepo, DirectOutcome, DirectPeer, ListQuery, MembershipChange, MembershipOutcome,
    PinOutcome, WriteContext,
};

use crate::store::{MemoryStore, State, StoredConversation};

#[async_trait]
impl ConversationRepo for MemoryStore {
    async fn find_or_create_direct(
        &self,
        conversation: Conversation,
        members: [Member; 2],
    ) -> Result<DirectOutcome, PortError> {
        let mut state = self.state.lock();
        let pair = ordered_pair(members[0].user_id, members[1].user_id);
        if let Some(existing) = state.direct_pairs.get(&pair).and_then(|id| state.conversations.get(id)) {
            return Ok(DirectOutcome::Existing(existing.conversation.clone()));
        }
        state.direct_pairs.insert(pair, conversation.id);
        insert_conversation(&mut state, conversation.clone(), members.into());
        Ok(DirectOutcome::Created(stored_conversation(&state, conversation.id)?))
    }

    async fn create_group(
        &self,
        conversation: Conversation,
        members: Vec<Member>,
        announcement: NewMessage,
    ) -> Result<(Conversation, Message), PortError> {
        let mut state = self.state.lock();
        let id = conversation.id;
        insert_conversation(&mut state, conversation, members);
        let message = state.append(announcement).ok_or_else(|| PortError::Internal("group vanished".into()))?;
        Ok((stored_conversation(&state, id)?, message))
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, PortError> {
        Ok(self.state.lock().conversations.get(&id).map(|stored| stored.conversation.clone()))
    }

    async fn member(&self, id: ConversationId, user: UserId) -> Result<Option<Member>, PortError> {
        let state = self.state.lock();
        Ok(state.conversations.get(&id).and_then(|stored| stored.members.get(&user)).cloned())
    }

    async fn write_context(&self, id: ConversationId, writer: UserId) -> Result<Option<WriteContext>, PortError> {
        let state = self.state.lock();
        let Some(stored) = state.conversations.get(&id) else { return Ok(None) };
        let Some(member) = stored.members.get(&writer).cloned() else { return Ok(None) };
        let kind = stored.conversation.kind;
        let peer = match kind {
            ConversationKind::Direct => stored.members.keys().find(|user| **user != writer).and_then(|&peer| {
                let who_can_message = state.users.get(&peer)?.user.settings.who_can_message;
                Some(DirectPeer {
                    user_id: peer,
                    blocked: state.social.blocked(writer, peer) || state.social.blocked(peer, writer),
                    friends: state.social.are_friends(writer, peer),
                    who_can_message,
                })
            }),
            ConversationKind::Group => None,
        };
        Ok(Some(WriteContext { member, kind, peer }))
    }

    async fn members(&self, id: ConversationId) -> Result<Vec<Member>, PortError> {
        let state = self.state.lock();
        let mut members: Vec<Member> =
            state.conversations.get(&id).map(|s| s.members.values().cloned().collect()).unwrap_or_default();
        members.sort_by_key(|m| (std::cmp::Reverse(m.role), m.joined_at, m.user_id));
        Ok(members)
    }

    async fn member_ids(&self, id: ConversationId) -> Result<Vec<UserId>, PortError> {
        let state = self.state.lock();
        Ok(state.conversations.get(&id).map(|s| s.members.keys().copied().collect()).unwrap_or_default())
    }

    async fn change_membership(
        &self,
        change: MembershipChange,
        announcement: NewMessage,
    ) -> Result<MembershipOutcome, PortError> {
        let mut state = self.state.lock();
        let Some(stored) = state.conversations.get_mut(&change.conversation_id) else {
            return Ok(MembershipOutcome::NotFound);
        };
        let added = change.add.iter().filter(|m| !stored.members.contains_key(&m.user_id)).count();
        let removed = change.remove.iter().filter(|u| stored.members.contains_key(u)).count();
        if stored.members.len() + added - removed > change.max_members {
            return Ok(MembershipOutcome::TooManyMembers);
        }
        if let Some(title) = change.title {
            stored.conversation.title = Some(title);
        }
        if let Some(avatar) = change.avatar_media_id {
            stored.conversation.avatar_media_id = avatar;
        }
        if let Some(owner) = change.new_owner.and_then(|id| stored.members.get_mut(&id)) {
            owner.role = Role::Owner;
        }
        for user in change.remove {
            state.remove_member(change.conversation_id, user);
        }
        for member in change.add {
            state.add_member(member);
        }
        let announcement = state.append(announcement).ok_or_else(|| PortError::Internal("group vanished".into()))?;
        let conversation = stored_conversation(&state, change.conversation_id)?;
        Ok(MembershipOutcome::Applied { conversation, announcement })
    }

    async fn list_conversations(&self, user: UserId, query: ListQuery) -> Result<Vec<ConversationSummary>, PortError> {
        let state = self.state.lock();
        let Some(ids) = state.conversations_of.get(&user) else {
            return Ok(Vec::new());
        };
        let mut rows: Vec<(&StoredConversation, &Member)> = ids
            .iter()
            .filter_map(|id| state.conversations.get(id))
            .filter_map(|stored| stored.members.get(&user).map(|member| (stored, member)))
            .filter(|(_, member)| member.pinned_at.is_some() == query.pinned)
            .filter(|(stored, _)| query.before.is_none_or(|cursor| sort_key(&stored.conversation) < cursor))
            .collect();
        rows.sort_by_key(|(stored, _)| std::cmp::Reverse(sort_key(&stored.conversation)));
        rows.truncate(query.limit);
        Ok(rows.into_iter().map(|(stored, member)| summary(stored, member)).collect())
    }

    async fn other_members(
        &self,
        user: UserId,
        conversations: &[ConversationId],
    ) -> Result<Vec<(ConversationId, UserId)>, PortError> {
        let state = self.state.lock();
        Ok(conversations
            .iter()
            .filter_map(|id| state.conversations.get(id))
            .flat_map(|stored| {
                stored.members.keys().filter(|member| **member != user).map(|member| (stored.conversation.id, *member))
            })
            .collect())
    }

    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>, PortError> {
        let state = self.state.lock();
        let mut contacts: Vec<UserId> = state
            .conversations_of
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| state.conversations.get(id))
            .flat_map(|stored| stored.members.keys().copied())
            .filter(|other| *other != user)
            .collect();
        contacts.sort();
        contacts.dedup();
        Ok(contacts)
    }

    async fn share_conversation(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        let state = self.state.lock();
        let (Some(of_a), Some(of_b)) = (state.conversations_of.get(&a), state.conversations_of.get(&b)) else {
            return Ok(false);
        };
        Ok(of_a.iter().any(|id| of_b.contains(id)))
    }

    async fn conversation_seqs(&self, user: UserId) -> Result<Vec<ConversationCursor>, PortError> {
        let state = self.state.lock();
        let ids = state.conversations_of.get(&user).into_iter().flatten();
        Ok(ids
            .filter_map(|id| state.conversations.get(id))
            .map(|s| ConversationCursor {
                conversation_id: s.conversation.id,
                last_seq: s.conversation.last_seq,
                last_change_seq: s.conversation.last_change_seq,
            })
            .collect())
    }

    async fn mark_read(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError> {
        Ok(raise_mark(&mut self.state.lock(), id, user, seq, |member| &mut member.read_seq))
    }

    async fn mark_delivered(&self, id: ConversationId, user: UserId, seq: u64) -> Result<Option<u64>, PortError> {
        Ok(raise_mark(&mut self.state.lock(), id, user, seq, |member| &mut member.delivered_seq))
    }

    async fn unread_totals(&self, users: &[UserId], now: Timestamp, cap: u64) -> Result<Vec<(UserId, u64)>, PortError> {
        let state = self.state.lock();
        let mut seen = HashSet::with_capacity(users.len());
        Ok(users
            .iter()
            .filter(|user| seen.insert(**user))
            .map(|user| (*user, unread_total(&state, *user, now, cap)))
            .collect())
    }

    async fn set_mute(&self, id: ConversationId, user: UserId, mute: Option<Mute>) -> Result<(), PortError> {
        let mut state = self.state.lock();
        if let Some(member) = state.conversations.get_mut(&id).and_then(|s| s.members.get_mut(&user)) {
            member.mute = mute;
        }
        Ok(())
    }

    async fn set_pinned(
        &self,
        id: ConversationId,
        user: UserId,
        pinned_at: Option<Timestamp>,
        max_pinned: usize,
    ) -> Result<PinOutcome, PortError> {
        let mut state = self.state.lock();
        if pinned_at.is_some() {
            let pinned = state
                .conversations_of
                .get(&user)
                .into_iter()
                .flatten()
                .filter(|other| **other != id)
                .filter_map(|other| state.conversations.get(other)?.members.get(&user))
                .filter(|member| member.pinned_at.is_some())
                .count();
            if pinned >= max_pinned {
                return Ok(PinOutcome::TooManyPinned);
            }
        }
        // Pinning a pinned conversation keeps its original pin time.
        if let Some(member) = state.conversations.get_mut(&id).and_then(|s| s.members.get_mut(&user))
            && (pinned_at.is_none() || member.pinned_at.is_none())
        {
            member.pinned_at = pinned_at;
        }
        Ok(PinOutcome::Done)
    }
}

fn ordered_pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

fn sort_key(conversation: &Conversation) -> (Timestamp, ConversationId) {
    (conversation.last_activity_at, conversation.id)
}

fn insert_conversation(state: &mut State, mut conversation: Conversation, members: Vec<Member>) {
    conversation.member_count = 0;
    let id = conversation.id;
    state.conversations.insert(id, StoredConversation { conversation, members: HashMap::new(), messages: Vec::new() });
    for member in members {
        state.add_member(member);
    }
}

fn stored_conversation(state: &State, id: ConversationId) -> Result<Conversation, PortError> {
    state
        .conversations
        .get(&id)
        .map(|s| s.conversation.clone())
        .ok_or_else(|| PortError::Internal(format!("conversation {id} vanished")))
}

fn summary(stored: &StoredConversation, member: &Member) -> ConversationSummary {
    ConversationSummary {
        conversation: stored.conversation.clone(),
        membership: member.clone(),
        last_message: stored.messages.last().cloned(),
        unread_count: member_unread_count(stored, member),
        peer: None,
    }
}

/// The member's unread count in one conversation, the one figure both the conversation list
/// and the badge total show: others' messages after the member's read mark.
fn member_unread_count(stored: &StoredConversation, member: &Member) -> u64 {
    let after_read = usize::try_from(member.read_seq).unwrap_or(usize::MAX).min(stored.messages.len());
    let others_after_read = stored.messages[after_read..]
        .iter()
        .filter(|m| m.sender_id != member.user_id && m.kind != MessageKind::System)
        .count();
    unread_count(stored.conversation.last_seq, member.read_seq, others_after_read as u64)
}

/// One user's badge total of [`ConversationRepo::unread_totals`]: unread counts of the user's
/// conversations not muted at `now`, summed until the sum reaches `cap`.
fn unread_total(state: &State, user: UserId, now: Timestamp, cap: u64) -> u64 {
    let memberships = state
        .conversations_of
        .get(&user)
        .into_iter()
        .flatten()
        .filter_map(|id| state.conversations.get(id))
        .filter_map(|stored| stored.members.get(&user).map(|member| (stored, member)))
        .filter(|(_, member)| !member.mute.is_some_and(|mute| mute.is_active(now)));
    let mut total = 0u64;
    for (stored, member) in memberships {
        total = total.saturating_add(member_unread_count(stored, member));
        if total >= cap {
            return cap;
        }
    }
    total
}

fn raise_mark(
    state: &mut State,
    id: ConversationId,
    user: UserId,
    seq: u64,
    mark: fn(&mut Member) -> &mut u64,
) -> Option<u64> {
    let stored = state.conversations.get_mut(&id)?;
    let target = seq.min(stored.conversation.last_seq);
    let member = stored.members.get_mut(&user)?;
    let current = mark(member);
    if target <= *current {
        return None;
    }
    *current = target;
    Some(target)
}
