#![allow(clippy::unwrap_used)]

use uuid::Uuid;

use super::*;
use crate::domain::account::{DisplayName, Settings, Username};
use crate::domain::ids::{DeviceId, FriendRequestId, MessageId, SessionId};
use crate::domain::message::{MessageKind, NewMessage};
use crate::domain::push::{Platform, PushToken};

fn user(name: &str, locale: Locale, previews: bool) -> User {
    let now = chrono::Utc::now();
    User {
        id: UserId(Uuid::now_v7()),
        username: Username::parse("lan_nguyen").unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        phone: None,
        avatar_media_id: None,
        bio: String::new(),
        settings: Settings { locale, notification_previews: previews, ..Settings::default() },
        created_at: now,
        updated_at: now,
    }
}

fn device(owner: &User, locale: Option<Locale>) -> Device {
    Device {
        id: DeviceId(Uuid::now_v7()),
        user_id: owner.id,
        session_id: SessionId(Uuid::now_v7()),
        platform: Platform::Ios,
        token: PushToken::parse("tok-1").unwrap(),
        locale,
        registered_at: chrono::Utc::now(),
    }
}

fn message(sender: &User, kind: MessageKind, body: Option<&str>) -> Message {
    NewMessage {
        id: MessageId(Uuid::now_v7()),
        conversation_id: ConversationId(Uuid::from_u128(7)),
        sender_id: sender.id,
        kind,
        body: body.map(str::to_owned),
        reply_to: None,
        client_msg_id: None,
        system: None,
        media_ids: Vec::new(),
        created_at: chrono::Utc::now(),
    }
    .into_message(12)
}

fn conversation(kind: ConversationKind, title: Option<&str>) -> Conversation {
    let now = chrono::Utc::now();
    Conversation {
        id: ConversationId(Uuid::from_u128(7)),
        kind,
        title: title.map(str::to_owned),
        avatar_media_id: None,
        created_by: UserId(Uuid::nil()),
        created_at: now,
        last_seq: 12,
        last_activity_at: now,
        member_count: 2,
        last_change_seq: 0,
    }
}

#[test]
fn a_direct_message_shows_the_sender_over_the_text_grouped_by_conversation() {
    let (reader, sender) = (user("Minh", Locale::Vi, true), user("Lan", Locale::Vi, true));
    let phone = device(&reader, None);
    let m = message(&sender, MessageKind::Text, Some("tối nay đi ăn phở không?"));
    let n = message_notification(
        Reader { user: &reader, device: &phone, badge: 3 },
        &m,
        &conversation(ConversationKind::Direct, None),
        &sender,
        Some("https://cdn/a.jpg".into()),
    );
    assert_eq!(n.title.as_deref(), Some("Lan"));
    assert_eq!(n.body.as_deref(), Some("tối nay đi ăn phở không?"));
    assert_eq!(n.thread.as_deref(), Some(m.conversation_id.to_string().as_str()));
    assert_eq!(n.badge, Some(3));
    assert_eq!((n.kind, n.priority, n.ttl), (PushKind::Message, Priority::High, Some(MESSAGE_TTL)));
    assert_eq!(n.image_url.as_deref(), Some("https://cdn/a.jpg"));
    assert_eq!(n.data["type"], "message");
    assert_eq!(n.data["message_id"], m.id.to_string());
    assert_eq!(n.data["seq"], "12");
    assert_eq!(n.token, phone.token);
}

#[test]
fn a_group_message_shows_the_group_over_sender_and_text_in_the_readers_language() {
    let (reader, sender) = (user("Minh", Locale::En, true), user("Lan", Locale::Vi, true));
    let phone = device(&reader, None);
    let photo = message(&sender, MessageKind::Image, None);
    let group = conversation(ConversationKind::Group, Some("Gia đình"));
    let n = message_notification(Reader { user: &reader, device: &phone, badge: 0 }, &photo, &group, &sender, None);
    assert_eq!(n.title.as_deref(), Some("Gia đình"));
    assert_eq!(n.body.as_deref(), Some("Lan: 📷 Photo"));
    // The device's own language wins over the account's.
    let vi_phone = device(&reader, Some(Locale::Vi));
    let n = message_notification(Reader { user: &reader, device: &vi_phone, badge: 0 }, &photo, &group, &sender, None);
    assert_eq!(n.body.as_deref(), Some("Lan: 📷 Ảnh"));
    let untitled = conversation(ConversationKind::Group, None);
    let n =
        message_notification(Reader { user: &reader, device: &vi_phone, badge: 0 }, &photo, &untitled, &sender, None);
    assert_eq!(n.title.as_deref(), Some("Nhóm"));
}

#[test]
fn hidden_previews_hide_the_text_and_in_groups_the_sender() {
    let (reader, sender) = (user("Minh", Locale::Vi, false), user("Lan", Locale::Vi, true));
    let phone = device(&reader, None);
    let secret = message(&sender, MessageKind::Text, Some("mã OTP 123456"));
    let group = conversation(ConversationKind::Group, Some("Công ty"));
    let n = message_notification(Reader { user: &reader, device: &phone, badge: 1 }, &secret, &group, &sender, None);
    assert_eq!(n.body.as_deref(), Some("Bạn có tin nhắn mới"));
    assert!(!format!("{n:?}").contains("123456"), "the text is nowhere in the notification");
}

#[test]
fn a_badge_is_capped() {
    let (reader, sender) = (user("Minh", Locale::Vi, true), user("Lan", Locale::Vi, true));
    let phone = device(&reader, None);
    let m = message(&sender, MessageKind::Text, Some("hi"));
    let direct = conversation(ConversationKind::Direct, None);
    let n = message_notification(Reader { user: &reader, device: &phone, badge: 123_456 }, &m, &direct, &sender, None);
    assert_eq!(n.badge, Some(999));
}

#[test]
fn friend_notifications_name_the_other_user_in_the_readers_language() {
    let (reader, other) = (user("Minh", Locale::Vi, true), user("Lan", Locale::Vi, true));
    let phone = device(&reader, None);
    let request = FriendRequestId(Uuid::now_v7());
    let asked = friend_notification(Reader { user: &reader, device: &phone, badge: 0 }, false, request, &other, None);
    assert_eq!(asked.body.as_deref(), Some("Lan đã gửi cho bạn lời mời kết bạn"));
    assert_eq!((asked.kind, asked.priority), (PushKind::FriendRequest, Priority::Normal));
    assert_eq!(asked.data["request_id"], request.to_string());
    let en_phone = device(&reader, Some(Locale::En));
    let accepted =
        friend_notification(Reader { user: &reader, device: &en_phone, badge: 0 }, true, request, &other, None);
    assert_eq!(accepted.body.as_deref(), Some("Lan accepted your friend request"));
    assert_eq!(accepted.data["type"], "friend_accepted");
}

#[test]
fn a_call_is_a_data_only_high_priority_push_alive_while_it_rings() {
    let callee = user("Minh", Locale::Vi, true);
    let phone = device(&callee, None);
    let call = IncomingCall {
        call_id: "c-1".into(),
        caller: UserId(Uuid::now_v7()),
        caller_name: "Lan".into(),
        conversation_id: ConversationId(Uuid::from_u128(7)),
        video: true,
    };
    let n = call_notification(&phone, &call);
    assert_eq!((n.title.as_ref(), n.body.as_ref(), n.badge), (None, None, None));
    assert_eq!((n.kind, n.priority, n.ttl), (PushKind::IncomingCall, Priority::High, Some(CALL_TTL)));
    assert_eq!((n.data["call_id"].as_str(), n.data["media"].as_str()), ("c-1", "video"));
}

#[test]
fn recalled_and_system_messages_notify_no_one() {
    let sender = user("Lan", Locale::Vi, true);
    let mut m = message(&sender, MessageKind::Text, Some("oops"));
    assert!(notifies(&m));
    m.recalled_at = Some(chrono::Utc::now());
    assert!(!notifies(&m));
    let system = message(&sender, MessageKind::System, None);
    assert!(!notifies(&system));
}

#[test]
fn a_missed_call_notifies_the_callee_and_an_answered_one_does_not() {
    use crate::domain::call::{CallMedia, CallOutcome, EndReason};
    use crate::domain::ids::CallId;
    let (reader, caller) = (user("Minh", Locale::Vi, true), user("Lan", Locale::Vi, true));
    let phone = device(&reader, Some(Locale::En));
    let record = |outcome| {
        let mut m = message(&caller, MessageKind::System, None);
        m.system = Some(SystemEvent::Call {
            call_id: CallId(Uuid::now_v7()),
            caller: caller.id,
            media: CallMedia::Video,
            outcome,
            reason: EndReason::Missed,
        });
        m
    };
    let missed = record(CallOutcome::Missed);
    assert!(notifies(&missed));
    let direct = conversation(ConversationKind::Direct, None);
    let n = message_notification(Reader { user: &reader, device: &phone, badge: 0 }, &missed, &direct, &caller, None);
    assert_eq!((n.title.as_deref(), n.body.as_deref()), (Some("Lan"), Some("📹 Missed video call")));
    assert!(!notifies(&record(CallOutcome::Ended { duration_ms: 61_000 })));
    assert!(!notifies(&record(CallOutcome::Declined)));
}
