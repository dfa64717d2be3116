//! The social graph: friend requests, friendships, blocks, and the privacy rules that decide
//! who may reach whom. Pure rules; the store keeps the state.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::account::Audience;
use super::error::Invalid;
use super::ids::{FriendRequestId, UserId};
use super::{DateTime, Utc};

/// Friend requests one user may send per day (the seed's example).
pub const FRIEND_REQUESTS_PER_DAY: u32 = 30;
/// The most phone numbers one contact sync may carry.
pub const MAX_CONTACT_SYNC: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FriendRequest {
    pub id: FriendRequestId,
    pub from_user: UserId,
    pub to_user: UserId,
    pub message: String,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// One friendship as one side sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friendship {
    pub friend: UserId,
    pub since: DateTime<Utc>,
}

/// A user someone blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Block {
    pub user_id: UserId,
    pub blocked_at: DateTime<Utc>,
}

/// The short note sent with a friend request: at most 200 characters.
pub fn parse_request_message(raw: Option<&str>) -> Result<String, Invalid> {
    let message = raw.unwrap_or("").trim();
    if message.chars().count() > 200 || message.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::new("invalid_request_message", "the message must be at most 200 characters"));
    }
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
/// removed, `đ` as `d`, runs of whitespace as one space. "Nguyễn Đức" → "nguyen duc".
pub fn fold_for_search(text: &str) -> String {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
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
    }

    #[test]
    fn audiences() {
        assert!(audience_allows(Audience::Everyone, false));
        assert!(audience_allows(Audience::Friends, true));
        assert!(!audience_allows(Audience::Friends, false));
        assert!(!audience_allows(Audience::Nobody, true));
    }
}
