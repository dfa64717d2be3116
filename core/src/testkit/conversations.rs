//! The conversation part of the store contract: one direct conversation per pair, read
//! marks, group membership and its size limit, who shares a conversation with whom, each
//! user's counters for `sync`, the private state of one member (mute and pins), and the
//! badge's unread total.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;

use crate::domain::conversation::{ConversationKind, Member, Mute, Role};
use crate::domain::ids::{ConversationId, UserId};
use crate::domain::message::{Message, MessageKind, NewMessage};
use crate::domain::{Duration, Timestamp};
use crate::ports::{
    ConversationCursor, DirectOutcome, ListQuery, MembershipChange, MembershipOutcome, MessageUpdate, PinOutcome,
};

use super::contract::{Store, conversation, direct, group, new_id, now, text, user};

/// A change to group `id` that adds and removes these users, announced by `actor`.
fn change(id: ConversationId, add: &[UserId], remove: &[UserId], max_members: usize) -> MembershipChange {
    MembershipChange {
        conversation_id: id,
        add: add.iter().map(|u| Member::new(id, *u, Role::Member, now())).collect(),
        remove: remove.to_vec(),
        new_owner: None,
        title: None,
        avatar_media_id: None,
        max_members,
    }
}

/// The SYSTEM message announcing a change to `id`.
fn announcement(id: ConversationId, actor: UserId) -> NewMessage {
    NewMessage { kind: MessageKind::System, body: None, ..text(id, actor, None) }
}

/// The conversations of `user` in one part of the list (pinned or not).
async fn listed(store: &dyn Store, user: UserId, pinned: bool) -> HashSet<ConversationId> {
    let rows = store.list_conversations(user, ListQuery { pinned, before: None, limit: 50 }).await.unwrap();
    rows.into_iter().map(|row| row.conversation.id).collect()
}

/// `count` text messages from `sender` into `id`, as stored.
async fn send(store: &dyn Store, id: ConversationId, sender: UserId, count: usize) -> Vec<Message> {
    let mut sent = Vec::with_capacity(count);
    for _ in 0..count {
        sent.push(store.insert_message(text(id, sender, None)).await.unwrap().into_message());
    }
    sent
}

/// The conversation list's unread counts of `user`, pinned and not, summed over the
/// conversations not muted at `now`: what the badge total must equal below any cap.
async fn listed_unread_of_unmuted(store: &dyn Store, user: UserId, now: Timestamp) -> u64 {
    let mut total = 0;
    for pinned in [false, true] {
        let rows = store.list_conversations(user, ListQuery { pinned, before: None, limit: 50 }).await.unwrap();
        total += rows
            .iter()
            .filter(|row| !row.membership.mute.is_some_and(|mute| mute.is_active(now)))
            .map(|row| row.unread_count)
            .sum::<u64>();
    }
    total
}

/// Two users asking for their direct conversation at once get the same one, created once.
pub async fn one_direct_conversation_per_pair_even_under_races(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let now = now();
    let attempt = |first: UserId, second: UserId| {
        let candidate = conversation(ConversationKind::Direct, first, now);
        let members =
            [Member::new(candidate.id, first, Role::Member, now), Member::new(candidate.id, second, Role::Member, now)];
        store.find_or_create_direct(candidate, members)
    };
    let outcomes = join_all([attempt(a, b), attempt(b, a), attempt(a, b)]).await;
    let mut created = 0;
    let mut ids = HashSet::new();
    for outcome in outcomes {
        match outcome.unwrap() {
            DirectOutcome::Created(c) => {
                created += 1;
                ids.insert(c.id);
            }
            DirectOutcome::Existing(c) => {
                ids.insert(c.id);
            }
        }
    }
    assert_eq!((created, ids.len()), (1, 1));
    let id = *ids.iter().next().unwrap();
    let mut members = store.member_ids(id).await.unwrap();
    members.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(members, expected);
}

/// Read marks stop at the last message and never go back; the unread count follows them.
pub async fn read_marks_clamp_never_go_back_and_drive_unread(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    for _ in 0..3 {
        store.insert_message(text(id, a, None)).await.unwrap();
    }
    store.insert_message(text(id, b, None)).await.unwrap();
    // b sent seq 5, which moved b's own read mark there: nothing unread for b.
    let unread = |user| async move {
        let rows = store.list_conversations(user, ListQuery { pinned: false, before: None, limit: 10 }).await.unwrap();
        rows.into_iter().find(|s| s.conversation.id == id).map(|s| s.unread_count)
    };
    assert_eq!(unread(b).await, Some(0));
    assert_eq!(unread(a).await, Some(1), "a's own messages never count as unread");
    assert_eq!(store.mark_read(id, a, 99).await.unwrap(), Some(5), "marks stop at the last message");
    assert_eq!(store.mark_read(id, a, 2).await.unwrap(), None, "marks never go back");
    assert_eq!(unread(a).await, Some(0));
    // a's own sends moved a's delivered mark to 4; the receipt of b's message moves it on.
    assert_eq!(store.mark_delivered(id, a, 5).await.unwrap(), Some(5));
}

/// A change that would make a group too big is refused and writes nothing; a missing group
/// is `NotFound`.
pub async fn membership_changes_respect_the_size_limit(store: &dyn Store) {
    let owner = user(store, "o").await;
    let id = group(store, &[owner]).await;
    let now = now();
    let (x, y) = (user(store, "x").await, user(store, "y").await);
    let change = |add: Vec<UserId>, max_members| MembershipChange {
        conversation_id: id,
        add: add.into_iter().map(|u| Member::new(id, u, Role::Member, now)).collect(),
        remove: Vec::new(),
        new_owner: None,
        title: None,
        avatar_media_id: None,
        max_members,
    };
    let announce = || NewMessage { kind: MessageKind::System, body: None, ..text(id, owner, None) };
    assert_eq!(
        store.change_membership(change(vec![x, y], 2), announce()).await.unwrap(),
        MembershipOutcome::TooManyMembers
    );
    assert_eq!(store.member_ids(id).await.unwrap(), vec![owner], "a refused change writes nothing");
    match store.change_membership(change(vec![x], 2), announce()).await.unwrap() {
        MembershipOutcome::Applied { conversation, announcement } => {
            assert_eq!((conversation.member_count, announcement.seq), (2, 2));
        }
        other => panic!("expected the change to apply, got {other:?}"),
    }
    let missing = MembershipChange { conversation_id: ConversationId(new_id()), ..change(vec![y], 10) };
    assert_eq!(store.change_membership(missing, announce()).await.unwrap(), MembershipOutcome::NotFound);
}

/// Contacts are everyone one shares a conversation with, once each; `other_members` lists
/// them per conversation.
pub async fn contacts_are_the_people_one_shares_a_conversation_with(store: &dyn Store) {
    let (a, b, c, stranger) =
        (user(store, "a").await, user(store, "b").await, user(store, "c").await, user(store, "s").await);
    group(store, &[a, b]).await;
    group(store, &[a, b, c]).await;
    let mut contacts = store.contacts(a).await.unwrap();
    contacts.sort();
    let mut expected = vec![b, c];
    expected.sort();
    assert_eq!(contacts, expected, "each contact once, never oneself");
    assert!(store.share_conversation(c, a).await.unwrap());
    assert!(!store.share_conversation(a, stranger).await.unwrap());
    assert!(store.contacts(stranger).await.unwrap().is_empty());
    let (ab, abc) = (group(store, &[a, b]).await, group(store, &[a, b, c]).await);
    let mut others = store.other_members(a, &[ab, abc]).await.unwrap();
    others.sort();
    let mut expected = vec![(ab, b), (abc, b), (abc, c)];
    expected.sort();
    assert_eq!(others, expected, "every member but the asker, per conversation");
}

/// `members` lists every member of a conversation with their role, the owner first, each as
/// `member` reads it; a removed member is gone, and a missing conversation has none.
pub async fn members_are_listed_with_their_roles_owner_first(store: &dyn Store) {
    let (owner, a, b) = (user(store, "o").await, user(store, "a").await, user(store, "b").await);
    let id = group(store, &[owner, a, b]).await;
    let members = store.members(id).await.unwrap();
    assert_eq!(members.first().map(|m| (m.user_id, m.role)), Some((owner, Role::Owner)), "{members:?}");
    let mut roles: Vec<(UserId, Role)> = members.iter().map(|m| (m.user_id, m.role)).collect();
    roles.sort();
    let mut expected = vec![(owner, Role::Owner), (a, Role::Member), (b, Role::Member)];
    expected.sort();
    assert_eq!(roles, expected);
    for member in &members {
        assert_eq!(member.conversation_id, id);
        assert_eq!(
            store.member(id, member.user_id).await.unwrap().as_ref(),
            Some(member),
            "`members` and `member` agree"
        );
    }

    store.change_membership(change(id, &[], &[a], 10), announcement(id, owner)).await.unwrap();
    let left: HashSet<UserId> = store.members(id).await.unwrap().into_iter().map(|m| m.user_id).collect();
    assert_eq!(left, HashSet::from([owner, b]), "a removed member is no longer listed");
    assert_eq!(store.member(id, a).await.unwrap(), None);

    let pair = direct(store, a, b).await;
    let roles: Vec<Role> = store.members(pair).await.unwrap().into_iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![Role::Member, Role::Member], "a direct conversation has two plain members");
    assert!(store.members(ConversationId(new_id())).await.unwrap().is_empty());
}

/// `conversation_seqs` gives every conversation the user is in, and no other, with its
/// newest seq and change number; one the user left drops out.
pub async fn conversation_seqs_list_each_conversation_of_the_user_with_its_counters(store: &dyn Store) {
    let (a, b, c) = (user(store, "a").await, user(store, "b").await, user(store, "c").await);
    let (ab, ac, bc) = (group(store, &[a, b]).await, group(store, &[a, c]).await, group(store, &[b, c]).await);
    let pair = direct(store, a, b).await;
    store.insert_message(text(ab, a, None)).await.unwrap();
    let second = store.insert_message(text(ab, b, None)).await.unwrap().into_message();
    store.update_message(second.id, MessageUpdate::Edit { body: "sửa".into(), at: now() }).await.unwrap().unwrap();
    let cursors = |user| async move {
        let mut cursors = store.conversation_seqs(user).await.unwrap();
        cursors.sort_by_key(|c| c.conversation_id);
        cursors
    };
    let cursor =
        |conversation_id, last_seq, last_change_seq| ConversationCursor { conversation_id, last_seq, last_change_seq };
    // Seq 1 of a group is its announcement; a new direct conversation has no message.
    let mut expected = vec![cursor(ab, 3, 1), cursor(ac, 1, 0), cursor(pair, 0, 0)];
    expected.sort_by_key(|c| c.conversation_id);
    assert_eq!(cursors(a).await, expected);
    assert!(!cursors(a).await.iter().any(|c| c.conversation_id == bc), "not a conversation of theirs");

    store.change_membership(change(ac, &[], &[a], 10), announcement(ac, c)).await.unwrap();
    let mut expected = vec![cursor(ab, 3, 1), cursor(pair, 0, 0)];
    expected.sort_by_key(|c| c.conversation_id);
    assert_eq!(cursors(a).await, expected, "a conversation left is no longer synced");
    assert!(store.conversation_seqs(UserId(new_id())).await.unwrap().is_empty());
}

/// A mute (until a time, or for good) is one member's own: the others are not muted; it can
/// be lifted; and muting where one is no member changes nothing and is no error.
pub async fn a_mute_belongs_to_one_member(store: &dyn Store) {
    let (a, b, stranger) = (user(store, "a").await, user(store, "b").await, user(store, "s").await);
    let id = group(store, &[a, b]).await;
    let mute_of = |user| async move { store.member(id, user).await.unwrap().expect("a member").mute };
    let until = Mute::Until(now() + Duration::hours(8));
    store.set_mute(id, a, Some(until)).await.unwrap();
    assert_eq!((mute_of(a).await, mute_of(b).await), (Some(until), None));
    let rows = store.list_conversations(a, ListQuery { pinned: false, before: None, limit: 10 }).await.unwrap();
    let row = rows.iter().find(|row| row.conversation.id == id).expect("listed");
    assert_eq!(row.membership.mute, Some(until), "the conversation list shows the mute");
    store.set_mute(id, a, Some(Mute::Forever)).await.unwrap();
    assert_eq!(mute_of(a).await, Some(Mute::Forever));
    store.set_mute(id, a, None).await.unwrap();
    assert_eq!(mute_of(a).await, None, "lifted");

    store.set_mute(id, stranger, Some(Mute::Forever)).await.unwrap();
    assert_eq!(store.member(id, stranger).await.unwrap(), None, "muting makes nobody a member");
    store.set_mute(ConversationId(new_id()), a, Some(Mute::Forever)).await.unwrap();
}

/// Pins are one member's own, refused past the limit (counting the member's other pinned
/// conversations), kept at their first time when pinned again, and split the conversation
/// list into its pinned and other parts.
pub async fn pins_belong_to_one_member_and_stop_at_the_limit(store: &dyn Store) {
    let (a, b, stranger) = (user(store, "a").await, user(store, "b").await, user(store, "s").await);
    let (first, second, third) =
        (group(store, &[a, b]).await, group(store, &[a, b]).await, group(store, &[a, b]).await);
    let pinned_at = |id, user| async move { store.member(id, user).await.unwrap().expect("a member").pinned_at };
    let t0 = now();
    let at = |minutes| Some(t0 + Duration::minutes(minutes));
    assert_eq!(store.set_pinned(first, a, at(1), 2).await.unwrap(), PinOutcome::Done);
    assert_eq!(store.set_pinned(second, a, at(2), 2).await.unwrap(), PinOutcome::Done);
    assert_eq!((pinned_at(first, a).await, pinned_at(first, b).await), (at(1), None), "a pin is the member's own");
    assert_eq!(store.set_pinned(third, a, at(3), 2).await.unwrap(), PinOutcome::TooManyPinned);
    assert_eq!(pinned_at(third, a).await, None, "a refused pin writes nothing");
    assert_eq!(store.set_pinned(first, a, at(4), 2).await.unwrap(), PinOutcome::Done, "pinning again at the limit");
    assert_eq!(pinned_at(first, a).await, at(1), "pinning again keeps the first time");
    assert_eq!(listed(store, a, true).await, HashSet::from([first, second]));
    let others = listed(store, a, false).await;
    assert!(others.contains(&third) && !others.contains(&first) && !others.contains(&second), "{others:?}");
    assert_eq!(store.set_pinned(third, b, at(5), 1).await.unwrap(), PinOutcome::Done, "b's limit counts b's pins");

    assert_eq!(store.set_pinned(first, a, None, 2).await.unwrap(), PinOutcome::Done);
    assert_eq!(pinned_at(first, a).await, None, "unpinned");
    assert_eq!(store.set_pinned(third, a, at(6), 2).await.unwrap(), PinOutcome::Done, "room again");
    assert_eq!(listed(store, a, true).await, HashSet::from([second, third]));

    store.set_pinned(first, stranger, at(7), 5).await.unwrap();
    assert_eq!(store.member(first, stranger).await.unwrap(), None, "pinning makes nobody a member");
}

/// `unread_totals` for `users`, as a map; fails on a user answered twice or a user not asked.
async fn unread_totals(store: &dyn Store, users: &[UserId], now: Timestamp, cap: u64) -> HashMap<UserId, u64> {
    let answered = store.unread_totals(users, now, cap).await.unwrap();
    let totals: HashMap<UserId, u64> = answered.iter().copied().collect();
    assert_eq!(totals.len(), answered.len(), "one entry per user: {answered:?}");
    assert!(totals.keys().all(|user| users.contains(user)), "only users asked: {answered:?}");
    totals
}

/// The badge totals sum each user's unread counts, as the conversation list shows them, over
/// the conversations not muted at `now` (a mute for good or until later leaves one out, an
/// expired one does not; another member's mute is theirs); own messages, announcements,
/// conversations of others and ones left never count; read marks lower it; it stops at the cap.
/// One call answers for several users, each with their own total and cap, once per distinct
/// user, with 0 for a user with nothing unread or unknown.
pub async fn unread_totals_sum_each_users_unmuted_conversations_up_to_a_cap(store: &dyn Store) {
    let (a, b, c) = (user(store, "a").await, user(store, "b").await, user(store, "c").await);
    let now = now();
    let total = |cap| async move {
        let totals = unread_totals(store, &[a], now, cap).await;
        assert_eq!(totals.len(), 1, "{totals:?}");
        totals[&a]
    };
    let pair = direct(store, a, b).await;
    let (plain, forever, later, expired) = (
        group(store, &[a, b]).await,
        group(store, &[b, a]).await,
        group(store, &[b, a]).await,
        group(store, &[b, a]).await,
    );
    let elsewhere = group(store, &[b, c]).await;
    assert_eq!(total(100).await, 0, "group announcements are not unread");

    send(store, pair, a, 2).await;
    let from_b = send(store, pair, b, 3).await;
    send(store, plain, b, 4).await;
    send(store, forever, b, 5).await;
    send(store, later, b, 6).await;
    send(store, expired, b, 2).await;
    send(store, elsewhere, b, 7).await;
    store.set_mute(forever, a, Some(Mute::Forever)).await.unwrap();
    store.set_mute(later, a, Some(Mute::Until(now + Duration::hours(1)))).await.unwrap();
    store.set_mute(expired, a, Some(Mute::Until(now - Duration::minutes(1)))).await.unwrap();
    store.set_mute(plain, b, Some(Mute::Forever)).await.unwrap();
    assert_eq!(total(100).await, 3 + 4 + 2, "b's messages in the direct, plain and expired-mute conversations");
    assert_eq!(total(100).await, listed_unread_of_unmuted(store, a, now).await, "the badge sums the list");

    // Several users in one call: b has sent everything (own messages never count), c has b's
    // messages to c (they count for c, not for a), and nobody knows `stranger`.
    let stranger = UserId(new_id());
    let everyone = [a, b, c, stranger];
    let expect = |a_total, c_total| HashMap::from([(a, a_total), (b, 0), (c, c_total), (stranger, 0)]);
    assert_eq!(unread_totals(store, &everyone, now, 100).await, expect(9, 7), "each their own total");
    assert_eq!(unread_totals(store, &everyone, now, 8).await, expect(8, 7), "each capped alone");
    assert_eq!(unread_totals(store, &everyone, now, 5).await, expect(5, 5), "each capped alone");
    assert_eq!(unread_totals(store, &[c, a, c, stranger, a, c], now, 100).await.len(), 3, "duplicates answered once");
    assert_eq!(store.unread_totals(&[], now, 100).await.unwrap(), Vec::new(), "no one asked, no one answered");
    // More users than a store may put in one statement, a asked twice far apart.
    let mut many: Vec<UserId> = (0..2_500).map(|_| UserId(new_id())).collect();
    many.splice(1_200..1_200, [a, c]);
    many.push(a);
    let totals = unread_totals(store, &many, now, 100).await;
    assert_eq!((totals.len(), totals[&a], totals[&c]), (2_502, 9, 7), "every user of a long list answered once");

    assert_eq!((total(5).await, total(9).await, total(0).await), (5, 9, 0), "the cap caps");
    // plain holds the announcement (seq 1) and b's messages at seqs 2..=5.
    store.mark_read(plain, a, 3).await.unwrap();
    assert_eq!(total(100).await, 3 + 2 + 2, "read marks lower it");
    store.set_mute(forever, a, None).await.unwrap();
    assert_eq!(total(100).await, 3 + 2 + 2 + 5, "an unmuted conversation counts again");
    store.change_membership(change(expired, &[], &[a], 10), announcement(expired, b)).await.unwrap();
    assert_eq!(total(100).await, 3 + 2 + 5, "a conversation left no longer counts");

    // Deleted for oneself or recalled: the badge counts such a message as the list does.
    store.hide_message(from_b[0].id, a).await.unwrap();
    store.update_message(from_b[1].id, MessageUpdate::Recall { at: now }).await.unwrap().unwrap();
    let listed = listed_unread_of_unmuted(store, a, now).await;
    assert_eq!(total(100).await, listed, "the badge and the list agree on hidden and recalled messages");
    assert_eq!(total(listed - 1).await, listed - 1);
}
