//! The `UserRepo` contract: unique usernames and phones, reads by id, changes read back at
//! once, search and phone lookup. It takes a bare `UserRepo`, so that what wraps a store (the
//! Redis profile cache) is held to the same behaviour as the stores themselves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::domain::account::{Audience, DisplayName, PasswordHash, Phone, Username};
use crate::domain::ids::UserId;
use crate::domain::social::fold_for_search;
use crate::ports::{UserConflict, UserRepo};

use super::contract::{new_id, now, random_digits, user};

/// A username nobody else has: `<prefix>` and the tail of a fresh UUID.
fn fresh_username(prefix: &str) -> Username {
    Username::parse(&format!("{prefix}{}", &new_id().simple().to_string()[20..])).unwrap()
}

/// A Vietnamese mobile number (090…, a MobiFone range) no other test uses.
fn fresh_phone() -> Phone {
    Phone::parse(&format!("+8490{}", &random_digits()[1..])).unwrap()
}

/// A second user may take neither the username nor the phone of the first; the first's
/// credentials are found by username, and an unknown username has none.
pub async fn users_are_unique_by_username_and_phone(users: &dyn UserRepo) {
    let first = user(users, "an").await;
    let mut taken = users.user(first).await.unwrap().expect("the user was stored");
    taken.phone = Some(fresh_phone());
    users.update_user(&taken).await.unwrap().unwrap();
    let mut twin = taken.clone();
    twin.id = UserId(new_id());
    assert_eq!(users.insert_user(twin.clone(), PasswordHash::new("h")).await.unwrap(), Err(UserConflict::Username));
    twin.username = fresh_username("b");
    assert_eq!(users.insert_user(twin.clone(), PasswordHash::new("h")).await.unwrap(), Err(UserConflict::Phone));
    assert_eq!(users.user(twin.id).await.unwrap(), None, "a refused insert stores nothing");
    let credentials = users.credentials(&taken.username).await.unwrap().expect("credentials by username");
    assert_eq!((credentials.user_id, credentials.password_hash.expose()), (first, "hash"));
    assert_eq!(users.credentials(&fresh_username("nobody")).await.unwrap(), None);
}

/// `user` finds one user by id, and `users` the ones among its ids that exist (in any order),
/// each exactly as stored; unknown ids are left out, never an error.
pub async fn users_are_read_by_id_alone_or_together(users: &dyn UserRepo) {
    let (a, b) = (user(users, "An").await, user(users, "Bình").await);
    let missing = UserId(new_id());
    let stored_a = users.user(a).await.unwrap().expect("a stored user");
    assert_eq!((stored_a.id, stored_a.display_name.as_str()), (a, "An"));
    assert_eq!(users.user(missing).await.unwrap(), None);
    // Read twice: the second answer may come from a cache, and must be the same.
    for round in 0..2 {
        let mut found = users.users(&[a, missing, b]).await.unwrap();
        found.sort_by_key(|u| u.id);
        let ids: Vec<UserId> = found.iter().map(|u| u.id).collect();
        let mut expected = vec![a, b];
        expected.sort();
        assert_eq!(ids, expected, "round {round}: the users that exist, the unknown one left out");
        assert!(found.contains(&stored_a), "round {round}: `users` and `user` agree");
    }
    assert_eq!(users.user(a).await.unwrap(), Some(stored_a), "read again, unchanged");
    assert!(users.users(&[]).await.unwrap().is_empty());
    assert!(users.users(&[missing]).await.unwrap().is_empty());
}

/// A profile change is what the next read returns, also when the old profile was read (and
/// perhaps cached) just before; a change refused for a taken phone changes nothing; and a
/// change to a user that does not exist creates nobody.
pub async fn a_profile_change_is_read_back_at_once(users: &dyn UserRepo) {
    let id = user(users, "An").await;
    let before = users.user(id).await.unwrap().expect("a stored user");
    users.users(&[id]).await.unwrap();
    let mut changed = before.clone();
    changed.display_name = DisplayName::parse("An Nguyễn").unwrap();
    changed.bio = "xin chào 👋".into();
    changed.settings.who_can_message = Audience::Friends;
    changed.updated_at = now();
    assert_eq!(users.update_user(&changed).await.unwrap(), Ok(()));
    assert_eq!(users.user(id).await.unwrap().as_ref(), Some(&changed), "read alone");
    assert_eq!(users.users(&[id]).await.unwrap(), vec![changed.clone()], "read together");

    let other = user(users, "Bình").await;
    let mut other_profile = users.user(other).await.unwrap().unwrap();
    other_profile.phone = Some(fresh_phone());
    users.update_user(&other_profile).await.unwrap().unwrap();
    let mut colliding = changed.clone();
    colliding.phone = other_profile.phone.clone();
    colliding.bio = "không được lưu".into();
    assert_eq!(users.update_user(&colliding).await.unwrap(), Err(UserConflict::Phone));
    assert_eq!(users.user(id).await.unwrap().as_ref(), Some(&changed), "a refused change changes nothing");

    let mut ghost = changed.clone();
    ghost.id = UserId(new_id());
    ghost.username = fresh_username("g");
    assert_eq!(users.update_user(&ghost).await.unwrap(), Ok(()), "changing nobody is no error");
    assert_eq!(users.user(ghost.id).await.unwrap(), None, "and creates nobody");
}

/// Search folds marks and case and takes `%` literally; phone lookup finds exact numbers.
pub async fn search_ignores_marks_and_phone_lookup_is_exact(users: &dyn UserRepo) {
    let id = user(users, "Nguyễn Đức Thắng").await;
    let mut found = users.user(id).await.unwrap().unwrap();
    let hits = users.search_users(&fold_for_search("nguyen duc"), 50).await.unwrap();
    assert!(hits.iter().any(|u| u.id == id), "folded search finds the accented name");
    let hits = users.search_users(&fold_for_search("ĐỨC"), 50).await.unwrap();
    assert!(hits.iter().any(|u| u.id == id));
    assert!(users.search_users("zzzz-no-such-name", 50).await.unwrap().is_empty());
    let hits = users.search_users("%", 50).await.unwrap();
    assert!(hits.is_empty(), "LIKE wildcards in a query are literal");

    let phone = Phone::parse(&format!("090{}", &random_digits()[1..])).unwrap();
    found.phone = Some(phone.clone());
    users.update_user(&found).await.unwrap().unwrap();
    let by_phone = users.users_by_phones(&[phone, Phone::parse("+84900000001").unwrap()]).await.unwrap();
    assert_eq!(by_phone.into_iter().map(|u| u.id).collect::<Vec<_>>(), vec![id]);
}
