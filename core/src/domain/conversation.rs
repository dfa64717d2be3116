//! Conversations and membership: kinds, roles, per-member state and who may change what.

use serde::{Deserialize, Serialize};

use super::account::PublicProfile;
use super::error::Invalid;
use super::ids::{ConversationId, UserId};
use super::message::Message;
use super::text::{Layout, is_blank, refuse_control_characters};
use super::{DateTime, Timestamp, Utc};

/// The largest group (the seed's limit).
pub const MAX_GROUP_MEMBERS: usize = 500;
/// How many conversations one user may pin.
pub const MAX_PINNED: usize = 5;

/// Whether a conversation is between two users or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// Exactly two users; at most one such conversation per pair.
    Direct,
    /// A named group of up to 500 members.
    Group,
}

/// A member's role in a group, in increasing power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads and writes.
    Member,
    /// Also renames the group and adds or removes members.
    Admin,
    /// Also manages admins; there is one owner per group.
    Owner,
}

/// A direct conversation or a group, as every member sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    /// The conversation.
    pub id: ConversationId,
    /// Direct or group.
    pub kind: ConversationKind,
    /// Group title; `None` for direct conversations (clients show the peer's name).
    pub title: Option<String>,
    /// The group picture, if any.
    pub avatar_media_id: Option<uuid::Uuid>,
    /// Who made it.
    pub created_by: UserId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The `seq` of the newest message, 0 when there is none.
    pub last_seq: u64,
    /// When the newest message was sent (or the conversation made): the list's sort key.
    pub last_activity_at: DateTime<Utc>,
    /// How many members it has.
    pub member_count: u32,
    /// Counts changes (edits, recalls, reactions) to this conversation's messages: the
    /// cursor `sync` replays them from.
    pub last_change_seq: u64,
}

/// How long a conversation is muted for one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "until", rename_all = "snake_case")]
pub enum Mute {
    /// Until unmuted.
    Forever,
    /// Until this time.
    Until(DateTime<Utc>),
}

impl Mute {
    /// Whether the mute still holds at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        match self {
            Mute::Forever => true,
            Mute::Until(until) => *until > now,
        }
    }
}

/// One user's membership and private state in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The member.
    pub user_id: UserId,
    /// Their role (always `Member` in a direct conversation).
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// High-water mark of what this member has read.
    pub read_seq: u64,
    /// High-water mark of what this member's devices have received.
    pub delivered_seq: u64,
    /// Whether and how long they muted the conversation.
    pub mute: Option<Mute>,
    /// When they pinned it to the top of their list, if they did.
    pub pinned_at: Option<DateTime<Utc>>,
}

impl Member {
    /// A new member with nothing read, not muted, not pinned.
    pub fn new(conversation_id: ConversationId, user_id: UserId, role: Role, now: Timestamp) -> Self {
        Member {
            conversation_id,
            user_id,
            role,
            joined_at: now,
            read_seq: 0,
            delivered_seq: 0,
            mute: None,
            pinned_at: None,
        }
    }
}

/// What every member may see of another member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberView {
    /// The member.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Absent when read receipts are off for this member or for the viewer ("Đã xem" is
    /// mutual).
    pub read_seq: Option<u64>,
    /// The newest message their devices received.
    pub delivered_seq: u64,
}

impl Member {
    /// What other members see of this membership (the read mark is hidden later if
    /// read receipts are off).
    pub fn view(&self) -> MemberView {
        MemberView {
            user_id: self.user_id,
            role: self.role,
            joined_at: self.joined_at,
            read_seq: Some(self.read_seq),
            delivered_seq: self.delivered_seq,
        }
    }
}

/// A conversation as one member sees it: everyone's public membership and their own state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationDetails {
    /// The conversation.
    pub conversation: Conversation,
    /// Every member, as others see them.
    pub members: Vec<MemberView>,
    /// The viewer's own membership and state.
    pub membership: Member,
}

/// One page of the conversation list; pass `next_cursor` back as `cursor` for the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationPage {
    /// The rows of this page.
    pub conversations: Vec<ConversationSummary>,
    /// Where the next page starts; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One row of a user's conversation list, computed from the store (never cached).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// The viewer's own membership and state.
    pub membership: Member,
    /// The newest message the viewer may see, if any.
    pub last_message: Option<Message>,
    /// How many messages came after the viewer's read mark.
    pub unread_count: u64,
    /// For direct conversations: the other participant.
    pub peer: Option<PublicProfile>,
}

/// A group title: 1..=100 characters after trimming, something visible among them, no control
/// characters.
pub fn parse_title(raw: &str) -> Result<String, Invalid> {
    let title = raw.trim();
    let length = title.chars().count();
    if !(1..=100).contains(&length) || is_blank(title) {
        return Err(Invalid::new("invalid_title", "group title must be 1 to 100 characters"));
    }
    refuse_control_characters(title, Layout::SingleLine, "group title")?;
    Ok(title.to_owned())
}

/// Whether `actor` may add members to a group.
pub fn may_add_members(actor: Role) -> bool {
    actor >= Role::Admin
}

/// Whether `actor` may remove `target` from a group: admins remove members, the owner anyone.
pub fn may_remove_member(actor: Role, target: Role) -> bool {
    actor == Role::Owner || (actor == Role::Admin && target == Role::Member)
}

/// Whether `actor` may rename the group or change its avatar.
pub fn may_edit_group(actor: Role) -> bool {
    actor >= Role::Admin
}

/// When the owner leaves, ownership passes to the longest-standing admin, else the
/// longest-standing member. `members` excludes the leaving owner.
pub fn successor_owner(members: &[Member]) -> Option<UserId> {
    members
        .iter()
        .max_by(|a, b| {
            // Highest role, then earliest join; equal join times go to the older account
            // (ids are time-ordered), so the choice never depends on storage order.
            a.role.cmp(&b.role).then(b.joined_at.cmp(&a.joined_at)).then(b.user_id.cmp(&a.user_id))
        })
        .map(|member| member.user_id)
}

/// The unread count of a member: messages after the read mark that others sent.
/// `others_after_read` is how many such messages the store counted; the mark can never be
/// ahead of the conversation, so the result is never negative.
pub fn unread_count(last_seq: u64, read_seq: u64, others_after_read: u64) -> u64 {
    others_after_read.min(last_seq.saturating_sub(read_seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn member(role: Role, joined_minute: u32) -> Member {
        let joined = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, joined_minute, 0).single();
        Member::new(
            ConversationId(Uuid::nil()),
            UserId(Uuid::from_u128(u128::from(joined_minute))),
            role,
            joined.unwrap_or_default(),
        )
    }

    #[test]
    fn ownership_passes_to_oldest_admin_then_oldest_member() {
        let members = [member(Role::Member, 1), member(Role::Admin, 5), member(Role::Admin, 3)];
        assert_eq!(successor_owner(&members), Some(members[2].user_id));
        let members = [member(Role::Member, 4), member(Role::Member, 2)];
        assert_eq!(successor_owner(&members), Some(members[1].user_id));
        assert_eq!(successor_owner(&[]), None);
    }

    #[test]
    fn titles_are_visible_single_lines() {
        assert_eq!(parse_title("  Nhóm bạn "), Ok("Nhóm bạn".to_owned()));
        assert_eq!(parse_title("\u{200B}\u{FEFF}").map_err(|e| e.code), Err("invalid_title"));
        assert_eq!(parse_title("a\u{0}b").map_err(|e| e.code), Err("invalid_characters"));
        assert_eq!(parse_title("a\nb").map_err(|e| e.code), Err("invalid_characters"));
    }

    #[test]
    fn removal_rules_follow_rank() {
        assert!(may_remove_member(Role::Owner, Role::Admin));
        assert!(may_remove_member(Role::Admin, Role::Member));
        assert!(!may_remove_member(Role::Admin, Role::Admin));
        assert!(!may_remove_member(Role::Member, Role::Member));
    }
}
