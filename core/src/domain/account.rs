//! Accounts: validated credentials and profile fields, users, settings and sessions.

use serde::{Deserialize, Serialize};

use super::error::Invalid;
use super::ids::{SessionId, UserId};
pub use super::phone::Phone;
use super::text::{Layout, is_blank, refuse_control_characters};
use super::{DateTime, Timestamp, Utc};

/// A login name: 3..=32 of `a-z 0-9 _ .`, stored lower-case, not starting or ending with `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Parses a login name, lower-casing it; `invalid_username` when it breaks the rules.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim().to_lowercase();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
        if !(3..=32).contains(&name.len()) || !name.chars().all(allowed) {
            return Err(Invalid::new(
                "invalid_username",
                "username must be 3 to 32 characters of a-z, 0-9, '_' or '.'",
            ));
        }
        if name.starts_with('.') || name.ends_with('.') {
            return Err(Invalid::new("invalid_username", "username may not start or end with '.'"));
        }
        Ok(Username(name))
    }

    /// A name a store wrote after `parse` accepted it, read back as it is: the rules may
    /// tighten later, and an account named under older rules must stay readable.
    pub fn from_stored(stored: String) -> Self {
        Username(stored)
    }

    /// The name as stored (lower-case).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1..=64 characters after trimming, something visible among them, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name, trimmed; `invalid_display_name` when it breaks the rules.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        let length = name.chars().count();
        if !(1..=64).contains(&length) || is_blank(name) {
            return Err(Invalid::new("invalid_display_name", "display name must be 1 to 64 characters"));
        }
        refuse_control_characters(name, Layout::SingleLine, "display name")?;
        Ok(DisplayName(name.to_owned()))
    }

    /// A name a store wrote after `parse` accepted it, read back as it is: the rules have
    /// tightened before (control characters, invisible-only names, direction overrides), and
    /// an account named under older rules must stay readable rather than fail every read.
    pub fn from_stored(stored: String) -> Self {
        DisplayName(stored)
    }

    /// The name as shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text password on its way to the hasher. Never serialised, never logged.
pub struct Password(String);

impl Password {
    /// A new password: 8 to 128 characters, else `weak_password`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let length = raw.chars().count();
        if !(8..=128).contains(&length) {
            return Err(Invalid::new("weak_password", "password must be 8 to 128 characters"));
        }
        Ok(Password(raw.to_owned()))
    }

    /// For login, where any string is checked against the stored hash; length is still capped
    /// so nobody makes the server hash megabytes.
    pub fn for_login(raw: &str) -> Result<Self, Invalid> {
        if raw.len() > 1024 {
            return Err(Invalid::new("invalid_credentials", "wrong username or password"));
        }
        Ok(Password(raw.to_owned()))
    }

    /// The plain text, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Who may do something to me.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Anyone.
    #[default]
    Everyone,
    /// Friends only.
    Friends,
    /// No one.
    Nobody,
}

/// The language of texts the server makes for a user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    /// Vietnamese (the default).
    #[default]
    Vi,
    /// English.
    En,
}

/// Privacy and notification settings. The defaults are the safe ones a new user gets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    /// Who may message this user.
    pub who_can_message: Audience,
    /// Who may call this user.
    pub who_can_call: Audience,
    /// Who sees when this user is online and when they were last seen.
    pub who_sees_presence: Audience,
    /// Who may add this user to groups.
    pub who_can_add_to_groups: Audience,
    /// Whether others may find this user by phone number.
    pub discoverable_by_phone: bool,
    /// Whether others see when this user read their messages (mutual).
    pub send_read_receipts: bool,
    /// Whether this user gets push notifications.
    pub notifications_enabled: bool,
    /// Whether notifications show the message text.
    pub notification_previews: bool,
    /// The language of texts the server makes for this user.
    pub locale: Locale,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            who_can_message: Audience::Everyone,
            who_can_call: Audience::Friends,
            who_sees_presence: Audience::Friends,
            who_can_add_to_groups: Audience::Friends,
            discoverable_by_phone: false,
            send_read_receipts: true,
            notifications_enabled: true,
            notification_previews: true,
            locale: Locale::Vi,
        }
    }
}

/// A user record as the app sees it (the password hash is kept apart, see `Credentials`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user.
    pub id: UserId,
    /// The unique login name.
    pub username: Username,
    /// The name others see.
    pub display_name: DisplayName,
    /// The phone number, unique among users when set.
    pub phone: Option<Phone>,
    /// The avatar image, if any.
    pub avatar_media_id: Option<uuid::Uuid>,
    /// A short text about the user (may be empty).
    pub bio: String,
    /// Privacy and notification settings.
    pub settings: Settings,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// When the profile or settings last changed.
    pub updated_at: DateTime<Utc>,
}

/// What anyone who may see a user sees: no phone, no settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicProfile {
    /// The user.
    pub id: UserId,
    /// The unique login name.
    pub username: Username,
    /// The name others see.
    pub display_name: DisplayName,
    /// The avatar image, if any.
    pub avatar_media_id: Option<uuid::Uuid>,
    /// A short text about the user (may be empty).
    pub bio: String,
}

/// What the owner sees of their own account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnProfile {
    /// The user.
    pub id: UserId,
    /// The unique login name.
    pub username: Username,
    /// The name others see.
    pub display_name: DisplayName,
    /// The phone number, if set.
    pub phone: Option<Phone>,
    /// The avatar image, if any.
    pub avatar_media_id: Option<uuid::Uuid>,
    /// A short text about the user (may be empty).
    pub bio: String,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// What others who may see this user see.
    pub fn public_profile(&self) -> PublicProfile {
        PublicProfile {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            avatar_media_id: self.avatar_media_id,
            bio: self.bio.clone(),
        }
    }

    /// What the user sees of their own account.
    pub fn own_profile(&self) -> OwnProfile {
        OwnProfile {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            phone: self.phone.clone(),
            avatar_media_id: self.avatar_media_id,
            bio: self.bio.clone(),
            created_at: self.created_at,
        }
    }
}

/// A bio: at most 300 characters, on several lines if one likes, no other control characters.
pub fn parse_bio(raw: &str) -> Result<String, Invalid> {
    let bio = raw.trim();
    if bio.chars().count() > 300 {
        return Err(Invalid::new("invalid_bio", "bio must be at most 300 characters"));
    }
    refuse_control_characters(bio, Layout::MultiLine, "bio")?;
    Ok(bio.to_owned())
}

/// The stored password hash of a user, fetched only to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Whose credentials these are.
    pub user_id: UserId,
    /// The hash to verify a login's password against.
    pub password_hash: PasswordHash,
}

/// A password hash in the hasher's self-describing encoding (a PHC string such as
/// `$argon2id$v=19$…` in production). Stores keep it as opaque text and only the
/// [`PasswordHasher`](crate::ports::PasswordHasher) reads it. It has no `Display`, and its
/// `Debug` hides the text, so a logged record never leaks material for offline guessing.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps an encoded hash: one the hasher just produced, or one a store read back.
    pub fn new(encoded: impl Into<String>) -> Self {
        PasswordHash(encoded.into())
    }

    /// The encoded hash, for the hasher to verify against and the store to persist.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The encoded hash, by value (for stores that take ownership).
    pub fn into_encoded(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// The SHA-256 (or similar) digest of a refresh token; the token itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(pub String);

/// One logged-in device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// The device, as named at login.
    pub device_name: String,
    /// When the user logged in.
    pub created_at: DateTime<Utc>,
    /// When the session ends unless refreshed before.
    pub refresh_expires_at: DateTime<Utc>,
    /// When it was logged out, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether the session is neither revoked nor expired at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.refresh_expires_at > now
    }
}

/// A device name as given at login: trimmed, at most 64 characters, "unknown" when absent.
pub fn device_name(raw: Option<&str>) -> String {
    let name: String = raw.unwrap_or("").trim().chars().filter(|c| !c.is_control()).take(64).collect();
    if name.is_empty() { "unknown".to_owned() } else { name }
}

/// The claims carried by an access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user.
    pub user_id: UserId,
    /// The session the token was issued to.
    pub session_id: SessionId,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn username_is_lowercased_and_checked() {
        assert_eq!(Username::parse(" An.Nguyen ").map(|u| u.0), Ok("an.nguyen".to_owned()));
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("an nguyen").is_err());
        assert!(Username::parse(".an").is_err());
        assert!(Username::parse("nguyễn").is_err());
    }

    #[test]
    fn display_name_refuses_control_characters_and_invisible_only_names() {
        assert_eq!(DisplayName::parse("An\u{0}").map_err(|e| e.code), Err("invalid_characters"));
        assert_eq!(DisplayName::parse("An\nBình").map_err(|e| e.code), Err("invalid_characters"));
        assert_eq!(DisplayName::parse("\u{200B}\u{FEFF}").map_err(|e| e.code), Err("invalid_display_name"));
        assert_eq!(DisplayName::parse("An\u{200D}").map(|n| n.0), Ok("An\u{200D}".to_owned()));
    }

    #[test]
    fn bio_keeps_lines_and_tabs_but_refuses_other_controls() {
        assert_eq!(parse_bio(" Hà Nội\n\tSài Gòn "), Ok("Hà Nội\n\tSài Gòn".to_owned()));
        assert_eq!(parse_bio("a\u{0}b").map_err(|e| e.code), Err("invalid_characters"));
        assert_eq!(parse_bio("a\u{1B}[31mred").map_err(|e| e.code), Err("invalid_characters"));
    }

    proptest! {
        #[test]
        fn accepted_usernames_meet_the_documented_rules_and_parse_to_themselves(
            raw in prop_oneof![any::<String>(), "[ A-Za-z0-9_.ệ\\-]{0,40}"],
        ) {
            if let Ok(name) = Username::parse(&raw) {
                let name = name.as_str();
                prop_assert!((3..=32).contains(&name.chars().count()), "{}", name);
                prop_assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'));
                prop_assert!(!name.starts_with('.') && !name.ends_with('.'));
                prop_assert_eq!(Username::parse(name).map(|again| again.0), Ok(name.to_owned()));
            }
        }

        #[test]
        fn names_of_the_allowed_alphabet_are_accepted_whatever_their_case(
            name in "[a-z0-9_][a-z0-9_.]{1,30}[a-z0-9_]",
        ) {
            prop_assert_eq!(Username::parse(&name).map(|u| u.0), Ok(name.clone()));
            let shouted = format!("  {} ", name.to_uppercase());
            prop_assert_eq!(Username::parse(&shouted).map(|u| u.0), Ok(name));
        }

        #[test]
        fn display_names_are_trimmed_visible_and_free_of_controls(raw in any::<String>()) {
            if let Ok(name) = DisplayName::parse(&raw) {
                prop_assert_eq!(name.as_str(), raw.trim());
                prop_assert!(!name.as_str().chars().any(char::is_control));
                prop_assert!(!crate::domain::text::is_blank(name.as_str()));
            }
        }
    }

    #[test]
    fn display_name_counts_characters_not_bytes() {
        let vietnamese = "Nguyễn Thị Minh Khai Đặng Hoàng Phúc Trần Văn Bảo Lê Hữu Nghĩa";
        assert!(DisplayName::parse(vietnamese).is_ok());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
    }
}
