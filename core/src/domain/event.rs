//! Events the core publishes for delivery to users' live connections.

use serde::{Deserialize, Serialize};

use super::account::PublicProfile;
use super::conversation::Conversation;
use super::ids::{ConversationId, SessionId, UserId};
use super::message::Message;
use super::social::FriendRequest;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageChange {
    Edited,
    Recalled,
    Reaction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Delivered,
    Read,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TypingState {
    Started,
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationChange {
    Created,
    Renamed,
    MembersAdded,
    MemberRemoved,
    MemberLeft,
    /// Sent to a user who is no longer a member: drop the conversation.
    Removed,
}

/// Something that happened, as live connections receive it (the `type` tag is the frame
/// type of the WebSocket protocol).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "message.new")]
    MessageNew { message: Message },
    #[serde(rename = "message.updated")]
    MessageUpdated { change: MessageChange, message: Message },
    #[serde(rename = "receipt")]
    Receipt { conversation_id: ConversationId, user_id: UserId, kind: ReceiptKind, seq: u64 },
    #[serde(rename = "typing")]
    Typing { conversation_id: ConversationId, user_id: UserId, state: TypingState },
    #[serde(rename = "conversation.updated")]
    ConversationUpdated { change: ConversationChange, conversation: Conversation },
    #[serde(rename = "friend.request")]
    FriendRequest { request: FriendRequest, from: PublicProfile },
    #[serde(rename = "friend.accepted")]
    FriendAccepted { request: FriendRequest, friend: PublicProfile },
    #[serde(rename = "friend.request_cancelled")]
    FriendRequestCancelled { request: FriendRequest },
    #[serde(rename = "presence")]
    Presence { user_id: UserId, online: bool, last_seen: Option<chrono::DateTime<chrono::Utc>> },
    /// Not shown to clients: tells gateways to close the sockets of revoked sessions.
    #[serde(rename = "session.revoked")]
    SessionsRevoked { session_ids: Vec<SessionId> },
}

/// An event and who gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub recipients: Vec<UserId>,
    /// The connection the action came from, which already got an `ack` and needs no copy.
    pub except_session: Option<SessionId>,
    pub event: Event,
}
