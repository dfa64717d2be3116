//! The presence contract: session lifetimes, exactly-once expiry, and what others see.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::future::join_all;

use crate::domain::Duration;
use crate::domain::ids::{ConnectionId, UserId};
use crate::ports::{PresenceStatus, PresenceStore};

use super::contract::{new_id, now};

/// Renewing many sessions in one call brings each user online once and renews like single
/// heartbeats.
pub async fn many_sessions_renew_at_once(store: &dyn PresenceStore) {
    let (ann, binh, chau) = (UserId(new_id()), UserId(new_id()), UserId(new_id()));
    let (ann_phone, ann_laptop, binh_phone, chau_phone) =
        (ConnectionId(new_id()), ConnectionId(new_id()), ConnectionId(new_id()), ConnectionId(new_id()));
    let t0 = now();
    let ttl = Duration::seconds(40);
    assert!(store.connection_alive(chau, chau_phone, t0, ttl).await.unwrap());
    let batch = [(ann, ann_phone), (ann, ann_laptop), (binh, binh_phone), (chau, chau_phone)];
    let mut came_online = store.connections_alive(&batch, t0, ttl).await.unwrap();
    came_online.sort();
    let mut expected = vec![ann, binh];
    expected.sort();
    assert_eq!(came_online, expected, "Ann once for two sockets; Châu was online already");
    assert!(store.connections_alive(&[], t0, ttl).await.unwrap().is_empty());
    // The batch renews like single heartbeats: still online past the first deadline.
    let later = t0 + Duration::seconds(30);
    assert!(store.connections_alive(&batch, later, ttl).await.unwrap().is_empty(), "renewal brings nobody online");
    let seen = store.status(&[ann, binh, chau], t0 + Duration::seconds(50)).await.unwrap();
    assert!(seen.iter().all(|(_, status)| status.online), "renewed at +30 s, alive at +50 s: {seen:?}");
    for (user, session) in batch {
        store.connection_ended(user, session, later).await.unwrap();
    }
}

/// The first session brings a user online, the last to end takes them offline with a
/// last-seen time; a stranger is offline with none.
pub async fn sessions_bring_users_online_and_the_last_to_leave_takes_them_offline(store: &dyn PresenceStore) {
    let user = UserId(new_id());
    let (phone, laptop) = (ConnectionId(new_id()), ConnectionId(new_id()));
    let t0 = now();
    let ttl = Duration::seconds(40);
    assert!(store.connection_alive(user, phone, t0, ttl).await.unwrap(), "first session: online");
    assert!(!store.connection_alive(user, laptop, t0, ttl).await.unwrap(), "second session: already online");
    assert!(!store.connection_alive(user, phone, t0 + Duration::seconds(30), ttl).await.unwrap(), "heartbeat");
    let online = store.status(&[user], t0 + Duration::seconds(31)).await.unwrap();
    assert_eq!(online, vec![(user, PresenceStatus { online: true, last_seen: None })]);

    let t1 = t0 + Duration::seconds(35);
    assert!(!store.connection_ended(user, phone, t1).await.unwrap(), "the laptop is still on");
    assert!(store.connection_ended(user, laptop, t1).await.unwrap(), "last session gone: offline");
    assert!(!store.connection_ended(user, laptop, t1).await.unwrap(), "ending twice changes nothing");
    let offline = store.status(&[user], t1).await.unwrap();
    assert_eq!(offline, vec![(user, PresenceStatus { online: false, last_seen: Some(t1) })]);
    let stranger = UserId(new_id());
    assert_eq!(
        store.status(&[stranger], t1).await.unwrap(),
        vec![(stranger, PresenceStatus { online: false, last_seen: None })]
    );
}

/// A session past its TTL is handed to exactly one of several sweeps, last seen at expiry.
pub async fn expired_sessions_are_handed_out_exactly_once(store: &dyn PresenceStore) {
    let user = UserId(new_id());
    let t0 = now();
    let ttl = Duration::seconds(10);
    store.connection_alive(user, ConnectionId(new_id()), t0, ttl).await.unwrap();
    let early = store.take_expired(t0 + Duration::seconds(5)).await.unwrap();
    assert!(!early.iter().any(|(u, _)| *u == user), "not expired yet");
    // Several nodes sweep at once: exactly one of them gets the user.
    let later = t0 + Duration::seconds(11);
    let sweeps = join_all((0..4).map(|_| store.take_expired(later))).await;
    let handed: Vec<(UserId, crate::domain::Timestamp)> =
        sweeps.into_iter().flat_map(|s| s.unwrap()).filter(|(u, _)| *u == user).collect();
    assert_eq!(handed, vec![(user, t0 + ttl)], "the crashed user is announced once, last seen at expiry");
    let status = store.status(&[user], later).await.unwrap();
    assert_eq!(status, vec![(user, PresenceStatus { online: false, last_seen: Some(t0 + ttl) })]);
    // Coming back works as from scratch.
    assert!(store.connection_alive(user, ConnectionId(new_id()), later, ttl).await.unwrap());
}
