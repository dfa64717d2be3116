//! Typed identifiers. All are UUIDs (v7, time-ordered, made by the `IdGen` port).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The UUID inside.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

uuid_id!(
    /// A registered user.
    UserId
);
uuid_id!(
    /// One logged-in device; each WebSocket connection belongs to one session.
    SessionId
);
uuid_id!(
    /// One WebSocket connection, from its upgrade to its close; made by the `IdGen` port.
    /// Not a session: a session (a logged-in device) may hold several connections at once,
    /// and presence counts connections, so a user stays online until their last one closes.
    ConnectionId
);
uuid_id!(
    /// A direct or group conversation.
    ConversationId
);
uuid_id!(
    /// A stored message.
    MessageId
);
uuid_id!(
    /// The client's idempotency key for a send: a retry with the same key returns the original.
    ClientMsgId
);
uuid_id!(
    /// A friend request.
    FriendRequestId
);
uuid_id!(
    /// An uploaded photo, video, voice message or file.
    MediaId
);
uuid_id!(
    /// A device registered for push notifications.
    DeviceId
);
uuid_id!(
    /// A 1-on-1 voice or video call, from its invite to its end.
    CallId
);
uuid_id!(
    /// One running chat-server process (a node of a deployment), from its start to its exit:
    /// whose sockets carry which device, and whose heartbeat says it is alive.
    NodeId
);

impl NodeId {
    /// The node of a call stored before calls recorded their nodes (a rolling upgrade): no
    /// live node has it, so no node's death is taken for that call's.
    pub fn unknown() -> NodeId {
        NodeId(Uuid::nil())
    }
}
