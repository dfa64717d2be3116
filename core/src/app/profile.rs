//! Profiles and settings: `/me`, `/me/settings`, `/users/{id}`.

use serde::Deserialize;

use crate::domain::account::{
    Audience, DisplayName, Locale, OwnProfile, Phone, PublicProfile, Settings, User, parse_bio,
};
use crate::domain::ids::{MediaId, UserId};
use crate::ports::UserConflict;

use super::errors::{Detail, ProfileError};
use super::media::{AvatarRefusal, check_avatar};
use super::{Actor, Deps};

/// Fields of `/me` to change; absent fields stay as they are. For the nullable ones,
/// `Some(None)` clears the value.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfilePatch {
    /// A new display name.
    pub display_name: Option<String>,
    /// A new bio (empty clears it).
    pub bio: Option<String>,
    /// A new avatar: the id of an image of yours that finished uploading (`invalid_avatar`
    /// otherwise), or null to remove it.
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub avatar_media_id: Option<Option<uuid::Uuid>>,
    /// A new phone number, or `Some(None)` to remove it.
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Option<String>>,
}

/// Settings to change; absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// Who may message me.
    pub who_can_message: Option<Audience>,
    /// Who may call me.
    pub who_can_call: Option<Audience>,
    /// Who sees when I am online and when I was last seen.
    pub who_sees_presence: Option<Audience>,
    /// Who may add me to groups.
    pub who_can_add_to_groups: Option<Audience>,
    /// Whether others may find me by my phone number.
    pub discoverable_by_phone: Option<bool>,
    /// Whether others see when I read their messages (mutual).
    pub send_read_receipts: Option<bool>,
    /// Whether I get push notifications.
    pub notifications_enabled: Option<bool>,
    /// Whether notifications show the message text.
    pub notification_previews: Option<bool>,
    /// The language of texts the server makes for me.
    pub locale: Option<Locale>,
}

/// The caller's own profile.
pub async fn me(deps: &Deps, actor: Actor) -> Result<OwnProfile, ProfileError> {
    Ok(load(deps, actor.user_id).await?.own_profile())
}

/// Changes the caller's profile; a new phone number must not belong to another account.
pub async fn update_me(deps: &Deps, actor: Actor, patch: ProfilePatch) -> Result<OwnProfile, ProfileError> {
    let mut user = load(deps, actor.user_id).await?;
    if let Some(name) = patch.display_name {
        user.display_name = DisplayName::parse(&name)?;
    }
    if let Some(bio) = patch.bio {
        user.bio = parse_bio(&bio)?;
    }
    if let Some(avatar) = patch.avatar_media_id {
        if let Some(id) = avatar {
            keep_avatar(deps, actor, MediaId(id)).await?;
        }
        user.avatar_media_id = avatar;
    }
    if let Some(phone) = patch.phone {
        user.phone = phone.as_deref().map(Phone::parse).transpose()?;
    }
    save(deps, user).await.map(|user| user.own_profile())
}

/// The caller's privacy and notification settings.
pub async fn settings(deps: &Deps, actor: Actor) -> Result<Settings, ProfileError> {
    Ok(load(deps, actor.user_id).await?.settings)
}

/// Changes some of the caller's settings and returns all of them.
pub async fn update_settings(deps: &Deps, actor: Actor, patch: SettingsPatch) -> Result<Settings, ProfileError> {
    let mut user = load(deps, actor.user_id).await?;
    let settings = &mut user.settings;
    let SettingsPatch {
        who_can_message,
        who_can_call,
        who_sees_presence,
        who_can_add_to_groups,
        discoverable_by_phone,
        send_read_receipts,
        notifications_enabled,
        notification_previews,
        locale,
    } = patch;
    set(&mut settings.who_can_message, who_can_message);
    set(&mut settings.who_can_call, who_can_call);
    set(&mut settings.who_sees_presence, who_sees_presence);
    set(&mut settings.who_can_add_to_groups, who_can_add_to_groups);
    set(&mut settings.discoverable_by_phone, discoverable_by_phone);
    set(&mut settings.send_read_receipts, send_read_receipts);
    set(&mut settings.notifications_enabled, notifications_enabled);
    set(&mut settings.notification_previews, notification_previews);
    set(&mut settings.locale, locale);
    save(deps, user).await.map(|user| user.settings)
}

/// Another user's public profile; a block either way hides it, as "not found".
pub async fn user_profile(deps: &Deps, actor: Actor, id: UserId) -> Result<PublicProfile, ProfileError> {
    if deps.social.blocked_between(actor.user_id, id).await? {
        return Err(ProfileError::UserNotFound);
    }
    let user = deps.users.user(id).await?.ok_or(ProfileError::UserNotFound)?;
    Ok(user.public_profile())
}

/// An avatar is an image of the caller's own that finished uploading (not failed); it is kept
/// from the cleanup of media never attached to a message, and anyone who may see the profile
/// may download it.
async fn keep_avatar(deps: &Deps, actor: Actor, id: MediaId) -> Result<(), ProfileError> {
    check_avatar(deps, actor.user_id, id).await.map_err(|refusal| match refusal {
        AvatarRefusal::NotFound => ProfileError::AvatarNotFound,
        AvatarRefusal::NotAnImage => ProfileError::InvalidAvatar,
        AvatarRefusal::Port(error) => error.into(),
    })?;
    deps.media.keep(id, deps.clock.now()).await?;
    Ok(())
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

async fn load(deps: &Deps, id: UserId) -> Result<User, ProfileError> {
    deps.users.user(id).await?.ok_or(ProfileError::UserNotFound)
}

async fn save(deps: &Deps, mut user: User) -> Result<User, ProfileError> {
    user.updated_at = deps.clock.now();
    match deps.users.update_user(&user).await? {
        Ok(()) => Ok(user),
        Err(UserConflict::Phone) => Err(ProfileError::PhoneTaken),
        Err(UserConflict::Username) => {
            Err(ProfileError::Internal(Detail::new("a profile update hit a username conflict it does not change")))
        }
    }
}

/// Tells "field absent" (outer `None`) from "field is null" (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}
