//! Accounts: validated credentials and profile fields, users, settings and sessions.

use serde::{Deserialize, Serialize};

use super::error::Invalid;
use super::ids::{SessionId, UserId};
use super::{DateTime, Timestamp, Utc};

/// A login name: 3..=32 of `a-z 0-9 _ .`, stored lower-case, not starting or ending with `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Username(String);

impl Username {
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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1..=64 characters after trimming, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        let length = name.chars().count();
        if !(1..=64).contains(&length) || name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "invalid_display_name",
                "display name must be 1 to 64 characters without control characters",
            ));
        }
        Ok(DisplayName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text password on its way to the hasher. Never serialised, never logged.
pub struct Password(String);

impl Password {
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

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A phone number in E.164 form (`+` then 8 to 15 digits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Accepts E.164 (`+84 912 345 678`) and, since most users are in Vietnam, the local
    /// forms `0912 345 678` and `84912345678`, all normalised to `+84912345678`. Spaces,
    /// dots, dashes and brackets are ignored.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits = if let Some(international) = compact.strip_prefix('+') {
            international.to_owned()
        } else if let Some(local) = compact.strip_prefix('0').filter(|rest| rest.len() == 9) {
            format!("84{local}")
        } else if compact.starts_with("84") && compact.len() == 11 {
            compact.clone()
        } else {
            String::new()
        };
        let valid =
            (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
        if !valid {
            return Err(Invalid::new("invalid_phone", "phone must be in E.164 form (+84912345678) or 0912345678"));
        }
        Ok(Phone(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who may do something to me.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    #[default]
    Everyone,
    Friends,
    Nobody,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    #[default]
    Vi,
    En,
}

/// Privacy and notification settings. The defaults are the safe ones a new user gets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    pub who_can_message: Audience,
    pub who_can_call: Audience,
    pub who_sees_presence: Audience,
    pub who_can_add_to_groups: Audience,
    pub discoverable_by_phone: bool,
    pub send_read_receipts: bool,
    pub notifications_enabled: bool,
    pub notification_previews: bool,
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
    pub id: UserId,
    pub username: Username,
    pub display_name: DisplayName,
    pub phone: Option<Phone>,
    pub avatar_media_id: Option<uuid::Uuid>,
    pub bio: String,
    pub settings: Settings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What anyone who may see a user sees: no phone, no settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicProfile {
    pub id: UserId,
    pub username: Username,
    pub display_name: DisplayName,
    pub avatar_media_id: Option<uuid::Uuid>,
    pub bio: String,
}

/// What the owner sees of their own account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnProfile {
    pub id: UserId,
    pub username: Username,
    pub display_name: DisplayName,
    pub phone: Option<Phone>,
    pub avatar_media_id: Option<uuid::Uuid>,
    pub bio: String,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn public_profile(&self) -> PublicProfile {
        PublicProfile {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            avatar_media_id: self.avatar_media_id,
            bio: self.bio.clone(),
        }
    }

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

/// A bio: at most 300 characters.
pub fn parse_bio(raw: &str) -> Result<String, Invalid> {
    let bio = raw.trim();
    if bio.chars().count() > 300 {
        return Err(Invalid::new("invalid_bio", "bio must be at most 300 characters"));
    }
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
    pub id: SessionId,
    pub user_id: UserId,
    pub device_name: String,
    pub created_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
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
    pub user_id: UserId,
    pub session_id: SessionId,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_is_lowercased_and_checked() {
        assert_eq!(Username::parse(" An.Nguyen ").map(|u| u.0), Ok("an.nguyen".to_owned()));
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("an nguyen").is_err());
        assert!(Username::parse(".an").is_err());
        assert!(Username::parse("nguyễn").is_err());
    }

    #[test]
    fn phone_accepts_e164_and_vietnamese_local_forms() {
        assert_eq!(Phone::parse("+84 912 345 678").map(|p| p.0), Ok("+84912345678".to_owned()));
        assert_eq!(Phone::parse("0912 345 678").map(|p| p.0), Ok("+84912345678".to_owned()));
        assert_eq!(Phone::parse("(091) 234-5678").map(|p| p.0), Ok("+84912345678".to_owned()));
        assert_eq!(Phone::parse("84912345678").map(|p| p.0), Ok("+84912345678".to_owned()));
        assert!(Phone::parse("091234567").is_err());
        assert!(Phone::parse("+0912345678").is_err());
        assert!(Phone::parse("+84abc").is_err());
    }

    #[test]
    fn display_name_counts_characters_not_bytes() {
        let vietnamese = "Nguyễn Thị Minh Khai Đặng Hoàng Phúc Trần Văn Bảo Lê Hữu Nghĩa";
        assert!(DisplayName::parse(vietnamese).is_ok());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
    }
}
