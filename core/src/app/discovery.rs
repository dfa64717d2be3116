//! Finding people: search by name, lookup by phone, contact sync. Blocks hide both ways, and
//! phone lookups only find users who chose to be discoverable by phone.

use serde::Serialize;

use crate::domain::account::{Phone, PublicProfile};
use crate::domain::rate_limit::RateLimitKey;
use crate::domain::social::{MAX_CONTACT_SYNC, fold_for_search};
use crate::domain::text::{Layout, refuse_control_characters};

use super::access::{WhenUnavailable, rate_check};
use super::errors::SocialError;
use super::{Actor, Deps};

/// The most results of one search.
pub const MAX_SEARCH_RESULTS: usize = 20;

/// One address-book number that belongs to a user who may be found by phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactMatch {
    /// The number as the client sent it, so it can map the match to its address book.
    pub phone: String,
    /// The user it belongs to.
    pub user: PublicProfile,
}

/// Users whose username or display name contains `query`, ignoring case and Vietnamese
/// marks ("nguyen" finds "Nguyễn").
pub async fn search(deps: &Deps, actor: Actor, query: &str) -> Result<Vec<PublicProfile>, SocialError> {
    refuse_control_characters(query, Layout::SingleLine, "the search")?;
    let folded = fold_for_search(query);
    let length = folded.chars().count();
    if length < 2 {
        return Err(crate::domain::error::Invalid::new("query_too_short", "search for at least 2 characters").into());
    }
    if length > 100 {
        return Err(crate::domain::error::Invalid::new("query_too_long", "search for at most 100 characters").into());
    }
    limit(deps, RateLimitKey::searches(actor.user_id), deps.limits.searches).await?;
    let hidden = deps.social.hidden_from(actor.user_id).await?;
    // Ask for a few more than shown, since blocked users are filtered out afterwards.
    let found = deps.users.search_users(&folded, MAX_SEARCH_RESULTS + hidden.len().min(50)).await?;
    Ok(found
        .into_iter()
        .filter(|user| user.id != actor.user_id && !hidden.contains(&user.id))
        .take(MAX_SEARCH_RESULTS)
        .map(|user| user.public_profile())
        .collect())
}

/// The user with this exact phone number, if they allow being found by it.
pub async fn find_by_phone(deps: &Deps, actor: Actor, phone: &str) -> Result<PublicProfile, SocialError> {
    let phone = Phone::parse(phone)?;
    limit(deps, RateLimitKey::searches(actor.user_id), deps.limits.searches).await?;
    let mut matches = discoverable(deps, actor, &[phone]).await?;
    matches.pop().map(|(_, user)| user).ok_or(SocialError::UserNotFound)
}

/// Which of the caller's contacts use the app and allow being found by phone. Numbers that
/// do not parse are skipped, not refused: address books are messy.
pub async fn contact_sync(deps: &Deps, actor: Actor, phones: &[String]) -> Result<Vec<ContactMatch>, SocialError> {
    if phones.len() > MAX_CONTACT_SYNC {
        return Err(SocialError::TooManyPhones);
    }
    limit(deps, RateLimitKey::contact_syncs(actor.user_id), deps.limits.contact_syncs).await?;
    let parsed: Vec<(String, Phone)> =
        phones.iter().filter_map(|raw| Phone::parse(raw).ok().map(|phone| (raw.clone(), phone))).collect();
    let numbers: Vec<Phone> = parsed.iter().map(|(_, phone)| phone.clone()).collect();
    let found = discoverable(deps, actor, &numbers).await?;
    Ok(parsed
        .into_iter()
        .filter_map(|(raw, phone)| {
            found.iter().find(|(p, _)| *p == phone).map(|(_, user)| ContactMatch { phone: raw, user: user.clone() })
        })
        .collect())
}

async fn discoverable(deps: &Deps, actor: Actor, phones: &[Phone]) -> Result<Vec<(Phone, PublicProfile)>, SocialError> {
    let hidden = deps.social.hidden_from(actor.user_id).await?;
    let users = deps.users.users_by_phones(phones).await?;
    Ok(users
        .into_iter()
        .filter(|user| user.settings.discoverable_by_phone && user.id != actor.user_id && !hidden.contains(&user.id))
        .filter_map(|user| user.phone.clone().map(|phone| (phone, user.public_profile())))
        .collect())
}

async fn limit(deps: &Deps, key: RateLimitKey, quota: crate::domain::rate_limit::Quota) -> Result<(), SocialError> {
    rate_check(deps, &key, quota, WhenUnavailable::Refuse)
        .await?
        .map_err(|retry_after_ms| SocialError::RateLimited { retry_after_ms })
}
