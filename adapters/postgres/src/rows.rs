//! Row types and their conversion to and from domain types.

use chat_core::domain::Timestamp;
use chat_core::domain::account::{DisplayName, Phone, Settings, User, Username};
use chat_core::domain::conversation::{Conversation, ConversationKind, Member, Mute, Role};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ClientMsgId, ConversationId, MediaId, MessageId, UserId};
use chat_core::domain::message::{Message, MessageKind, NewMessage, Reaction, SystemEvent};
use chat_core::domain::search::search_words;
use diesel::prelude::*;

use crate::error::corrupt;
use crate::schema::{conversation_members, conversations, messages, users};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: uuid::Uuid,
    pub username: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub avatar_media_id: Option<uuid::Uuid>,
    pub bio: String,
    pub settings: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl UserRow {
    pub fn from_user(user: &User) -> Result<UserRow, PortError> {
        Ok(UserRow {
            id: user.id.0,
            username: user.username.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            phone: user.phone.as_ref().map(|p| p.as_str().to_owned()),
            avatar_media_id: user.avatar_media_id,
            bio: user.bio.clone(),
            settings: serde_json::to_value(&user.settings).map_err(|e| corrupt("settings", e))?,
            created_at: user.created_at,
            updated_at: user.updated_at,
        })
    }

    pub fn into_user(self) -> Result<User, PortError> {
        Ok(User {
            id: UserId(self.id),
            // Read back as written: the rules for new names may tighten, old accounts stay readable.
            username: Username::from_stored(self.username),
            display_name: DisplayName::from_stored(self.display_name),
            phone: self.phone.as_deref().map(Phone::from_stored).transpose().map_err(|e| corrupt("phone", e))?,
            avatar_media_id: self.avatar_media_id,
            bio: self.bio,
            settings: serde_json::from_value::<Settings>(self.settings).map_err(|e| corrupt("settings", e))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = conversations, check_for_backend(diesel::pg::Pg))]
pub struct ConversationRow {
    pub id: uuid::Uuid,
    pub kind: String,
    pub title: Option<String>,
    pub avatar_media_id: Option<uuid::Uuid>,
    pub created_by: uuid::Uuid,
    pub created_at: Timestamp,
    pub last_seq: i64,
    pub last_activity_at: Timestamp,
    pub member_count: i32,
    pub direct_key: Option<String>,
    pub last_change_seq: i64,
}

impl ConversationRow {
    pub fn from_conversation(conversation: &Conversation, direct_key: Option<String>) -> ConversationRow {
        ConversationRow {
            id: conversation.id.0,
            kind: match conversation.kind {
                ConversationKind::Direct => "direct",
                ConversationKind::Group => "group",
            }
            .to_owned(),
            title: conversation.title.clone(),
            avatar_media_id: conversation.avatar_media_id,
            created_by: conversation.created_by.0,
            created_at: conversation.created_at,
            last_seq: to_i64(conversation.last_seq),
            last_activity_at: conversation.last_activity_at,
            member_count: i32::try_from(conversation.member_count).unwrap_or(i32::MAX),
            direct_key,
            last_change_seq: to_i64(conversation.last_change_seq),
        }
    }

    pub fn into_conversation(self) -> Result<Conversation, PortError> {
        Ok(Conversation {
            id: ConversationId(self.id),
            kind: conversation_kind(&self.kind)?,
            title: self.title,
            avatar_media_id: self.avatar_media_id,
            created_by: UserId(self.created_by),
            created_at: self.created_at,
            last_seq: to_u64(self.last_seq),
            last_activity_at: self.last_activity_at,
            member_count: u32::try_from(self.member_count).unwrap_or(0),
            last_change_seq: to_u64(self.last_change_seq),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = conversation_members, check_for_backend(diesel::pg::Pg))]
pub struct MemberRow {
    pub conversation_id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub role: String,
    pub joined_at: Timestamp,
    pub read_seq: i64,
    pub delivered_seq: i64,
    pub muted: bool,
    pub muted_until: Option<Timestamp>,
    pub pinned_at: Option<Timestamp>,
}

impl MemberRow {
    pub fn from_member(member: &Member) -> MemberRow {
        let (muted, muted_until) = match member.mute {
            None => (false, None),
            Some(Mute::Forever) => (true, None),
            Some(Mute::Until(until)) => (true, Some(until)),
        };
        MemberRow {
            conversation_id: member.conversation_id.0,
            user_id: member.user_id.0,
            role: role_name(member.role).to_owned(),
            joined_at: member.joined_at,
            read_seq: to_i64(member.read_seq),
            delivered_seq: to_i64(member.delivered_seq),
            muted,
            muted_until,
            pinned_at: member.pinned_at,
        }
    }

    pub fn into_member(self) -> Result<Member, PortError> {
        Ok(Member {
            conversation_id: ConversationId(self.conversation_id),
            user_id: UserId(self.user_id),
            role: match self.role.as_str() {
                "member" => Role::Member,
                "admin" => Role::Admin,
                "owner" => Role::Owner,
                other => return Err(corrupt("role", other)),
            },
            joined_at: self.joined_at,
            read_seq: to_u64(self.read_seq),
            delivered_seq: to_u64(self.delivered_seq),
            mute: match (self.muted, self.muted_until) {
                (false, _) => None,
                (true, None) => Some(Mute::Forever),
                (true, Some(until)) => Some(Mute::Until(until)),
            },
            pinned_at: self.pinned_at,
        })
    }
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Member => "member",
        Role::Admin => "admin",
        Role::Owner => "owner",
    }
}

/// The columns of [`MessageRow`], for hand-written queries over `messages m`: naming them
/// keeps the search columns (`search_text`, `search_vector`) out of what a read ships.
pub const MESSAGE_COLUMNS: &str = "m.conversation_id, m.seq, m.id, m.sender_id, m.kind, m.body, m.reply_to, \
    m.client_msg_id, m.system, m.created_at, m.edited_at, m.recalled_at, m.change_seq, m.media_ids";

#[derive(Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
pub struct MessageRow {
    pub conversation_id: uuid::Uuid,
    pub seq: i64,
    pub id: uuid::Uuid,
    pub sender_id: uuid::Uuid,
    pub kind: String,
    pub body: Option<String>,
    pub reply_to: Option<uuid::Uuid>,
    pub client_msg_id: Option<uuid::Uuid>,
    pub system: Option<serde_json::Value>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub recalled_at: Option<Timestamp>,
    pub change_seq: i64,
    pub media_ids: Vec<uuid::Uuid>,
}

impl MessageRow {
    pub fn from_new(message: &NewMessage, seq: u64) -> Result<MessageRow, PortError> {
        Ok(MessageRow {
            conversation_id: message.conversation_id.0,
            seq: to_i64(seq),
            id: message.id.0,
            sender_id: message.sender_id.0,
            kind: message_kind_name(message.kind).to_owned(),
            body: message.body.clone(),
            reply_to: message.reply_to.map(|id| id.0),
            client_msg_id: message.client_msg_id.map(|id| id.0),
            system: message
                .system
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| corrupt("system event", e))?,
            created_at: message.created_at,
            edited_at: None,
            recalled_at: None,
            change_seq: 0,
            media_ids: message.media_ids.iter().map(|id| id.0).collect(),
        })
    }

    pub fn into_message(self, reactions: Vec<Reaction>) -> Result<Message, PortError> {
        Ok(Message {
            id: MessageId(self.id),
            conversation_id: ConversationId(self.conversation_id),
            seq: to_u64(self.seq),
            sender_id: UserId(self.sender_id),
            kind: message_kind(&self.kind)?,
            body: self.body,
            reply_to: self.reply_to.map(MessageId),
            client_msg_id: self.client_msg_id.map(ClientMsgId),
            system: self
                .system
                .map(serde_json::from_value::<SystemEvent>)
                .transpose()
                .map_err(|e| corrupt("system event", e))?,
            media_ids: self.media_ids.into_iter().map(MediaId).collect(),
            // Never stored: the use cases fill it in from the media records as they are now.
            attachments: Vec::new(),
            reactions,
            created_at: self.created_at,
            edited_at: self.edited_at,
            recalled_at: self.recalled_at,
            change_seq: to_u64(self.change_seq),
        })
    }
}

/// What `messages.search_text` holds for a body: its folded words
/// (`domain::search::search_words`) joined by single spaces, empty without a body. Message
/// search compares queries with it, so both sides are folded by the same code.
pub fn search_text(body: Option<&str>) -> String {
    body.map(|body| search_words(body).join(" ")).unwrap_or_default()
}

/// The stored name of a message kind (the `messages.kind` check lists them).
pub fn message_kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Text => "TEXT",
        MessageKind::Image => "IMAGE",
        MessageKind::Video => "VIDEO",
        MessageKind::Audio => "AUDIO",
        MessageKind::File => "FILE",
        MessageKind::System => "SYSTEM",
    }
}

fn message_kind(stored: &str) -> Result<MessageKind, PortError> {
    [
        MessageKind::Text,
        MessageKind::Image,
        MessageKind::Video,
        MessageKind::Audio,
        MessageKind::File,
        MessageKind::System,
    ]
    .into_iter()
    .find(|kind| message_kind_name(*kind) == stored)
    .ok_or_else(|| corrupt("message kind", stored))
}

/// Sequence numbers are u64 in the domain and bigint in the database; both stay far below
/// 2^63, so the conversion saturates rather than fails.
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub fn conversation_kind(stored: &str) -> Result<ConversationKind, PortError> {
    match stored {
        "direct" => Ok(ConversationKind::Direct),
        "group" => Ok(ConversationKind::Group),
        other => Err(corrupt("conversation kind", other)),
    }
}
