//! What each push notification says and how it is delivered, per event and per device: the
//! rules a user sees (titles, previews, languages, grouping, badges), kept apart from the
//! decision of who is notified (the push use case) and from any service's format (chat-fcm).

use std::collections::BTreeMap;
use std::time::Duration;

use super::account::{Locale, User};
use super::call::{CallMedia, CallOutcome};
use super::conversation::{Conversation, ConversationKind};
use super::ids::{ConversationId, UserId};
use super::message::{Message, SystemEvent};
use super::push::{
    Device, Priority, PushKind, PushNotification, friend_accepted_text, friend_request_text, message_preview,
};

/// How long the push service keeps a message notification for a device that is off: a
/// day-old "new message" is still worth seeing when the phone comes back.
pub const MESSAGE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long it keeps a friend notification.
pub const FRIEND_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The most a badge counts; the apps show "99+" well before.
pub const BADGE_CAP: u64 = 999;

/// The reader of a notification as its content needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reader<'a> {
    /// The user.
    pub user: &'a User,
    /// The device shown on.
    pub device: &'a Device,
    /// The user's unread messages (the app badge).
    pub badge: u64,
}

impl Reader<'_> {
    /// The device's language when it said, else the user's.
    pub fn locale(&self) -> Locale {
        self.device.locale.unwrap_or(self.user.settings.locale)
    }

    fn badge(&self) -> Option<u32> {
        u32::try_from(self.badge.min(BADGE_CAP)).ok()
    }
}

/// A new message's notification: in a direct conversation the sender's name over the
/// preview; in a group the group's name over "Sender: preview". Grouped by conversation (a
/// newer one replaces the older on Android, they thread on iOS). `avatar_url` is the
/// sender's picture, fetchable without logging in for as long as the notification lives.
pub fn message_notification(
    reader: Reader<'_>,
    message: &Message,
    conversation: &Conversation,
    sender: &User,
    avatar_url: Option<String>,
) -> PushNotification {
    let locale = reader.locale();
    let previews = reader.user.settings.notification_previews;
    let preview = match missed_call(message) {
        Some(media) => missed_call_text(media, locale).to_owned(),
        None => message_preview(message.kind, message.body.as_deref(), locale, previews),
    };
    let sender_name = sender.display_name.as_str();
    let (title, body) = match conversation.kind {
        ConversationKind::Direct => (sender_name.to_owned(), preview),
        ConversationKind::Group => {
            let group = conversation.title.clone().unwrap_or_else(|| unnamed_group(locale).to_owned());
            // Hiding previews hides the sender of a group message as well: the text then is
            // only "you have a new message", under the group's name.
            let body = if previews { format!("{sender_name}: {preview}") } else { preview };
            (group, body)
        }
    };
    let data = BTreeMap::from([
        ("type".to_owned(), PushKind::Message.as_str().to_owned()),
        ("conversation_id".to_owned(), message.conversation_id.to_string()),
        ("message_id".to_owned(), message.id.to_string()),
        ("sender_id".to_owned(), message.sender_id.to_string()),
        ("seq".to_owned(), message.seq.to_string()),
    ]);
    PushNotification {
        token: reader.device.token.clone(),
        platform: reader.device.platform,
        kind: PushKind::Message,
        title: Some(title),
        body: Some(body),
        image_url: avatar_url,
        thread: Some(message.conversation_id.to_string()),
        badge: reader.badge(),
        data,
        priority: Priority::High,
        ttl: Some(MESSAGE_TTL),
    }
}

fn unnamed_group(locale: Locale) -> &'static str {
    match locale {
        Locale::Vi => "Nhóm",
        Locale::En => "Group",
    }
}

/// A friend request (`accepted` false, to its recipient) or its acceptance (`accepted` true,
/// to its sender); `other` is the one who acted.
pub fn friend_notification(
    reader: Reader<'_>,
    accepted: bool,
    request_id: super::ids::FriendRequestId,
    other: &User,
    avatar_url: Option<String>,
) -> PushNotification {
    let locale = reader.locale();
    let name = other.display_name.as_str();
    let (kind, body) = if accepted {
        (PushKind::FriendAccepted, friend_accepted_text(name, locale))
    } else {
        (PushKind::FriendRequest, friend_request_text(name, locale))
    };
    let data = BTreeMap::from([
        ("type".to_owned(), kind.as_str().to_owned()),
        ("request_id".to_owned(), request_id.to_string()),
        ("user_id".to_owned(), other.id.to_string()),
    ]);
    PushNotification {
        token: reader.device.token.clone(),
        platform: reader.device.platform,
        kind,
        title: Some(name.to_owned()),
        body: Some(body),
        image_url: avatar_url,
        thread: Some(format!("friends-{}", kind.as_str())),
        badge: reader.badge(),
        data,
        priority: Priority::Normal,
        ttl: Some(FRIEND_TTL),
    }
}

/// How long an incoming call's push is worth delivering: the ringing time. A phone that
/// comes back later must not ring for a call long over.
pub const CALL_TTL: Duration = Duration::from_secs(45);

/// An incoming call, as the push path carries it to a callee without a live connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingCall {
    /// The call, as its signaling names it.
    pub call_id: String,
    /// Who calls.
    pub caller: UserId,
    /// The caller's name, shown by the app's call screen.
    pub caller_name: String,
    /// The direct conversation of the two.
    pub conversation_id: ConversationId,
    /// Video (else audio only).
    pub video: bool,
}

/// An incoming call's push: data only (the app rings with its own call screen: CallKit on
/// iOS, a full-screen intent on Android), high priority, alive only while it may ring.
pub fn call_notification(device: &Device, call: &IncomingCall) -> PushNotification {
    let data = BTreeMap::from([
        ("type".to_owned(), PushKind::IncomingCall.as_str().to_owned()),
        ("call_id".to_owned(), call.call_id.clone()),
        ("caller_id".to_owned(), call.caller.to_string()),
        ("caller_name".to_owned(), call.caller_name.clone()),
        ("conversation_id".to_owned(), call.conversation_id.to_string()),
        ("media".to_owned(), if call.video { "video" } else { "audio" }.to_owned()),
    ]);
    PushNotification {
        token: device.token.clone(),
        platform: device.platform,
        kind: PushKind::IncomingCall,
        title: None,
        body: None,
        image_url: None,
        thread: None,
        badge: None,
        data,
        priority: Priority::High,
        ttl: Some(CALL_TTL),
    }
}

/// Whether a message is one its readers are notified of: not recalled, and not a SYSTEM
/// record (a group's changes, a call that was answered or declined) but for a missed call.
pub fn notifies(message: &Message) -> bool {
    message.recalled_at.is_none()
        && (message.kind != super::message::MessageKind::System || missed_call(message).is_some())
}

/// The media of the missed call a SYSTEM message records, if it records one.
fn missed_call(message: &Message) -> Option<CallMedia> {
    match &message.system {
        Some(SystemEvent::Call { media, outcome: CallOutcome::Missed, .. }) => Some(*media),
        _ => None,
    }
}

fn missed_call_text(media: CallMedia, locale: Locale) -> &'static str {
    match (media, locale) {
        (CallMedia::Audio, Locale::Vi) => "📞 Cuộc gọi nhỡ",
        (CallMedia::Audio, Locale::En) => "📞 Missed call",
        (CallMedia::Video, Locale::Vi) => "📹 Cuộc gọi video nhỡ",
        (CallMedia::Video, Locale::En) => "📹 Missed video call",
    }
}

#[cfg(test)]
#[path = "notification_tests.rs"]
mod tests;
