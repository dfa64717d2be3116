//! The session part of the store contract: refresh tokens rotate once, a replay revokes the
//! session, and revocation ends exactly the sessions it names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::domain::Duration;
use crate::domain::Timestamp;
use crate::domain::account::{Session, TokenHash};
use crate::domain::ids::{SessionId, UserId};
use crate::ports::{NewSession, RotateOutcome};

use super::contract::{Store, new_id, now, user};

/// A new active session of `user`, valid for 30 days from `now`, and its refresh token.
async fn session_of(store: &dyn Store, user: UserId, now: Timestamp) -> (Session, TokenHash) {
    let session = Session {
        id: SessionId(new_id()),
        user_id: user,
        device_name: "phone".into(),
        created_at: now,
        refresh_expires_at: now + Duration::days(30),
        revoked_at: None,
    };
    let token = TokenHash(new_id().to_string());
    store.create_session(NewSession { session: session.clone(), refresh_hash: token.clone() }).await.unwrap();
    (session, token)
}

/// Presents `token` at `now`, asking for a fresh one.
async fn rotate(store: &dyn Store, token: &TokenHash, now: Timestamp) -> RotateOutcome {
    store.rotate_refresh(token, TokenHash(new_id().to_string()), now, now + Duration::days(30)).await.unwrap()
}

async fn revoked_at(store: &dyn Store, id: SessionId) -> Option<Timestamp> {
    store.session(id).await.unwrap().expect("a stored session").revoked_at
}

/// A current refresh token rotates once; presenting it again is a replay, which revokes the
/// whole session, so the token it was replaced by is refused too.
pub async fn refresh_tokens_rotate_once_and_replays_revoke(store: &dyn Store) {
    let user = user(store, "dev").await;
    let now = now();
    let (session, first) = session_of(store, user, now).await;
    let second = TokenHash(new_id().to_string());
    let later = now + Duration::days(31);
    let rotated = store.rotate_refresh(&first, second.clone(), now, later).await.unwrap();
    assert!(
        matches!(rotated, RotateOutcome::Rotated(ref s) if s.id == session.id && s.refresh_expires_at == later),
        "{rotated:?}"
    );
    let replay = store.rotate_refresh(&first, TokenHash(new_id().to_string()), now, later).await.unwrap();
    assert_eq!(replay, RotateOutcome::Reused(session.id));
    let after = store.rotate_refresh(&second, TokenHash(new_id().to_string()), now, later).await.unwrap();
    assert_eq!(after, RotateOutcome::Invalid, "a replay revokes the whole session");
    assert!(store.session(session.id).await.unwrap().is_some_and(|s| s.revoked_at.is_some()));
}

/// `revoke_session` ends that session (its refresh token is refused from then on) and no
/// other; revoking it again keeps the first time, and an unknown id is no error.
pub async fn revoking_a_session_ends_that_session_only(store: &dyn Store) {
    let (owner, other) = (user(store, "a").await, user(store, "b").await);
    let t0 = now();
    let (phone, phone_token) = session_of(store, owner, t0).await;
    let (laptop, laptop_token) = session_of(store, owner, t0).await;
    let (theirs, their_token) = session_of(store, other, t0).await;
    let revoked = t0 + Duration::minutes(1);
    store.revoke_session(phone.id, revoked).await.unwrap();
    assert_eq!(revoked_at(store, phone.id).await, Some(revoked));
    assert_eq!(rotate(store, &phone_token, revoked).await, RotateOutcome::Invalid, "a revoked session's token");
    assert_eq!((revoked_at(store, laptop.id).await, revoked_at(store, theirs.id).await), (None, None));
    assert!(matches!(rotate(store, &laptop_token, revoked).await, RotateOutcome::Rotated(s) if s.id == laptop.id));
    assert!(matches!(rotate(store, &their_token, revoked).await, RotateOutcome::Rotated(s) if s.id == theirs.id));

    store.revoke_session(phone.id, revoked + Duration::minutes(1)).await.unwrap();
    assert_eq!(revoked_at(store, phone.id).await, Some(revoked), "revoked once, at the first time");
    let unknown = SessionId(new_id());
    store.revoke_session(unknown, revoked).await.unwrap();
    assert_eq!(store.session(unknown).await.unwrap(), None, "revoking an unknown id creates nothing");
}

/// `revoke_all_sessions` revokes every active session of one user and names exactly those:
/// not a session revoked before (which keeps its time), not another user's.
pub async fn revoking_all_sessions_names_the_active_ones_of_that_user(store: &dyn Store) {
    let (owner, other) = (user(store, "a").await, user(store, "b").await);
    let t0 = now();
    let (phone, _) = session_of(store, owner, t0).await;
    let (laptop, laptop_token) = session_of(store, owner, t0).await;
    let (old, _) = session_of(store, owner, t0).await;
    let (theirs, their_token) = session_of(store, other, t0).await;
    let earlier = t0 + Duration::minutes(1);
    store.revoke_session(old.id, earlier).await.unwrap();

    let at = t0 + Duration::minutes(2);
    let mut named = store.revoke_all_sessions(owner, at).await.unwrap();
    named.sort();
    let mut expected = vec![phone.id, laptop.id];
    expected.sort();
    assert_eq!(named, expected, "the active sessions of that user, each once");
    assert_eq!((revoked_at(store, phone.id).await, revoked_at(store, laptop.id).await), (Some(at), Some(at)));
    assert_eq!(revoked_at(store, old.id).await, Some(earlier), "an earlier revocation keeps its time");
    assert_eq!(rotate(store, &laptop_token, at).await, RotateOutcome::Invalid);
    assert_eq!(revoked_at(store, theirs.id).await, None, "another user's session is untouched");
    assert!(matches!(rotate(store, &their_token, at).await, RotateOutcome::Rotated(_)));

    assert!(store.revoke_all_sessions(owner, at).await.unwrap().is_empty(), "nothing left to revoke");
    assert!(store.revoke_all_sessions(UserId(new_id()), at).await.unwrap().is_empty(), "an unknown user");
}
