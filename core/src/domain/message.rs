//! Messages: kinds, body rules, the edit/recall window, reactions and system events.

use serde::{Deserialize, Serialize};

use super::error::Invalid;
use super::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use super::{DateTime, Duration, Timestamp, Utc};

/// The longest text body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;

/// How long after sending a message its sender may edit or recall it.
pub fn edit_window() -> Duration {
    Duration::hours(24)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    Text,
    System,
}

/// What a SYSTEM message records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SystemEvent {
    GroupCreated { actor: UserId, title: String },
    MembersAdded { actor: UserId, user_ids: Vec<UserId> },
    MemberRemoved { actor: UserId, user_id: UserId },
    MemberLeft { user_id: UserId, new_owner: Option<UserId> },
    Renamed { actor: UserId, title: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reaction {
    pub user_id: UserId,
    pub emoji: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Per-conversation sequence number: 1, 2, 3, ... without gaps.
    pub seq: u64,
    pub sender_id: UserId,
    pub kind: MessageKind,
    /// `None` once recalled, and for SYSTEM messages.
    pub body: Option<String>,
    pub reply_to: Option<MessageId>,
    pub client_msg_id: Option<ClientMsgId>,
    pub system: Option<SystemEvent>,
    pub reactions: Vec<Reaction>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub recalled_at: Option<DateTime<Utc>>,
    /// The conversation's change counter at this message's last edit, recall or reaction
    /// (0 if never changed).
    pub change_seq: u64,
}

/// A message before the store gives it its `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub kind: MessageKind,
    pub body: Option<String>,
    pub reply_to: Option<MessageId>,
    pub client_msg_id: Option<ClientMsgId>,
    pub system: Option<SystemEvent>,
    pub created_at: DateTime<Utc>,
}

impl NewMessage {
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
            created_at: now,
        }
    }

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
            reactions: Vec::new(),
            created_at: self.created_at,
            edited_at: None,
            recalled_at: None,
            change_seq: 0,
        }
    }
}

/// A text body: 1..=4000 characters once surrounding whitespace is trimmed.
pub fn parse_body(raw: &str) -> Result<String, Invalid> {
    let body = raw.trim();
    if body.is_empty() {
        return Err(Invalid::new("empty_message", "message body must not be empty"));
    }
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

/// Why the sender may not change a message now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeRefusal {
    NotSender,
    NotText,
    Recalled,
    WindowClosed,
}

/// Whether `actor` may edit or recall `message` at `now`: the sender, a live TEXT message,
/// within 24 hours of sending.
pub fn check_sender_change(message: &Message, actor: UserId, now: Timestamp) -> Result<(), ChangeRefusal> {
    if message.sender_id != actor {
        return Err(ChangeRefusal::NotSender);
    }
    if message.kind != MessageKind::Text {
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

/// A short text for conversation lists and notifications.
pub fn preview(message: &Message) -> String {
    match (&message.recalled_at, &message.body) {
        (Some(_), _) => String::new(),
        (None, Some(body)) => body.chars().take(100).collect(),
        (None, None) => String::new(),
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
    fn edit_window_is_24_hours_and_sender_only() {
        let sender = UserId(Uuid::from_u128(1));
        let sent = chrono::DateTime::UNIX_EPOCH;
        let message = text_message(sender, sent);
        assert_eq!(check_sender_change(&message, sender, sent + Duration::hours(24)), Ok(()));
        assert_eq!(
            check_sender_change(&message, sender, sent + Duration::hours(24) + Duration::seconds(1)),
            Err(ChangeRefusal::WindowClosed)
        );
        assert_eq!(check_sender_change(&message, UserId(Uuid::from_u128(2)), sent), Err(ChangeRefusal::NotSender));
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
