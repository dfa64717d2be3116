//! `SocialRepo` in memory.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{FriendRequestId, UserId};
use chat_core::domain::social::{Block, FriendRequest, Friendship, RequestStatus};
use chat_core::ports::{SendRequestOutcome, SocialRepo};

use crate::store::MemoryStore;

/// The graph's state, kept inside the store's one lock.
#[derive(Default)]
pub(crate) struct SocialState {
    requests: HashMap<FriendRequestId, FriendRequest>,
    /// Both directions: `friends[a]` holds b and `friends[b]` holds a.
    friends: HashMap<UserId, HashMap<UserId, Timestamp>>,
    /// `blocks[blocker]` holds who they blocked.
    blocks: HashMap<UserId, HashMap<UserId, Timestamp>>,
}

impl SocialState {
    fn pending_between(&self, a: UserId, b: UserId) -> Option<&FriendRequest> {
        self.requests.values().find(|r| {
            r.status == RequestStatus::Pending
                && ((r.from_user == a && r.to_user == b) || (r.from_user == b && r.to_user == a))
        })
    }

    fn befriend(&mut self, a: UserId, b: UserId, since: Timestamp) {
        self.friends.entry(a).or_default().insert(b, since);
        self.friends.entry(b).or_default().insert(a, since);
    }

    fn unfriend(&mut self, a: UserId, b: UserId) -> bool {
        let removed = self.friends.get_mut(&a).and_then(|f| f.remove(&b)).is_some();
        self.friends.get_mut(&b).and_then(|f| f.remove(&a));
        removed
    }

    pub(crate) fn are_friends(&self, a: UserId, b: UserId) -> bool {
        self.friends.get(&a).is_some_and(|f| f.contains_key(&b))
    }

    pub(crate) fn blocked(&self, blocker: UserId, blocked: UserId) -> bool {
        self.blocks.get(&blocker).is_some_and(|b| b.contains_key(&blocked))
    }
}

#[async_trait]
impl SocialRepo for MemoryStore {
    async fn send_friend_request(&self, request: FriendRequest) -> Result<SendRequestOutcome, PortError> {
        let mut state = self.state.lock();
        let social = &mut state.social;
        if social.blocked(request.from_user, request.to_user) || social.blocked(request.to_user, request.from_user) {
            return Ok(SendRequestOutcome::Blocked);
        }
        if social.are_friends(request.from_user, request.to_user) {
            return Ok(SendRequestOutcome::AlreadyFriends);
        }
        if let Some(pending) = social.pending_between(request.from_user, request.to_user).cloned() {
            if pending.from_user == request.from_user {
                return Ok(SendRequestOutcome::AlreadyPending(pending));
            }
            let mut theirs = pending;
            theirs.status = RequestStatus::Accepted;
            theirs.answered_at = Some(request.created_at);
            social.requests.insert(theirs.id, theirs.clone());
            social.befriend(theirs.from_user, theirs.to_user, request.created_at);
            return Ok(SendRequestOutcome::AcceptedTheirs(theirs));
        }
        social.requests.insert(request.id, request.clone());
        Ok(SendRequestOutcome::Sent(request))
    }

    async fn friend_request(&self, id: FriendRequestId) -> Result<Option<FriendRequest>, PortError> {
        Ok(self.state.lock().social.requests.get(&id).cloned())
    }

    async fn answer_friend_request(
        &self,
        id: FriendRequestId,
        status: RequestStatus,
        now: Timestamp,
    ) -> Result<Option<FriendRequest>, PortError> {
        let mut state = self.state.lock();
        let social = &mut state.social;
        let Some((from, to)) =
            social.requests.get(&id).filter(|r| r.status == RequestStatus::Pending).map(|r| (r.from_user, r.to_user))
        else {
            return Ok(None);
        };
        if status == RequestStatus::Accepted && (social.blocked(from, to) || social.blocked(to, from)) {
            return Ok(None);
        }
        let Some(request) = social.requests.get_mut(&id) else {
            return Ok(None);
        };
        request.status = status;
        request.answered_at = Some(now);
        let answered = request.clone();
        if status == RequestStatus::Accepted {
            social.befriend(answered.from_user, answered.to_user, now);
        }
        Ok(Some(answered))
    }

    async fn pending_requests(&self, user: UserId, incoming: bool) -> Result<Vec<FriendRequest>, PortError> {
        let state = self.state.lock();
        let mut requests: Vec<FriendRequest> = state
            .social
            .requests
            .values()
            .filter(|r| r.status == RequestStatus::Pending)
            .filter(|r| if incoming { r.to_user == user } else { r.from_user == user })
            .cloned()
            .collect();
        requests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(requests)
    }

    async fn friends(&self, user: UserId) -> Result<Vec<Friendship>, PortError> {
        let state = self.state.lock();
        let friends = state.social.friends.get(&user).into_iter().flatten();
        Ok(friends.map(|(friend, since)| Friendship { friend: *friend, since: *since }).collect())
    }

    async fn are_friends(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        Ok(self.state.lock().social.are_friends(a, b))
    }

    async fn unfriend(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        Ok(self.state.lock().social.unfriend(a, b))
    }

    async fn block(&self, blocker: UserId, blocked: UserId, now: Timestamp) -> Result<(), PortError> {
        let mut state = self.state.lock();
        let social = &mut state.social;
        social.blocks.entry(blocker).or_default().entry(blocked).or_insert(now);
        social.unfriend(blocker, blocked);
        for request in social.requests.values_mut() {
            let between = (request.from_user == blocker && request.to_user == blocked)
                || (request.from_user == blocked && request.to_user == blocker);
            if between && request.status == RequestStatus::Pending {
                request.status = RequestStatus::Cancelled;
                request.answered_at = Some(now);
            }
        }
        Ok(())
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool, PortError> {
        let mut state = self.state.lock();
        Ok(state.social.blocks.get_mut(&blocker).and_then(|b| b.remove(&blocked)).is_some())
    }

    async fn blocks(&self, user: UserId) -> Result<Vec<Block>, PortError> {
        let state = self.state.lock();
        let mut blocks: Vec<Block> = state
            .social
            .blocks
            .get(&user)
            .into_iter()
            .flatten()
            .map(|(user_id, blocked_at)| Block { user_id: *user_id, blocked_at: *blocked_at })
            .collect();
        blocks.sort_by(|a, b| b.blocked_at.cmp(&a.blocked_at).then(a.user_id.cmp(&b.user_id)));
        Ok(blocks)
    }

    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        let state = self.state.lock();
        Ok(state.social.blocked(a, b) || state.social.blocked(b, a))
    }

    async fn hidden_from(&self, user: UserId) -> Result<HashSet<UserId>, PortError> {
        let state = self.state.lock();
        let mut hidden: HashSet<UserId> =
            state.social.blocks.get(&user).into_iter().flatten().map(|(u, _)| *u).collect();
        hidden.extend(
            state.social.blocks.iter().filter(|(_, blocked)| blocked.contains_key(&user)).map(|(blocker, _)| *blocker),
        );
        Ok(hidden)
    }
}
