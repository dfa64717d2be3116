//! Events the core publishes for delivery to users' live connections.

use serde::{Deserialize, Serialize};

use super::account::PublicProfile;
use super::call::CallMedia;
use super::conversation::Conversation;
use super::ids::{CallId, ConversationId, MediaId, SessionId, UserId};
use super::media::{Attachment, MediaStatus};
use super::message::Message;
use super::social::FriendRequest;

/// What changed about a message that already existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageChange {
    /// Its text was edited.
    Edited,
    /// It was recalled for everyone.
    Recalled,
    /// A reaction was set or taken back.
    Reaction,
}

/// Which high-water mark a receipt moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// The member's devices received messages up to `seq`.
    Delivered,
    /// The member read messages up to `seq`.
    Read,
}

/// Whether a member is typing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TypingState {
    /// They began typing.
    Started,
    /// They stopped (or sent).
    Stopped,
}

/// What happened to a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationChange {
    /// It was created (the recipient is a member).
    Created,
    /// The group got a new title.
    Renamed,
    /// The group got a new photo (or lost it).
    AvatarChanged,
    /// Members joined.
    MembersAdded,
    /// A member was removed.
    MemberRemoved,
    /// A member left.
    MemberLeft,
    /// Sent to a user who is no longer a member: drop the conversation.
    Removed,
}

/// Something that happened, as live connections receive it (the `type` tag is the frame
/// type of the WebSocket protocol).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A new message in a conversation of the recipient.
    #[serde(rename = "message.new")]
    MessageNew {
        /// The stored message.
        message: Message,
    },
    /// A message was edited, recalled or reacted to.
    #[serde(rename = "message.updated")]
    MessageUpdated {
        /// What changed.
        change: MessageChange,
        /// The message as it is now.
        message: Message,
    },
    /// A member's delivered or read mark moved.
    #[serde(rename = "receipt")]
    Receipt {
        /// The conversation.
        conversation_id: ConversationId,
        /// The member.
        user_id: UserId,
        /// Which mark moved.
        kind: ReceiptKind,
        /// Its new value.
        seq: u64,
    },
    /// A member started or stopped typing.
    #[serde(rename = "typing")]
    Typing {
        /// The conversation.
        conversation_id: ConversationId,
        /// The member.
        user_id: UserId,
        /// Started or stopped.
        state: TypingState,
    },
    /// A conversation was created or changed.
    #[serde(rename = "conversation.updated")]
    ConversationUpdated {
        /// What happened.
        change: ConversationChange,
        /// The conversation as it is now.
        conversation: Conversation,
    },
    /// Someone asked the recipient to be friends.
    #[serde(rename = "friend.request")]
    FriendRequest {
        /// The request.
        request: FriendRequest,
        /// Who asked.
        from: PublicProfile,
    },
    /// A friend request was accepted: the two are friends.
    #[serde(rename = "friend.accepted")]
    FriendAccepted {
        /// The accepted request.
        request: FriendRequest,
        /// The new friend.
        friend: PublicProfile,
    },
    /// A pending request to the recipient was withdrawn.
    #[serde(rename = "friend.request_cancelled")]
    FriendRequestCancelled {
        /// The cancelled request.
        request: FriendRequest,
    },
    /// A user the recipient may see came online or went offline.
    #[serde(rename = "presence")]
    Presence {
        /// The user.
        user_id: UserId,
        /// Whether they are online now.
        online: bool,
        /// When they went offline (absent while online).
        last_seen: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A media item of the recipient moved on (uploaded, processing): for the owner's devices.
    #[serde(rename = "media.progress")]
    MediaProgress {
        /// The media.
        media_id: MediaId,
        /// Where it is now.
        status: MediaStatus,
        /// How far processing is, 0-100, when the worker can tell.
        percent: Option<u8>,
    },
    /// A media item is ready to download: for the owner's devices and the members of the
    /// conversations where it is attached.
    #[serde(rename = "media.ready")]
    MediaReady {
        /// The media as messages carry it, with its variants.
        media: Attachment,
    },
    /// A media item was refused by processing and will not be served: for the owner's devices.
    #[serde(rename = "media.failed")]
    MediaFailed {
        /// The media.
        media_id: MediaId,
        /// A stable code saying why (e.g. `content_mismatch`, `infected`, `too_long`).
        reason: String,
    },
    /// Ring: someone calls (to every device of the callee).
    #[serde(rename = "call.incoming")]
    CallIncoming {
        /// The call.
        call_id: CallId,
        /// Who calls.
        caller: PublicProfile,
        /// The direct conversation of the two.
        conversation_id: ConversationId,
        /// `audio` or `video`.
        media: CallMedia,
        /// The caller's SDP offer.
        sdp: String,
    },
    /// The callee's devices are ringing (to the caller's device).
    #[serde(rename = "call.ringing")]
    CallRinging {
        /// The call.
        call_id: CallId,
    },
    /// The callee answered (to the caller's device).
    #[serde(rename = "call.accepted")]
    CallAccepted {
        /// The call.
        call_id: CallId,
        /// The callee's SDP answer.
        sdp: String,
    },
    /// An ICE candidate from the other device of the call.
    #[serde(rename = "call.ice")]
    CallIce {
        /// The call.
        call_id: CallId,
        /// The candidate object as the other browser sent it (`candidate`, `sdpMid`,
        /// `sdpMLineIndex`, `usernameFragment`).
        candidate: serde_json::Value,
    },
    /// The call is over, or (`answered_elsewhere`) over for this device.
    #[serde(rename = "call.ended")]
    CallEnded {
        /// The call.
        call_id: CallId,
        /// `missed`, `declined`, `cancelled`, `busy`, `hung_up`, `connection_lost` or
        /// `answered_elsewhere`.
        reason: String,
        /// How long it was answered, in milliseconds, when it was.
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// Not shown to clients: tells gateways to close the sockets of revoked sessions.
    #[serde(rename = "session.revoked")]
    SessionsRevoked {
        /// The revoked sessions.
        session_ids: Vec<SessionId>,
    },
}

/// An event and who gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The users whose live connections get it.
    pub recipients: Vec<UserId>,
    /// The connection the action came from, which already got an `ack` and needs no copy.
    pub except_session: Option<SessionId>,
    /// Only this session's connections get it (a call's signals go to one device of a user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_session: Option<SessionId>,
    /// What happened.
    pub event: Event,
}
