//! Storage of the social graph: friend requests, friendships and blocks.

use std::collections::HashSet;

use async_trait::async_trait;

use crate::domain::Timestamp;
use crate::domain::error::PortError;
use crate::domain::ids::{FriendRequestId, UserId};
use crate::domain::social::{Block, FriendRequest, Friendship, RequestStatus};

/// What storing a friend request did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendRequestOutcome {
    /// A new pending request.
    Sent(FriendRequest),
    /// The other user had already asked: their request is now accepted and both are friends.
    AcceptedTheirs(FriendRequest),
    /// The two are friends already: nothing was stored.
    AlreadyFriends,
    /// This user already has a pending request to the other one.
    AlreadyPending(FriendRequest),
    /// One of the two has blocked the other (checked in the same step as the insert).
    Blocked,
}

/// Storage of friendships, friend requests and blocks.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait SocialRepo: Send + Sync {
    /// Sends a request atomically: at most one pending request per pair, and a request to
    /// someone who already asked you accepts theirs instead.
    async fn send_friend_request(&self, request: FriendRequest) -> Result<SendRequestOutcome, PortError>;
    /// One friend request, in any status.
    async fn friend_request(&self, id: FriendRequestId) -> Result<Option<FriendRequest>, PortError>;
    /// Moves a pending request to `status` (accepting makes the two friends, atomically).
    /// Returns `None` if it was not pending, or if it was to be accepted across a block.
    async fn answer_friend_request(
        &self,
        id: FriendRequestId,
        status: RequestStatus,
        now: Timestamp,
    ) -> Result<Option<FriendRequest>, PortError>;
    /// Pending requests to (`incoming`) or from a user, newest first.
    async fn pending_requests(&self, user: UserId, incoming: bool) -> Result<Vec<FriendRequest>, PortError>;
    /// A user's friends, each with the time they became friends.
    async fn friends(&self, user: UserId) -> Result<Vec<Friendship>, PortError>;
    /// Whether the two are friends.
    async fn are_friends(&self, a: UserId, b: UserId) -> Result<bool, PortError>;
    /// Ends a friendship; returns whether there was one.
    async fn unfriend(&self, a: UserId, b: UserId) -> Result<bool, PortError>;
    /// Blocks, and in the same step ends any friendship and pending request between the two.
    async fn block(&self, blocker: UserId, blocked: UserId, now: Timestamp) -> Result<(), PortError>;
    /// Returns whether there was a block.
    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool, PortError>;
    /// The users `user` blocked.
    async fn blocks(&self, user: UserId) -> Result<Vec<Block>, PortError>;
    /// Whether either of the two blocked the other.
    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<bool, PortError>;
    /// Everyone `user` blocked or was blocked by: hidden from each other everywhere.
    async fn hidden_from(&self, user: UserId) -> Result<HashSet<UserId>, PortError>;
}
