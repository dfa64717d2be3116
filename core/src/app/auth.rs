//! Accounts and sessions: register, login, refresh (rotating), logout, and authenticating
//! an access token.

use std::net::IpAddr;

use crate::domain::Timestamp;
use crate::domain::account::{
    AccessClaims, DisplayName, Password, Phone, Session, Settings, User, Username, device_name,
};
use crate::domain::event::{Delivery, Event};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::rate_limit::RateLimitKey;
use crate::ports::{NewSession, RotateOutcome, UserConflict};

use super::access::{WhenUnavailable, publish, rate_check};
use super::errors::AuthError;
use super::{Actor, Deps};

/// A new account and its first session.
pub struct Register {
    /// The login name (see `Username` for the rules).
    pub username: String,
    /// The password, 8 to 128 characters.
    pub password: String,
    /// The name others see.
    pub display_name: String,
    /// An optional phone number (Vietnamese local or international form).
    pub phone: Option<String>,
    /// A name for the device, shown in the session list.
    pub device_name: Option<String>,
    /// Where the request came from, for the per-IP limit (none: not limited).
    pub client_ip: Option<IpAddr>,
}

/// A login attempt.
pub struct Login {
    /// The login name.
    pub username: String,
    /// The password to check.
    pub password: String,
    /// A name for the device, shown in the session list.
    pub device_name: Option<String>,
    /// Where the request came from, for the per-IP limit (none: not limited).
    pub client_ip: Option<IpAddr>,
}

/// A fresh pair of tokens for one session.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// The session the tokens belong to.
    pub session_id: SessionId,
    /// The short-lived token to authenticate requests with.
    pub access_token: String,
    /// When the access token stops being accepted.
    pub access_expires_at: Timestamp,
    /// The token to get the next pair with; it works once.
    pub refresh_token: String,
}

/// A user who just registered or logged in, with their new tokens.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The account.
    pub user: User,
    /// The tokens of the new session.
    pub tokens: Tokens,
}

/// Creates an account and logs it in. Limited per client IP.
pub async fn register(deps: &Deps, command: Register) -> Result<Authenticated, AuthError> {
    if let Some(ip) = command.client_ip {
        rate_check(deps, &RateLimitKey::register_ip(ip), deps.limits.register_per_ip, WhenUnavailable::Refuse)
            .await?
            .map_err(|retry_after_ms| AuthError::RateLimited { retry_after_ms })?;
    }
    let username = Username::parse(&command.username)?;
    let display_name = DisplayName::parse(&command.display_name)?;
    let password = Password::parse(&command.password)?;
    let phone = command.phone.as_deref().map(Phone::parse).transpose()?;
    let now = deps.clock.now();
    let user = User {
        id: UserId(deps.ids.new_id()),
        username,
        display_name,
        phone,
        avatar_media_id: None,
        bio: String::new(),
        settings: Settings::default(),
        created_at: now,
        updated_at: now,
    };
    let hash = deps.passwords.hash(&password).await?;
    match deps.users.insert_user(user.clone(), hash).await? {
        Ok(()) => {}
        Err(UserConflict::Username) => return Err(AuthError::UsernameTaken),
        Err(UserConflict::Phone) => return Err(AuthError::PhoneTaken),
    }
    let tokens = start_session(deps, user.id, command.device_name.as_deref()).await?;
    Ok(Authenticated { user, tokens })
}

/// Checks a username and password and starts a session. Limited per IP and per
/// account; a wrong password and an unknown user look the same.
pub async fn login(deps: &Deps, command: Login) -> Result<Authenticated, AuthError> {
    // Limits come first and count every attempt, so guessing costs the same whether or not
    // the account exists.
    if let Some(ip) = command.client_ip {
        rate_check(deps, &RateLimitKey::login_ip(ip), deps.limits.login_per_ip, WhenUnavailable::Refuse)
            .await?
            .map_err(|retry_after_ms| AuthError::RateLimited { retry_after_ms })?;
    }
    // Only a well-formed username gets a limiter key: arbitrary strings must not mint keys.
    let username = Username::parse(&command.username).ok();
    if let Some(username) = &username {
        let account_key = RateLimitKey::login_account(username);
        rate_check(deps, &account_key, deps.limits.login_per_account, WhenUnavailable::Refuse)
            .await?
            .map_err(|retry_after_ms| AuthError::RateLimited { retry_after_ms })?;
    }

    let password = Password::for_login(&command.password).map_err(|_| AuthError::InvalidCredentials)?;
    let credentials = match &username {
        Some(username) => deps.users.credentials(username).await?,
        None => None,
    };
    let stored_hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let verified = deps.passwords.verify(&password, stored_hash).await?;
    let Some(credentials) = credentials.filter(|_| verified) else {
        return Err(AuthError::InvalidCredentials);
    };
    let user = deps.users.user(credentials.user_id).await?.ok_or(AuthError::InvalidCredentials)?;
    let tokens = start_session(deps, user.id, command.device_name.as_deref()).await?;
    Ok(Authenticated { user, tokens })
}

/// Exchanges a refresh token for a new pair. Each refresh token works once; presenting a
/// used one revokes the session, since only a thief or a replay would do that.
pub async fn refresh(deps: &Deps, refresh_token: &str) -> Result<Tokens, AuthError> {
    let now = deps.clock.now();
    let presented = deps.tokens.hash_refresh_token(refresh_token);
    let new_token = deps.tokens.new_refresh_token();
    let replacement = deps.tokens.hash_refresh_token(&new_token);
    let expires_at = now + deps.limits.refresh_token_ttl;
    match deps.sessions.rotate_refresh(&presented, replacement, now, expires_at).await? {
        RotateOutcome::Rotated(session) => {
            let (access_token, access_expires_at) = access_token_for(deps, &session, now)?;
            Ok(Tokens { session_id: session.id, access_token, access_expires_at, refresh_token: new_token })
        }
        RotateOutcome::Reused(session_id) => {
            if let Some(session) = deps.sessions.session(session_id).await? {
                deps.devices.remove_session_devices(session_id).await?;
                announce_revoked(deps, session.user_id, vec![session_id]).await;
            }
            Err(AuthError::RefreshTokenReused)
        }
        RotateOutcome::Invalid => Err(AuthError::InvalidToken),
    }
}

/// Logs out this session, or with `all` every session of the user; their sockets close.
pub async fn logout(deps: &Deps, actor: Actor, all: bool) -> Result<(), AuthError> {
    let now = deps.clock.now();
    let revoked = if all {
        deps.sessions.revoke_all_sessions(actor.user_id, now).await?
    } else {
        deps.sessions.revoke_session(actor.session_id, now).await?;
        vec![actor.session_id]
    };
    for session in &revoked {
        deps.devices.remove_session_devices(*session).await?;
    }
    announce_revoked(deps, actor.user_id, revoked).await;
    Ok(())
}

/// Turns an access token into the acting user and session; the session must still be live,
/// so a logout takes effect at once rather than when the token expires.
pub async fn authenticate(deps: &Deps, access_token: &str) -> Result<Actor, AuthError> {
    let now = deps.clock.now();
    let claims = deps.tokens.verify_access(access_token, now).ok_or(AuthError::InvalidToken)?;
    let session = deps.sessions.session(claims.session_id).await?;
    match session {
        Some(session) if session.user_id == claims.user_id && session.is_active(now) => {
            Ok(Actor { user_id: claims.user_id, session_id: claims.session_id })
        }
        _ => Err(AuthError::SessionRevoked),
    }
}

async fn start_session(deps: &Deps, user_id: UserId, device: Option<&str>) -> Result<Tokens, AuthError> {
    let now = deps.clock.now();
    let refresh_token = deps.tokens.new_refresh_token();
    let session = Session {
        id: SessionId(deps.ids.new_id()),
        user_id,
        device_name: device_name(device),
        created_at: now,
        refresh_expires_at: now + deps.limits.refresh_token_ttl,
        revoked_at: None,
    };
    let refresh_hash = deps.tokens.hash_refresh_token(&refresh_token);
    deps.sessions.create_session(NewSession { session: session.clone(), refresh_hash }).await?;
    let (access_token, access_expires_at) = access_token_for(deps, &session, now)?;
    Ok(Tokens { session_id: session.id, access_token, access_expires_at, refresh_token })
}

fn access_token_for(deps: &Deps, session: &Session, now: Timestamp) -> Result<(String, Timestamp), AuthError> {
    let expires_at = now + deps.limits.access_token_ttl;
    let claims = AccessClaims { user_id: session.user_id, session_id: session.id, expires_at };
    Ok((deps.tokens.issue_access(&claims)?, expires_at))
}

async fn announce_revoked(deps: &Deps, user: UserId, session_ids: Vec<SessionId>) {
    if session_ids.is_empty() {
        return;
    }
    let event = Event::SessionsRevoked { session_ids };
    publish(deps, Delivery { recipients: vec![user], except_session: None, only_session: None, event }).await;
}
