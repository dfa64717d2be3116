//! Push notifications: the devices a user registered, what one notification to one device
//! says, and what the push service answered. The content rules (previews, languages) live
//! here so every sender (FCM today) shows the same thing.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::account::Locale;
use super::error::Invalid;
use super::ids::{CallId, DeviceId, FriendRequestId, MessageId, SessionId, UserId};

/// The longest token accepted (FCM tokens are about 160 characters; APNs and web push
/// registrations through FCM stay well below this).
pub const MAX_TOKEN_CHARS: usize = 4096;

/// Where a device's notifications are shown; decides the platform block of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// An Android phone (FCM `android` block).
    Android,
    /// An iPhone or iPad, through FCM's APNs bridge (`apns` block).
    Ios,
    /// A browser, through FCM's web push (`webpush` block).
    Web,
}

/// A push token as the device's push SDK gave it: opaque, 1 to 4,096 printable characters
/// without spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PushToken(String);

impl PushToken {
    /// Checks a token's shape (`invalid_push_token` otherwise).
    pub fn parse(raw: &str) -> Result<PushToken, Invalid> {
        let length = raw.chars().count();
        if length == 0 || length > MAX_TOKEN_CHARS || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Invalid::new(
                "invalid_push_token",
                format!("a push token is 1 to {MAX_TOKEN_CHARS} characters without spaces"),
            ));
        }
        Ok(PushToken(raw.to_owned()))
    }

    /// A token read back from storage, already checked when it was registered.
    pub fn from_stored(raw: String) -> PushToken {
        PushToken(raw)
    }

    /// The token as the push service knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A device registered for push, tied to the session that registered it: logging out or
/// revoking the session removes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The registration.
    pub id: DeviceId,
    /// Whose device it is.
    pub user_id: UserId,
    /// The session (login) it belongs to.
    pub session_id: SessionId,
    /// Android, iOS or web.
    pub platform: Platform,
    /// Where the push service delivers.
    pub token: PushToken,
    /// The device's language, when it said; otherwise the user's setting applies.
    pub locale: Option<Locale>,
    /// When it was registered (or last moved to a new session).
    pub registered_at: DateTime<Utc>,
}

/// How urgently the push service should deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Wake the device now (messages, calls).
    High,
    /// Deliver when convenient (friend requests).
    Normal,
}

/// What the notification is about; clients route taps by it (`data.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushKind {
    /// A new message.
    Message,
    /// A friend request arrived.
    FriendRequest,
    /// A friend request was accepted.
    FriendAccepted,
    /// An incoming call: a data-only message, high priority, short time to live.
    IncomingCall,
}

impl PushKind {
    /// The `data.type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Message => "message",
            PushKind::FriendRequest => "friend_request",
            PushKind::FriendAccepted => "friend_accepted",
            PushKind::IncomingCall => "call",
        }
    }
}

/// One notification to one device, in the push service's terms but no service's format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushNotification {
    /// The device's token.
    pub token: PushToken,
    /// Which platform block to fill in.
    pub platform: Platform,
    /// What it is about.
    pub kind: PushKind,
    /// The shown title (the sender's or the group's name); `None` for a data-only message.
    pub title: Option<String>,
    /// The shown text; `None` for a data-only message.
    pub body: Option<String>,
    /// A picture to show beside it (the sender's avatar URL).
    pub image_url: Option<String>,
    /// Groups notifications of one conversation (Android tag / collapse key, iOS thread id).
    pub thread: Option<String>,
    /// The app icon's badge: the user's total unread count (iOS).
    pub badge: Option<u32>,
    /// Key-value data for the app (`type`, `conversation_id`, `message_id`, ...).
    pub data: BTreeMap<String, String>,
    /// Delivery urgency.
    pub priority: Priority,
    /// How long the push service keeps trying a device that is offline.
    pub ttl: Option<Duration>,
}

/// What the push service answered for one notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted for delivery.
    Sent,
    /// The token is no longer valid (app uninstalled, token rotated, malformed): delete it.
    TokenGone {
        /// The service's words, for logs and metrics.
        reason: String,
    },
    /// The service refused this message and would refuse it again: drop it.
    Rejected {
        /// The service's words.
        reason: String,
    },
    /// A passing failure (overload, server error, timeout): try again, not before `after`
    /// when the service said.
    RetryLater {
        /// The service's `Retry-After`, if any.
        after: Option<Duration>,
        /// What happened.
        reason: String,
    },
}

/// The most characters of message text shown in a notification.
pub const PREVIEW_CHARS: usize = 100;

/// The text of a message notification, in the reader's language: the text cut at
/// [`PREVIEW_CHARS`] (with `…`), a label for media, or a neutral line when the reader hides
/// previews.
pub fn message_preview(
    kind: super::message::MessageKind,
    body: Option<&str>,
    locale: Locale,
    previews: bool,
) -> String {
    use super::message::MessageKind;
    let vi = locale == Locale::Vi;
    if !previews {
        return if vi { "Bạn có tin nhắn mới" } else { "You have a new message" }.to_owned();
    }
    let label = match kind {
        MessageKind::Image => Some(if vi { "📷 Ảnh" } else { "📷 Photo" }),
        MessageKind::Video => Some("🎥 Video"),
        MessageKind::Audio => Some(if vi { "🎤 Tin nhắn thoại" } else { "🎤 Voice message" }),
        MessageKind::File => Some(if vi { "📎 Tệp" } else { "📎 File" }),
        MessageKind::Text | MessageKind::System => None,
    };
    let text = body.map(str::trim).filter(|b| !b.is_empty()).map(cut);
    match (label, text) {
        (Some(label), Some(caption)) => format!("{label}: {caption}"),
        (Some(label), None) => label.to_owned(),
        (None, Some(text)) => text,
        (None, None) => if vi { "Tin nhắn mới" } else { "New message" }.to_owned(),
    }
}

/// A friend request's notification text.
pub fn friend_request_text(from: &str, locale: Locale) -> String {
    match locale {
        Locale::Vi => format!("{from} đã gửi cho bạn lời mời kết bạn"),
        Locale::En => format!("{from} sent you a friend request"),
    }
}

/// An accepted request's notification text.
pub fn friend_accepted_text(by: &str, locale: Locale) -> String {
    match locale {
        Locale::Vi => format!("{by} đã chấp nhận lời mời kết bạn"),
        Locale::En => format!("{by} accepted your friend request"),
    }
}

fn cut(text: &str) -> String {
    let single_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if single_line.chars().count() <= PREVIEW_CHARS {
        return single_line;
    }
    let mut cut: String = single_line.chars().take(PREVIEW_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// What happened that users are told of by push.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PushEvent {
    /// A new message: every recipient who is offline and has not muted its conversation.
    Message(MessageId),
    /// A friend request arrived: its recipient.
    FriendRequest(FriendRequestId),
    /// A friend request was accepted: its sender.
    FriendAccepted(FriendRequestId),
    /// A call rings: the callee's devices without a live connection (data only, high
    /// priority, alive while it may ring).
    IncomingCall(CallId),
}

/// A push job: the event, to everyone it concerns, or to one device only (a retry after the
/// push service asked to come back later, once the event's other devices were served). Jobs
/// name the event only; the worker reads the rest when it runs, so a message recalled or a
/// conversation muted meanwhile is honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PushTask {
    /// What to notify about.
    pub event: PushEvent,
    /// Only this device, when set.
    pub device: Option<DeviceId>,
}

impl PushTask {
    /// The event, to everyone it concerns.
    pub fn event(event: PushEvent) -> PushTask {
        PushTask { event, device: None }
    }

    /// The task as a queue key (see `JobTask::key`): `message:<id>`, `friend-request:<id>`
    /// or `friend-accepted:<id>`, then `:device:<id>` for one device.
    pub fn key(&self) -> String {
        let event = match self.event {
            PushEvent::Message(message) => format!("message:{message}"),
            PushEvent::FriendRequest(request) => format!("friend-request:{request}"),
            PushEvent::FriendAccepted(request) => format!("friend-accepted:{request}"),
            PushEvent::IncomingCall(call) => format!("call:{call}"),
        };
        match self.device {
            Some(device) => format!("{event}:device:{device}"),
            None => event,
        }
    }

    /// Reads a [`key`](PushTask::key) back.
    pub fn parse(key: &str) -> Result<PushTask, String> {
        let id = |raw: &str| raw.parse::<uuid::Uuid>().map_err(|e| format!("push task {key:?}: {e}"));
        let parts: Vec<&str> = key.split(':').collect();
        let (kind, event_id, device) = match parts.as_slice() {
            [kind, event_id] => (*kind, id(event_id)?, None),
            [kind, event_id, "device", device] => (*kind, id(event_id)?, Some(DeviceId(id(device)?))),
            _ => return Err(format!("push task {key:?}: unknown")),
        };
        Self::parse_event(kind, event_id, device, key)
    }

    fn parse_event(kind: &str, id: uuid::Uuid, device: Option<DeviceId>, key: &str) -> Result<PushTask, String> {
        let event = match kind {
            "message" => PushEvent::Message(MessageId(id)),
            "friend-request" => PushEvent::FriendRequest(FriendRequestId(id)),
            "friend-accepted" => PushEvent::FriendAccepted(FriendRequestId(id)),
            "call" => PushEvent::IncomingCall(CallId(id)),
            _ => return Err(format!("push task {key:?}: unknown")),
        };
        Ok(PushTask { event, device })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::MessageKind;

    #[test]
    fn tokens_are_checked_for_shape_only() {
        assert!(PushToken::parse("dGVzdA:APA91b-x_y").is_ok());
        for bad in ["", "a b", "a\nb", &"x".repeat(MAX_TOKEN_CHARS + 1)] {
            assert_eq!(PushToken::parse(bad).map_err(|e| e.code), Err("invalid_push_token"));
        }
    }

    #[test]
    fn previews_follow_kind_language_and_setting() {
        assert_eq!(message_preview(MessageKind::Text, Some("chào\nem"), Locale::Vi, true), "chào em");
        assert_eq!(message_preview(MessageKind::Image, None, Locale::Vi, true), "📷 Ảnh");
        assert_eq!(message_preview(MessageKind::Image, Some("Đà Lạt"), Locale::En, true), "📷 Photo: Đà Lạt");
        assert_eq!(message_preview(MessageKind::Video, None, Locale::Vi, true), "🎥 Video");
        assert_eq!(message_preview(MessageKind::File, None, Locale::Vi, true), "📎 Tệp");
        assert_eq!(message_preview(MessageKind::Audio, None, Locale::En, true), "🎤 Voice message");
        assert_eq!(message_preview(MessageKind::Text, Some("bí mật"), Locale::Vi, false), "Bạn có tin nhắn mới");
        let long = "ữ".repeat(300);
        let cut = message_preview(MessageKind::Text, Some(&long), Locale::Vi, true);
        assert_eq!(cut.chars().count(), PREVIEW_CHARS);
        assert!(cut.ends_with('…'));
    }
}
