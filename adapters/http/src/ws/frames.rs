//! The JSON frames of the WebSocket protocol (see docs/protocol.md).

use std::collections::HashMap;

use chat_core::app::sync::SyncedConversation;
use chat_core::domain::call::CallMedia;
use chat_core::domain::event::TypingState;
use chat_core::domain::ids::{CallId, ClientMsgId, ConversationId, MediaId, MessageId, SessionId, UserId};
use chat_core::domain::message::{Message, MessageKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A frame from the client. `id`, when present, is echoed in the `ack` or `error`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum ClientFrame {
    #[serde(rename = "auth")]
    Auth { token: String },
    #[serde(rename = "message.send")]
    MessageSend {
        conversation_id: ConversationId,
        client_msg_id: ClientMsgId,
        /// TEXT unless media say otherwise (see `SendMessage`).
        #[serde(default)]
        kind: Option<MessageKind>,
        body: Option<String>,
        #[serde(default, alias = "attachments")]
        media_ids: Vec<MediaId>,
        reply_to: Option<MessageId>,
    },
    #[serde(rename = "typing")]
    Typing {
        conversation_id: ConversationId,
        #[serde(default = "typing_started")]
        state: TypingState,
    },
    #[serde(rename = "receipt.read")]
    ReceiptRead { conversation_id: ConversationId, seq: u64 },
    #[serde(rename = "receipt.delivered")]
    ReceiptDelivered { conversation_id: ConversationId, seq: u64 },
    #[serde(rename = "heartbeat")]
    Heartbeat,
    #[serde(rename = "call.invite")]
    CallInvite { user_id: UserId, media: CallMedia, sdp: String },
    #[serde(rename = "call.accept")]
    CallAccept { call_id: CallId, sdp: String },
    #[serde(rename = "call.reject")]
    CallReject { call_id: CallId },
    #[serde(rename = "call.cancel")]
    CallCancel { call_id: CallId },
    #[serde(rename = "call.hangup")]
    CallHangup { call_id: CallId },
    /// `candidate`: the browser's candidate object (`RTCIceCandidate.toJSON()`), relayed as is.
    #[serde(rename = "call.ice")]
    CallIce { call_id: CallId, candidate: Value },
    #[serde(rename = "sync")]
    Sync {
        #[serde(default)]
        since: HashMap<ConversationId, u64>,
        /// Per conversation, the last change number seen: edits, recalls and reactions after
        /// it are replayed as `message.updated`.
        #[serde(default)]
        changes_since: HashMap<ConversationId, u64>,
    },
}

impl ClientFrame {
    /// The frame's `type`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Auth { .. } => "auth",
            ClientFrame::MessageSend { .. } => "message.send",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::ReceiptRead { .. } => "receipt.read",
            ClientFrame::ReceiptDelivered { .. } => "receipt.delivered",
            ClientFrame::Heartbeat => "heartbeat",
            ClientFrame::CallInvite { .. } => "call.invite",
            ClientFrame::CallAccept { .. } => "call.accept",
            ClientFrame::CallReject { .. } => "call.reject",
            ClientFrame::CallCancel { .. } => "call.cancel",
            ClientFrame::CallHangup { .. } => "call.hangup",
            ClientFrame::CallIce { .. } => "call.ice",
            ClientFrame::Sync { .. } => "sync",
        }
    }
}

fn typing_started() -> TypingState {
    TypingState::Started
}

/// Every client frame type, to tell an unknown type from a malformed known one. Kept by hand;
/// a test ties it to the serde tags of `ClientFrame` and to `ClientFrame::kind`.
pub const CLIENT_FRAME_TYPES: &[&str] = &[
    "auth",
    "message.send",
    "typing",
    "receipt.read",
    "receipt.delivered",
    "heartbeat",
    "call.invite",
    "call.accept",
    "call.reject",
    "call.cancel",
    "call.hangup",
    "call.ice",
    "sync",
];

/// Why a text frame could not be read.
pub enum FrameError {
    InvalidJson(String),
    UnknownType(String),
    InvalidFrame(String),
}

/// Parses one text frame into its request id and the frame.
pub fn parse(text: &str) -> (Option<Value>, Result<ClientFrame, FrameError>) {
    let mut value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => return (None, Err(FrameError::InvalidJson(error.to_string()))),
    };
    let id = value.as_object_mut().and_then(|object| object.remove("id"));
    let kind = value.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    if !CLIENT_FRAME_TYPES.contains(&kind.as_str()) {
        return (id, Err(FrameError::UnknownType(kind)));
    }
    let frame = serde_json::from_value(value).map_err(|error| FrameError::InvalidFrame(error.to_string()));
    (id, frame)
}

/// Frames the server sends in reply to a client frame (events are `chat_core::domain::event::Event`).
// Built and serialised at once, never stored: the size of an `ack` carrying a message costs
// nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ServerFrame<'a> {
    #[serde(rename = "ready")]
    Ready { user_id: UserId, session_id: SessionId, heartbeat_interval_ms: u64 },
    #[serde(rename = "ack")]
    Ack {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
        #[serde(flatten)]
        body: AckBody,
    },
    #[serde(rename = "error")]
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    #[serde(rename = "heartbeat.ack")]
    HeartbeatAck {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
    },
}

// Built and serialised at once, never stored: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AckBody {
    /// `message.send`: the stored message; `duplicate` when this was a retry.
    Message { message: Message, duplicate: bool },
    /// `receipt.*`: the mark as stored.
    Receipt { conversation_id: ConversationId, seq: u64 },
    /// `sync`: after the replayed `message.new` frames, where each conversation stands.
    Sync { conversations: Vec<SyncedConversation> },
    /// `call.invite`: the new call's id.
    Call { call_id: CallId },
    /// `typing` and others with nothing to report.
    Empty {},
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;

    /// One frame of each variant, as a client sends it.
    fn samples() -> Vec<Value> {
        let conversation = uuid::Uuid::from_u128(1).to_string();
        vec![
            json!({"type": "auth", "token": "t"}),
            json!({"type": "message.send", "conversation_id": conversation, "client_msg_id": uuid::Uuid::from_u128(2).to_string(), "body": "hi"}),
            json!({"type": "typing", "conversation_id": conversation}),
            json!({"type": "receipt.read", "conversation_id": conversation, "seq": 1}),
            json!({"type": "receipt.delivered", "conversation_id": conversation, "seq": 1}),
            json!({"type": "heartbeat"}),
            json!({"type": "call.invite", "user_id": uuid::Uuid::from_u128(3).to_string(), "media": "video", "sdp": "v=0"}),
            json!({"type": "call.accept", "call_id": uuid::Uuid::from_u128(4).to_string(), "sdp": "v=0"}),
            json!({"type": "call.reject", "call_id": uuid::Uuid::from_u128(4).to_string()}),
            json!({"type": "call.cancel", "call_id": uuid::Uuid::from_u128(4).to_string()}),
            json!({"type": "call.hangup", "call_id": uuid::Uuid::from_u128(4).to_string()}),
            json!({"type": "call.ice", "call_id": uuid::Uuid::from_u128(4).to_string(), "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}}),
            json!({"type": "sync"}),
        ]
    }

    /// Which variant a frame is. Exhaustive: a new variant does not compile until it is
    /// numbered here, and the test below then fails until it has a sample.
    fn variant(frame: &ClientFrame) -> usize {
        match frame {
            ClientFrame::Auth { .. } => 0,
            ClientFrame::MessageSend { .. } => 1,
            ClientFrame::Typing { .. } => 2,
            ClientFrame::ReceiptRead { .. } => 3,
            ClientFrame::ReceiptDelivered { .. } => 4,
            ClientFrame::Heartbeat => 5,
            ClientFrame::Sync { .. } => 6,
            ClientFrame::CallInvite { .. } => 7,
            ClientFrame::CallAccept { .. } => 8,
            ClientFrame::CallReject { .. } => 9,
            ClientFrame::CallCancel { .. } => 10,
            ClientFrame::CallHangup { .. } => 11,
            ClientFrame::CallIce { .. } => 12,
        }
    }
    const VARIANTS: usize = 13;

    #[test]
    fn the_list_of_frame_types_is_exactly_the_enums_tags() {
        let mut covered = BTreeSet::new();
        let mut tags = BTreeSet::new();
        for sample in samples() {
            let (_, parsed) = parse(&sample.to_string());
            let Ok(frame) = parsed else { panic!("sample {sample} does not parse") };
            let tag = sample["type"].as_str().unwrap_or_default().to_owned();
            assert_eq!(frame.kind(), tag, "kind() of {sample}");
            covered.insert(variant(&frame));
            tags.insert(tag);
        }
        assert_eq!(covered.len(), VARIANTS, "every variant has a sample");
        let listed: BTreeSet<String> = CLIENT_FRAME_TYPES.iter().map(|kind| (*kind).to_owned()).collect();
        assert_eq!(listed, tags, "CLIENT_FRAME_TYPES is exactly the serde tags of ClientFrame");
    }

    #[test]
    fn an_unlisted_type_is_unknown_and_a_listed_one_with_bad_fields_is_invalid() {
        assert!(matches!(parse(r#"{"type":"message.sent"}"#).1, Err(FrameError::UnknownType(_))));
        assert!(matches!(parse(r#"{"type":"receipt.read"}"#).1, Err(FrameError::InvalidFrame(_))));
    }
}
