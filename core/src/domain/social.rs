//! The social graph: friend requests, friendships, blocks, and the privacy rules that decide
//! who may reach whom. Pure rules; the store keeps the state.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::account::Audience;
use super::error::Invalid;
use super::ids::{FriendRequestId, UserId};
use super::text::{Layout, refuse_control_characters};
use super::{DateTime, Utc};

/// Friend requests one user may send per day (the seed's example).
pub const FRIEND_REQUESTS_PER_DAY: u32 = 30;
/// The most phone numbers one contact sync may carry.
pub const MAX_CONTACT_SYNC: usize = 1000;

/// Where a friend request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for an answer.
    Pending,
    /// Accepted: the two are friends.
    Accepted,
    /// Declined by the recipient.
    Declined,
    /// Withdrawn by the sender.
    Cancelled,
}

/// A request from one user to another to become friends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FriendRequest {
    /// The request.
    pub id: FriendRequestId,
    /// Who asked.
    pub from_user: UserId,
    /// Who was asked.
    pub to_user: UserId,
    /// The note sent with it (may be empty).
    pub message: String,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it was accepted, declined or cancelled.
    pub answered_at: Option<DateTime<Utc>>,
}

/// One friendship as one side sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friendship {
    /// The other side.
    pub friend: UserId,
    /// When they became friends.
    pub since: DateTime<Utc>,
}

/// A user someone blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Block {
    /// The blocked user.
    pub user_id: UserId,
    /// When the block was set.
    pub blocked_at: DateTime<Utc>,
}

/// The short note sent with a friend request: at most 200 characters.
pub fn parse_request_message(raw: Option<&str>) -> Result<String, Invalid> {
    let message = raw.unwrap_or("").trim();
    if message.chars().count() > 200 {
        return Err(Invalid::new("invalid_request_message", "the message must be at most 200 characters"));
    }
    refuse_control_characters(message, Layout::MultiLine, "the message")?;
    Ok(message.to_owned())
}

/// Whether a privacy setting lets someone in, given whether they are friends.
pub fn audience_allows(audience: Audience, are_friends: bool) -> bool {
    match audience {
        Audience::Everyone => true,
        Audience::Friends => are_friends,
        Audience::Nobody => false,
    }
}

/// Text folded for diacritics-insensitive search: lower case, Vietnamese tone and vowel marks
/// removed, `đ` as `d`, runs of whitespace as one space, invisible characters (zero-width
/// spaces and joiners) dropped, so a query of them alone is empty. "Nguyễn Đức" → "nguyen duc".
pub fn fold_for_search(text: &str) -> String {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .filter(|c| c.is_whitespace() || !super::text::is_invisible(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_folding_ignores_vietnamese_marks() {
        assert_eq!(fold_for_search("Nguyễn  Đức Thắng"), "nguyen duc thang");
        assert_eq!(fold_for_search("ĐẶNG thị Ánh"), "dang thi anh");
        assert_eq!(fold_for_search("an.le_99"), "an.le_99");
        assert_eq!(fold_for_search("\u{200B}\u{200D}\u{FEFF}"), "", "invisible only");
        assert_eq!(fold_for_search("Ng\u{200B}uyễn"), "nguyen");
    }

    #[test]
    fn request_message_keeps_lines_and_refuses_other_controls() {
        assert_eq!(parse_request_message(Some(" Chào\nBình ")), Ok("Chào\nBình".to_owned()));
        assert_eq!(parse_request_message(None), Ok(String::new()));
        assert_eq!(parse_request_message(Some("a\u{0}")).map_err(|e| e.code), Err("invalid_characters"));
    }

    #[test]
    fn audiences() {
        assert!(audience_allows(Audience::Everyone, false));
        assert!(audience_allows(Audience::Friends, true));
        assert!(!audience_allows(Audience::Friends, false));
        assert!(!audience_allows(Audience::Nobody, true));
    }
}
