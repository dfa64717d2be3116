//! Messages: kinds, body rules, the edit/recall window, reactions and system events.

use serde::{Deserialize, Serialize};

use super::call::{CallMedia, CallOutcome, EndReason};
use super::error::Invalid;
use super::ids::{CallId, ClientMsgId, ConversationId, MediaId, MessageId, UserId};
use super::media::{Attachment, MediaKind};
use super::text::{Layout, is_blank, refuse_control_characters};
use super::{DateTime, Duration, Timestamp, Utc};

/// The longest text body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;

/// How long after sending a message its sender may edit or recall it.
pub fn edit_window() -> Duration {
    Duration::hours(24)
}

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    /// Text a user wrote.
    Text,
    /// 1 to 10 images (an album), with an optional caption.
    Image,
    /// One video, with an optional caption.
    Video,
    /// One voice message.
    Audio,
    /// One file, with an optional caption.
    File,
    /// A record of something that happened to the conversation (see `SystemEvent`).
    System,
}

/// What a SYSTEM message records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SystemEvent {
    /// The group was created.
    GroupCreated {
        /// Who created it.
        actor: UserId,
        /// Its first title.
        title: String,
    },
    /// Members were added.
    MembersAdded {
        /// Who added them.
        actor: UserId,
        /// The new members.
        user_ids: Vec<UserId>,
    },
    /// A member was removed by someone else.
    MemberRemoved {
        /// Who removed them.
        actor: UserId,
        /// The removed member.
        user_id: UserId,
    },
    /// A member left.
    MemberLeft {
        /// Who left.
        user_id: UserId,
        /// The member who became owner, when the owner left.
        new_owner: Option<UserId>,
    },
    /// The group was renamed.
    Renamed {
        /// Who renamed it.
        actor: UserId,
        /// The new title.
        title: String,
    },
    /// A call between the two members of a direct conversation ended: missed, declined, or
    /// ended after it was answered (with its duration).
    Call {
        /// The call.
        call_id: CallId,
        /// Who called.
        caller: UserId,
        /// `audio` or `video`.
        media: CallMedia,
        /// What became of it.
        #[serde(flatten)]
        outcome: CallOutcome,
        /// Why it ended, more precisely (`cancelled` shows as missed to the callee).
        reason: EndReason,
    },
    /// The group's photo changed (the message carries the new one as its attachment).
    AvatarChanged {
        /// Who changed it.
        actor: UserId,
        /// The new photo, or `None` when it was removed.
        avatar_media_id: Option<MediaId>,
    },
}

/// One user's reaction to a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reaction {
    /// Who reacted.
    pub user_id: UserId,
    /// With which emoji.
    pub emoji: String,
}

/// A stored message, with its place in the conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// The message.
    pub id: MessageId,
    /// The conversation it is in.
    pub conversation_id: ConversationId,
    /// Per-conversation sequence number: 1, 2, 3, ... without gaps.
    pub seq: u64,
    /// Who sent it (for SYSTEM messages: who caused the event).
    pub sender_id: UserId,
    /// Text or SYSTEM.
    pub kind: MessageKind,
    /// `None` once recalled, and for SYSTEM messages.
    pub body: Option<String>,
    /// The message it answers, if any.
    pub reply_to: Option<MessageId>,
    /// The sender's idempotency key (absent for SYSTEM messages).
    pub client_msg_id: Option<ClientMsgId>,
    /// What a SYSTEM message records.
    pub system: Option<SystemEvent>,
    /// The media a media message carries, in the sender's order (as stored).
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub media_ids: Vec<MediaId>,
    /// The media a media message carries, as they are now (filled in by the use cases when
    /// the message is read; empty for text and SYSTEM messages).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Reactions, at most one per user.
    pub reactions: Vec<Reaction>,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it was last edited, if it was.
    pub edited_at: Option<DateTime<Utc>>,
    /// When it was recalled for everyone, if it was.
    pub recalled_at: Option<DateTime<Utc>>,
    /// The conversation's change counter at this message's last edit, recall or reaction
    /// (0 if never changed).
    pub change_seq: u64,
}

/// A message before the store gives it its `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// The message.
    pub id: MessageId,
    /// The conversation it goes to.
    pub conversation_id: ConversationId,
    /// Who sends it.
    pub sender_id: UserId,
    /// Text or SYSTEM.
    pub kind: MessageKind,
    /// The text (validated); `None` for SYSTEM messages.
    pub body: Option<String>,
    /// The message it answers, if any.
    pub reply_to: Option<MessageId>,
    /// The sender's idempotency key.
    pub client_msg_id: Option<ClientMsgId>,
    /// What a SYSTEM message records.
    pub system: Option<SystemEvent>,
    /// The media of a media message, in order; empty otherwise.
    pub media_ids: Vec<MediaId>,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
}

impl NewMessage {
    /// A SYSTEM message recording `event`, caused by `actor`.
    pub fn system(
        id: MessageId,
        conversation_id: ConversationId,
        actor: UserId,
        event: SystemEvent,
        now: Timestamp,
    ) -> Self {
        NewMessage {
            id,
            conversation_id,
            sender_id: actor,
            kind: MessageKind::System,
            body: None,
            reply_to: None,
            client_msg_id: None,
            system: Some(event),
            media_ids: Vec::new(),
            created_at: now,
        }
    }

    /// The message as stored at `seq`, with no reactions or changes yet.
    pub fn into_message(self, seq: u64) -> Message {
        Message {
            id: self.id,
            conversation_id: self.conversation_id,
            seq,
            sender_id: self.sender_id,
            kind: self.kind,
            body: self.body,
            reply_to: self.reply_to,
            client_msg_id: self.client_msg_id,
            system: self.system,
            media_ids: self.media_ids,
            attachments: Vec::new(),
            reactions: Vec::new(),
            created_at: self.created_at,
            edited_at: None,
            recalled_at: None,
            change_seq: 0,
        }
    }
}

/// The most images one IMAGE message (an album) carries.
pub const MAX_ALBUM_IMAGES: usize = 10;

impl MessageKind {
    /// The kinds that carry media.
    pub const ALL_MEDIA: [MessageKind; 4] =
        [MessageKind::Image, MessageKind::Video, MessageKind::Audio, MessageKind::File];

    /// The media kind a media message carries and how many items it takes (at least one);
    /// `None` for TEXT and SYSTEM.
    pub fn media(self) -> Option<(MediaKind, usize)> {
        match self {
            MessageKind::Image => Some((MediaKind::Image, MAX_ALBUM_IMAGES)),
            MessageKind::Video => Some((MediaKind::Video, 1)),
            MessageKind::Audio => Some((MediaKind::Audio, 1)),
            MessageKind::File => Some((MediaKind::File, 1)),
            MessageKind::Text | MessageKind::System => None,
        }
    }
}

/// A caption: like a body, but it may be absent or blank (then there is none).
pub fn parse_caption(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    match raw {
        Some(raw) if !is_blank(raw.trim()) => parse_body(raw).map(Some),
        _ => Ok(None),
    }
}

/// A text body: 1..=4000 characters once surrounding whitespace is trimmed, something visible
/// among them (not only zero-width characters), no control character but tab and new line.
pub fn parse_body(raw: &str) -> Result<String, Invalid> {
    let body = raw.trim();
    if is_blank(body) {
        return Err(Invalid::new("empty_message", "message body must not be empty"));
    }
    refuse_control_characters(body, Layout::MultiLine, "message body")?;
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(Invalid::new("message_too_long", "message body must be at most 4000 characters"));
    }
    Ok(body.to_owned())
}

/// A reaction: one emoji (a short grapheme sequence), no letters, digits or whitespace.
pub fn parse_emoji(raw: &str) -> Result<String, Invalid> {
    let plausible = !raw.is_empty()
        && raw.len() <= 32
        && raw.chars().count() <= 10
        && !raw.chars().any(|c| c.is_alphanumeric() || c.is_whitespace() || c.is_control());
    if !plausible {
        return Err(Invalid::new("invalid_emoji", "a reaction must be a single emoji"));
    }
    Ok(raw.to_owned())
}

/// What the sender wants to do to their message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenderChange {
    /// Replace its text (TEXT messages only).
    Edit,
    /// Recall it for everyone ("thu hồi"): text and media messages alike.
    Recall,
}

/// Why the sender may not change a message now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// Only the sender may change it.
    NotSender,
    /// Only TEXT messages can be edited (and SYSTEM messages cannot be recalled).
    NotText,
    /// It was recalled already.
    Recalled,
    /// The 24-hour window has passed.
    WindowClosed,
}

/// Whether `actor` may make `change` to `message` at `now`: the sender, within 24 hours of
/// sending, a live message; an edit only of TEXT, a recall of any message a user sent (a photo
/// sent by mistake is recalled like a text).
pub fn check_sender_change(
    message: &Message,
    actor: UserId,
    change: SenderChange,
    now: Timestamp,
) -> Result<(), ChangeRefusal> {
    if message.sender_id != actor {
        return Err(ChangeRefusal::NotSender);
    }
    let allowed = match change {
        SenderChange::Edit => message.kind == MessageKind::Text,
        SenderChange::Recall => message.kind != MessageKind::System,
    };
    if !allowed {
        return Err(ChangeRefusal::NotText);
    }
    if message.recalled_at.is_some() {
        return Err(ChangeRefusal::Recalled);
    }
    if now - message.created_at > edit_window() {
        return Err(ChangeRefusal::WindowClosed);
    }
    Ok(())
}

/// Sets (or with `None`, removes) `user`'s reaction: at most one per user per message.
pub fn apply_reaction(reactions: &mut Vec<Reaction>, user: UserId, emoji: Option<String>) {
    reactions.retain(|reaction| reaction.user_id != user);
    if let Some(emoji) = emoji {
        reactions.push(Reaction { user_id: user, emoji });
    }
}

/// A short text for conversation lists and notifications: the text, the caption, or for a
/// media message without one, what it carries (the client localises by `kind` if it likes).
pub fn preview(message: &Message) -> String {
    if message.recalled_at.is_some() {
        return String::new();
    }
    if let Some(body) = &message.body {
        return body.chars().take(100).collect();
    }
    match message.kind {
        MessageKind::Image if message.media_ids.len() > 1 => format!("[{} photos]", message.media_ids.len()),
        MessageKind::Image => "[Photo]".to_owned(),
        MessageKind::Video => "[Video]".to_owned(),
        MessageKind::Audio => "[Voice message]".to_owned(),
        MessageKind::File => "[File]".to_owned(),
        MessageKind::Text | MessageKind::System => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn text_message(sender: UserId, at: Timestamp) -> Message {
        NewMessage {
            id: MessageId(Uuid::nil()),
            conversation_id: ConversationId(Uuid::nil()),
            sender_id: sender,
            kind: MessageKind::Text,
            body: Some("xin chào".into()),
            reply_to: None,
            client_msg_id: None,
            system: None,
            media_ids: Vec::new(),
            created_at: at,
        }
        .into_message(1)
    }

    #[test]
    fn body_limits_count_characters() {
        assert!(parse_body(&"ệ".repeat(4000)).is_ok());
        assert_eq!(parse_body(&"a".repeat(4001)).map_err(|e| e.code), Err("message_too_long"));
        assert_eq!(parse_body("  \n ").map_err(|e| e.code), Err("empty_message"));
    }

    #[test]
    fn body_refuses_nul_and_controls_but_keeps_lines_and_tabs() {
        assert_eq!(parse_body("xin\u{0}chào").map_err(|e| e.code), Err("invalid_characters"));
        assert_eq!(parse_body("a\u{8}b").map_err(|e| e.code), Err("invalid_characters"));
        assert_eq!(parse_body("a\u{9B}b").map_err(|e| e.code), Err("invalid_characters"));
        assert_eq!(parse_body(" dòng 1\r\n\tdòng 2\n"), Ok("dòng 1\r\n\tdòng 2".to_owned()));
    }

    #[test]
    fn a_body_of_only_invisible_characters_is_empty() {
        for blank in ["\u{200B}", "\u{200B}\u{200C}\u{200D}", " \u{2060} \u{FEFF}\n", "\u{3164}"] {
            assert_eq!(parse_body(blank).map_err(|e| e.code), Err("empty_message"), "{blank:?}");
        }
        assert_eq!(parse_body("\u{200B}hi"), Ok("\u{200B}hi".to_owned()));
    }

    #[test]
    fn edit_window_is_24_hours_and_sender_only() {
        let sender = UserId(Uuid::from_u128(1));
        let sent = chrono::DateTime::UNIX_EPOCH;
        let message = text_message(sender, sent);
        let edit = SenderChange::Edit;
        assert_eq!(check_sender_change(&message, sender, edit, sent + Duration::hours(24)), Ok(()));
        assert_eq!(
            check_sender_change(&message, sender, edit, sent + Duration::hours(24) + Duration::seconds(1)),
            Err(ChangeRefusal::WindowClosed)
        );
        assert_eq!(
            check_sender_change(&message, UserId(Uuid::from_u128(2)), edit, sent),
            Err(ChangeRefusal::NotSender)
        );
    }

    #[test]
    fn media_messages_are_recalled_but_not_edited() {
        let sender = UserId(Uuid::from_u128(1));
        let sent = chrono::DateTime::UNIX_EPOCH;
        let photo = Message { kind: MessageKind::Image, ..text_message(sender, sent) };
        assert_eq!(check_sender_change(&photo, sender, SenderChange::Recall, sent), Ok(()));
        assert_eq!(check_sender_change(&photo, sender, SenderChange::Edit, sent), Err(ChangeRefusal::NotText));
        let system = Message { kind: MessageKind::System, ..text_message(sender, sent) };
        assert_eq!(check_sender_change(&system, sender, SenderChange::Recall, sent), Err(ChangeRefusal::NotText));
    }

    #[test]
    fn one_reaction_per_user() {
        let mut reactions = Vec::new();
        let user = UserId(Uuid::from_u128(1));
        apply_reaction(&mut reactions, user, Some("👍".into()));
        apply_reaction(&mut reactions, user, Some("❤️".into()));
        assert_eq!(reactions, vec![Reaction { user_id: user, emoji: "❤️".into() }]);
        apply_reaction(&mut reactions, user, None);
        assert!(reactions.is_empty());
        assert!(parse_emoji("👍🏽").is_ok());
        assert!(parse_emoji("ok").is_err());
    }
}
