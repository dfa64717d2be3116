//! The social-graph contract: requests, friendships, blocks, and what the privacy rules read.
//! (Search and phone lookup are `UserRepo`'s, in `users.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::future::join_all;

use crate::domain::account::Audience;
use crate::domain::conversation::ConversationKind;
use crate::domain::ids::{FriendRequestId, UserId};
use crate::domain::social::{FriendRequest, RequestStatus};
use crate::ports::{DirectPeer, SendRequestOutcome, SocialRepo};

use super::contract::{Store, direct, group, new_id, now, user};

/// Everything a social store implements.
pub trait SocialStore: Store + SocialRepo {}
impl<T: Store + SocialRepo> SocialStore for T {}

fn request(from: UserId, to: UserId) -> FriendRequest {
    FriendRequest {
        id: FriendRequestId(new_id()),
        from_user: from,
        to_user: to,
        message: "Chào bạn".into(),
        status: RequestStatus::Pending,
        created_at: now(),
        answered_at: None,
    }
}

/// One pending request per pair; a request back accepts the first; crossing requests at
/// once end as one friendship.
pub async fn one_pending_request_per_pair_and_a_crossing_request_accepts(store: &dyn SocialStore) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let first = match store.send_friend_request(request(a, b)).await.unwrap() {
        SendRequestOutcome::Sent(sent) => sent,
        other => panic!("expected Sent, got {other:?}"),
    };
    assert!(
        matches!(store.send_friend_request(request(a, b)).await.unwrap(), SendRequestOutcome::AlreadyPending(p) if p.id == first.id)
    );
    assert_eq!(store.pending_requests(b, true).await.unwrap(), vec![first.clone()]);
    assert_eq!(store.pending_requests(a, false).await.unwrap(), vec![first.clone()]);
    match store.send_friend_request(request(b, a)).await.unwrap() {
        SendRequestOutcome::AcceptedTheirs(accepted) => {
            assert_eq!((accepted.id, accepted.status), (first.id, RequestStatus::Accepted));
        }
        other => panic!("a request back must accept the first, got {other:?}"),
    }
    assert!(store.are_friends(a, b).await.unwrap() && store.are_friends(b, a).await.unwrap());
    assert!(matches!(store.send_friend_request(request(a, b)).await.unwrap(), SendRequestOutcome::AlreadyFriends));
    assert!(store.pending_requests(b, true).await.unwrap().is_empty());

    // Two crossing requests at once end as one friendship, never two pending requests.
    let (c, d) = (user(store, "c").await, user(store, "d").await);
    let outcomes = join_all([store.send_friend_request(request(c, d)), store.send_friend_request(request(d, c))]).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(store.are_friends(c, d).await.unwrap());
    assert!(
        store.pending_requests(c, true).await.unwrap().is_empty()
            && store.pending_requests(d, true).await.unwrap().is_empty()
    );
}

/// A request is answered once; a declined pair may ask again; unfriending ends it once.
pub async fn answers_apply_once(store: &dyn SocialStore) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let SendRequestOutcome::Sent(sent) = store.send_friend_request(request(a, b)).await.unwrap() else { panic!() };
    let declined = store.answer_friend_request(sent.id, RequestStatus::Declined, now()).await.unwrap().unwrap();
    assert_eq!(declined.status, RequestStatus::Declined);
    assert_eq!(
        store.answer_friend_request(sent.id, RequestStatus::Accepted, now()).await.unwrap(),
        None,
        "answered once"
    );
    assert!(!store.are_friends(a, b).await.unwrap());
    let SendRequestOutcome::Sent(again) = store.send_friend_request(request(a, b)).await.unwrap() else { panic!() };
    store.answer_friend_request(again.id, RequestStatus::Accepted, now()).await.unwrap().unwrap();
    let friends = store.friends(a).await.unwrap();
    assert_eq!(friends.iter().map(|f| f.friend).collect::<Vec<_>>(), vec![b]);
    assert!(store.unfriend(b, a).await.unwrap());
    assert!(!store.unfriend(b, a).await.unwrap());
    assert!(!store.are_friends(a, b).await.unwrap());
}

/// A block ends the friendship and pending requests, hides both ways, refuses requests
/// either way, and a request sent before it can never be accepted across it.
pub async fn a_block_ends_friendship_and_requests_and_hides_both_ways(store: &dyn SocialStore) {
    let (a, b, c) = (user(store, "a").await, user(store, "b").await, user(store, "c").await);
    let SendRequestOutcome::Sent(sent) = store.send_friend_request(request(a, b)).await.unwrap() else { panic!() };
    store.answer_friend_request(sent.id, RequestStatus::Accepted, now()).await.unwrap();
    store.send_friend_request(request(c, a)).await.unwrap();
    store.block(a, b, now()).await.unwrap();
    store.block(a, c, now()).await.unwrap();
    store.block(a, c, now()).await.unwrap();
    assert!(!store.are_friends(a, b).await.unwrap(), "a block ends the friendship");
    assert!(store.pending_requests(a, true).await.unwrap().is_empty(), "and pending requests");
    assert!(store.blocked_between(b, a).await.unwrap() && store.blocked_between(a, b).await.unwrap());
    let mut blocked: Vec<UserId> = store.blocks(a).await.unwrap().into_iter().map(|b| b.user_id).collect();
    blocked.sort();
    let mut expected = vec![b, c];
    expected.sort();
    assert_eq!(blocked, expected);
    assert!(store.hidden_from(b).await.unwrap().contains(&a), "hidden from the blocked side too");
    assert!(matches!(store.send_friend_request(request(b, a)).await.unwrap(), SendRequestOutcome::Blocked));
    assert!(matches!(store.send_friend_request(request(a, b)).await.unwrap(), SendRequestOutcome::Blocked));
    assert!(store.unblock(a, b).await.unwrap());
    assert!(!store.unblock(a, b).await.unwrap());
    assert!(!store.blocked_between(a, b).await.unwrap());
    assert!(!store.are_friends(a, b).await.unwrap(), "unblocking does not restore the friendship");
    // A request that slipped in before a block can never be accepted across it.
    let (d, e) = (user(store, "d").await, user(store, "e").await);
    let SendRequestOutcome::Sent(slipped) = store.send_friend_request(request(d, e)).await.unwrap() else { panic!() };
    store.block(d, e, now()).await.unwrap();
    assert_eq!(store.answer_friend_request(slipped.id, RequestStatus::Accepted, now()).await.unwrap(), None);
    assert!(!store.are_friends(d, e).await.unwrap());
}

/// `write_context` in one read: membership, and in a direct conversation the peer's blocks
/// (either way), friendship and "who may message me", each as it is now.
pub async fn the_write_context_tells_what_the_privacy_rules_need(store: &dyn SocialStore) {
    let (a, b, stranger) = (user(store, "a").await, user(store, "b").await, user(store, "s").await);
    let team = group(store, &[a, b]).await;
    let context = store.write_context(team, b).await.unwrap().expect("b is a member");
    assert_eq!((context.member.user_id, context.kind, context.peer), (b, ConversationKind::Group, None));
    assert_eq!(store.write_context(team, stranger).await.unwrap(), None, "not a member");

    let pair = direct(store, a, b).await;
    let peer_of = async |writer| store.write_context(pair, writer).await.unwrap().expect("a member").peer;
    let peer =
        |user_id, blocked, friends, who_can_message| Some(DirectPeer { user_id, blocked, friends, who_can_message });
    assert_eq!(peer_of(a).await, peer(b, false, false, Audience::Everyone));
    assert_eq!(store.write_context(pair, stranger).await.unwrap(), None);

    store.send_friend_request(request(a, b)).await.unwrap();
    store.send_friend_request(request(b, a)).await.unwrap();
    let mut settings_of_b = store.user(b).await.unwrap().unwrap();
    settings_of_b.settings.who_can_message = Audience::Friends;
    store.update_user(&settings_of_b).await.unwrap().unwrap();
    assert_eq!(peer_of(a).await, peer(b, false, true, Audience::Friends));
    assert_eq!(peer_of(b).await, peer(a, false, true, Audience::Everyone));

    store.block(b, a, now()).await.unwrap();
    assert_eq!(peer_of(a).await, peer(b, true, false, Audience::Friends), "blocked by the peer");
    assert_eq!(peer_of(b).await, peer(a, true, false, Audience::Everyone), "blocked the peer");
    store.unblock(b, a).await.unwrap();
    assert_eq!(peer_of(a).await, peer(b, false, false, Audience::Friends));

    // Asked all at once (a store may read them together), each caller gets its own answer.
    let asked: Vec<_> = (0..40).map(|i| [(team, b), (team, stranger), (pair, a), (pair, b)][i % 4]).collect();
    let together: Vec<_> =
        join_all(asked.iter().map(|&(c, w)| async move { store.write_context(c, w).await.unwrap() })).await;
    for (answer, (conversation, writer)) in together.into_iter().zip(asked) {
        let alone = store.write_context(conversation, writer).await.unwrap();
        assert_eq!(answer, alone, "the answer for {writer} in {conversation}");
    }
}

/// `friend_request` reads a request by id as it now is: pending when sent, then as answered
/// (with the time), or cancelled by a block; an unknown id is `None`.
pub async fn a_request_is_read_back_by_id_as_it_moves(store: &dyn SocialStore) {
    let (a, b, c) = (user(store, "a").await, user(store, "b").await, user(store, "c").await);
    let SendRequestOutcome::Sent(sent) = store.send_friend_request(request(a, b)).await.unwrap() else { panic!() };
    assert_eq!(store.friend_request(sent.id).await.unwrap().as_ref(), Some(&sent), "as sent");
    let answered = now();
    let declined = store.answer_friend_request(sent.id, RequestStatus::Declined, answered).await.unwrap().unwrap();
    let read = store.friend_request(sent.id).await.unwrap().expect("still there once answered");
    assert_eq!(read, declined);
    assert_eq!(
        (read.status, read.answered_at, read.from_user, read.to_user),
        (RequestStatus::Declined, Some(answered), a, b)
    );

    let SendRequestOutcome::Sent(pending) = store.send_friend_request(request(c, a)).await.unwrap() else { panic!() };
    let blocked = now();
    store.block(a, c, blocked).await.unwrap();
    let read = store.friend_request(pending.id).await.unwrap().expect("kept after the block");
    assert_eq!((read.status, read.answered_at), (RequestStatus::Cancelled, Some(blocked)), "a block cancels it");
    assert_eq!(store.friend_request(FriendRequestId(new_id())).await.unwrap(), None);
}
