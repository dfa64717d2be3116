//! The device-repo contract: every `DeviceRepo` (memory, Postgres) keeps push registrations
//! so. A token is held by one registration at a time and moves, keeping its id, to whoever
//! registers it last, also when two register it at once; reads and removals keep to the
//! user, session or token they name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::future::join_all;

use crate::domain::Duration;
use crate::domain::Timestamp;
use crate::domain::account::{Locale, Session, TokenHash};
use crate::domain::ids::{DeviceId, SessionId, UserId};
use crate::domain::push::{Device, MAX_TOKEN_CHARS, Platform, PushToken};
use crate::ports::{DeviceRepo, NewSession};

use super::contract::{Store, new_id, now, user};

/// Everything a device store implements: devices reference users and sessions, so the
/// checks make those through the same store.
pub trait DeviceStore: Store + DeviceRepo {}
impl<T: Store + DeviceRepo> DeviceStore for T {}

/// Registered devices read back field for field as they were written, a user's oldest
/// first whatever order they were registered in, and a token of the longest length (in
/// characters of several bytes, with no repeats to compress) is kept whole.
pub async fn registered_devices_read_back_as_written_oldest_first(store: &dyn DeviceStore) {
    let (owner, other) = (user(store, "a").await, user(store, "b").await);
    let (phone, laptop) = (session(store, owner).await, session(store, owner).await);
    let t0 = now();
    let newest = device(owner, laptop, Platform::Web, unique_token(), None, t0 + Duration::seconds(2));
    let oldest = device(owner, phone, Platform::Android, unique_token(), Some(Locale::Vi), t0);
    let longest = PushToken::parse(&longest_token()).unwrap();
    let middle = device(owner, phone, Platform::Ios, longest, Some(Locale::En), t0 + Duration::seconds(1));
    let theirs = device(other, session(store, other).await, Platform::Android, unique_token(), None, t0);
    for registration in [&newest, &oldest, &middle, &theirs] {
        let stored = store.register_device(registration.clone()).await.unwrap();
        assert_eq!(&stored, registration, "a new token is stored as given");
    }
    assert_eq!(store.devices_of(owner).await.unwrap(), vec![oldest, middle, newest], "oldest first");
    assert_eq!(store.devices_of(other).await.unwrap(), vec![theirs]);
    assert!(store.devices_of(UserId(new_id())).await.unwrap().is_empty(), "an unknown user has none");
}

/// Registering a token again moves its one registration: the same session registering it
/// again updates it in place, and another user's session registering it takes it over
/// (user, session, platform, locale and time), keeping the id. The moved device is the
/// newest of its new owner's.
pub async fn a_token_registered_again_moves_and_keeps_its_id(store: &dyn DeviceStore) {
    let (first, second) = (user(store, "a").await, user(store, "b").await);
    let (first_session, second_session) = (session(store, first).await, session(store, second).await);
    let t0 = now();
    let token = unique_token();
    let original = device(first, first_session, Platform::Android, token.clone(), Some(Locale::Vi), t0);
    let kept = device(first, first_session, Platform::Android, unique_token(), None, t0);
    let older = device(second, second_session, Platform::Web, unique_token(), None, t0);
    for registration in [&original, &kept, &older] {
        store.register_device(registration.clone()).await.unwrap();
    }

    let again =
        device(first, first_session, Platform::Android, token.clone(), Some(Locale::En), t0 + Duration::seconds(1));
    let updated = store.register_device(again.clone()).await.unwrap();
    assert_eq!(updated, Device { id: original.id, ..again }, "re-registered in place, under its first id");
    let mut devices = store.devices_of(first).await.unwrap();
    devices.sort_by_key(|d| d.id);
    let mut expected = vec![updated, kept.clone()];
    expected.sort_by_key(|d| d.id);
    assert_eq!(devices, expected, "still one registration of the token");

    let taken = device(second, second_session, Platform::Ios, token, None, t0 + Duration::seconds(2));
    let moved = store.register_device(taken.clone()).await.unwrap();
    assert_eq!(moved, Device { id: original.id, ..taken }, "moved whole to the new session, under its id");
    assert_eq!(store.devices_of(first).await.unwrap(), vec![kept], "gone from the first user");
    assert_eq!(store.devices_of(second).await.unwrap(), vec![older, moved], "the newest of the second user's");
}

/// Two registrations of one token at once (several tokens, each by two users) leave one
/// registration per token: both get the same id back, and what is stored is what one of
/// them got.
pub async fn concurrent_registrations_of_one_token_leave_one(store: &dyn DeviceStore) {
    let tokens = 10;
    let (first, second) = (user(store, "a").await, user(store, "b").await);
    let (first_session, second_session) = (session(store, first).await, session(store, second).await);
    let at = now();
    let pairs: Vec<(Device, Device)> = (0..tokens)
        .map(|_| {
            let token = unique_token();
            (
                device(first, first_session, Platform::Android, token.clone(), Some(Locale::Vi), at),
                device(second, second_session, Platform::Ios, token, Some(Locale::En), at),
            )
        })
        .collect();
    let registrations =
        pairs.iter().flat_map(|(a, b)| [store.register_device(a.clone()), store.register_device(b.clone())]);
    let answers: Vec<Device> = join_all(registrations).await.into_iter().map(|answer| answer.unwrap()).collect();

    let stored = store.devices_of_users(&[first, second]).await.unwrap();
    assert_eq!(stored.len(), tokens, "one registration per token: {stored:#?}");
    for (index, (a, _)) in pairs.iter().enumerate() {
        let (answer_a, answer_b) = (&answers[2 * index], &answers[2 * index + 1]);
        assert_eq!(answer_a.id, answer_b.id, "both registrations of a token answer with one id");
        let kept: Vec<&Device> = stored.iter().filter(|d| d.token == a.token).collect();
        assert_eq!(kept.len(), 1, "token {index} is stored once");
        assert!(kept[0] == answer_a || kept[0] == answer_b, "token {index} is stored as one registration left it");
    }
}

/// `devices_of_users` returns every device of the users named and no other, each once.
pub async fn devices_of_users_returns_exactly_theirs(store: &dyn DeviceStore) {
    let (a, b, c, none) =
        (user(store, "a").await, user(store, "b").await, user(store, "c").await, user(store, "d").await);
    let mut of = std::collections::HashMap::new();
    for (owner, count) in [(a, 2), (b, 1), (c, 1)] {
        let login = session(store, owner).await;
        let registrations = (0..count).map(|_| device(owner, login, Platform::Android, unique_token(), None, now()));
        let devices = join_all(registrations.map(|registration| store.register_device(registration))).await;
        of.insert(owner, devices.into_iter().map(Result::unwrap).collect::<Vec<_>>());
    }
    let sorted = |mut devices: Vec<Device>| {
        devices.sort_by_key(|d| d.id);
        devices
    };
    let expected = sorted([of[&a].clone(), of[&b].clone()].concat());
    assert_eq!(sorted(store.devices_of_users(&[a, none, b]).await.unwrap()), expected);
    assert_eq!(sorted(store.devices_of_users(&[a, b, a]).await.unwrap()), expected, "a user named twice counts once");
    assert_eq!(store.devices_of_users(&[c]).await.unwrap(), of[&c]);
    assert!(store.devices_of_users(&[none, UserId(new_id())]).await.unwrap().is_empty());
    assert!(store.devices_of_users(&[]).await.unwrap().is_empty(), "no users, no devices");
}

/// A user removes their own device only: another user's device id, or one already removed,
/// answers `false` and removes nothing.
pub async fn a_user_removes_only_their_own_device(store: &dyn DeviceStore) {
    let (owner, other) = (user(store, "a").await, user(store, "b").await);
    let (mine, theirs) = (session(store, owner).await, session(store, other).await);
    let at = now();
    let first = device(owner, mine, Platform::Android, unique_token(), None, at);
    let second = device(owner, mine, Platform::Web, unique_token(), None, at + Duration::seconds(1));
    let foreign = device(other, theirs, Platform::Ios, unique_token(), None, at);
    for registration in [&first, &second, &foreign] {
        store.register_device(registration.clone()).await.unwrap();
    }

    assert!(!store.remove_device(other, first.id).await.unwrap(), "not the other user's to remove");
    assert_eq!(store.devices_of(owner).await.unwrap(), vec![first.clone(), second.clone()], "nothing removed");
    assert!(store.remove_device(owner, first.id).await.unwrap());
    assert_eq!(store.devices_of(owner).await.unwrap(), vec![second]);
    assert!(!store.remove_device(owner, first.id).await.unwrap(), "already removed");
    assert!(!store.remove_device(owner, DeviceId(new_id())).await.unwrap(), "an unknown id");
    assert_eq!(store.devices_of(other).await.unwrap(), vec![foreign], "the other user's device stays");
}

/// `remove_session_devices` removes the devices of that session and counts them: not the
/// same user's other session's, not another user's, and not a token that moved away from
/// the session before.
pub async fn removing_a_sessions_devices_leaves_the_others(store: &dyn DeviceStore) {
    let (owner, other) = (user(store, "a").await, user(store, "b").await);
    let (phone, laptop, theirs) =
        (session(store, owner).await, session(store, owner).await, session(store, other).await);
    let at = now();
    let on_phone = [
        device(owner, phone, Platform::Android, unique_token(), None, at),
        device(owner, phone, Platform::Android, unique_token(), None, at + Duration::seconds(1)),
    ];
    let on_laptop = device(owner, laptop, Platform::Web, unique_token(), None, at + Duration::seconds(2));
    let their_device = device(other, theirs, Platform::Ios, unique_token(), None, at);
    let moving_token = unique_token();
    let left = device(owner, phone, Platform::Android, moving_token.clone(), None, at);
    for registration in on_phone.iter().chain([&on_laptop, &their_device, &left]) {
        store.register_device(registration.clone()).await.unwrap();
    }
    let moved = store
        .register_device(device(other, theirs, Platform::Android, moving_token, None, at + Duration::seconds(3)))
        .await
        .unwrap();

    assert_eq!(store.remove_session_devices(phone).await.unwrap(), 2, "the phone's two devices");
    assert_eq!(store.devices_of(owner).await.unwrap(), vec![on_laptop], "the laptop's stays");
    assert_eq!(store.devices_of(other).await.unwrap(), vec![their_device, moved], "the other user's stay");
    assert_eq!(store.remove_session_devices(phone).await.unwrap(), 0, "nothing left to remove");
    assert_eq!(store.remove_session_devices(SessionId(new_id())).await.unwrap(), 0, "an unknown session");
}

/// `remove_token` removes a token's registration wherever it moved, and nothing else.
pub async fn a_token_is_removed_wherever_it_is(store: &dyn DeviceStore) {
    let (first, second) = (user(store, "a").await, user(store, "b").await);
    let (first_session, second_session) = (session(store, first).await, session(store, second).await);
    let at = now();
    let gone = unique_token();
    let stays = device(first, first_session, Platform::Web, unique_token(), None, at);
    store.register_device(stays.clone()).await.unwrap();
    store.register_device(device(first, first_session, Platform::Android, gone.clone(), None, at)).await.unwrap();
    store.register_device(device(second, second_session, Platform::Android, gone.clone(), None, at)).await.unwrap();

    assert!(store.remove_token(&gone).await.unwrap());
    assert!(store.devices_of(second).await.unwrap().is_empty(), "removed from where it moved");
    assert_eq!(store.devices_of(first).await.unwrap(), vec![stays], "other tokens stay");
    assert!(!store.remove_token(&gone).await.unwrap(), "already removed");
    assert!(!store.remove_token(&unique_token()).await.unwrap(), "an unknown token");
}

/// A new active session of `user` (devices belong to one).
async fn session(store: &dyn DeviceStore, user: UserId) -> SessionId {
    let now = now();
    let session = Session {
        id: SessionId(new_id()),
        user_id: user,
        device_name: "phone".into(),
        created_at: now,
        refresh_expires_at: now + Duration::days(30),
        revoked_at: None,
    };
    let refresh_hash = TokenHash(new_id().to_string());
    store.create_session(NewSession { session: session.clone(), refresh_hash }).await.unwrap();
    session.id
}

/// A registration as the use case builds it, under a new id.
fn device(
    user: UserId,
    session: SessionId,
    platform: Platform,
    token: PushToken,
    locale: Option<Locale>,
    registered_at: Timestamp,
) -> Device {
    Device { id: DeviceId(new_id()), user_id: user, session_id: session, platform, token, locale, registered_at }
}

/// A token no other check or registration uses, shaped like an FCM one.
fn unique_token() -> PushToken {
    PushToken::parse(&format!("fcm:{}_APA91b-{}", new_id().simple(), new_id().simple())).unwrap()
}

/// A token of [`MAX_TOKEN_CHARS`] characters, many of them several bytes long, drawn from
/// random bits so that nothing in it repeats enough to compress: storage that indexes
/// tokens must index a digest, not the text (a B-tree entry holds at most a third of a page).
fn longest_token() -> String {
    const ALPHABET: &[char] = &[
        'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V',
        'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r',
        's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '_', 'ă', 'â',
        'đ', 'ê', 'ô', 'ơ', 'ư', 'ữ', 'ệ', 'ở', '漢', '字', '🔔', '📱', 'ж', 'λ',
    ];
    // The last four bytes of a UUIDv7 are random (the counter that keeps ids ordered sits
    // before them).
    let random_bytes = std::iter::repeat_with(|| new_id().as_bytes()[12..].to_vec()).flatten();
    random_bytes.take(MAX_TOKEN_CHARS).map(|byte| ALPHABET[usize::from(byte) % ALPHABET.len()]).collect()
}
