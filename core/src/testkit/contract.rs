//! The store contract: behaviour the use cases rely on, written once and run against every
//! store adapter (memory and Postgres), one test per check (`store_contract_tests!`). Each
//! check panics with a message when the adapter breaks the contract. This file holds the
//! fixtures every suite shares and the checks of message storage; sessions, conversations
//! and users have their own files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use futures_util::future::join_all;

use crate::domain::account::{DisplayName, PasswordHash, Settings, User, Username};
use crate::domain::conversation::{Conversation, ConversationKind, Member, Role};
use crate::domain::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use crate::domain::message::{MessageKind, NewMessage};
use crate::domain::{Timestamp, Utc};

use crate::ports::{
    ConversationRepo, DirectOutcome, HistoryPage, InsertOutcome, MembershipChange, MembershipOutcome, MessageRepo,
    SessionRepo, UserRepo,
};

/// Everything a store adapter implements.
pub trait Store: UserRepo + SessionRepo + ConversationRepo + MessageRepo {}
impl<T: UserRepo + SessionRepo + ConversationRepo + MessageRepo> Store for T {}

/// Now, at the microsecond precision every store keeps.
pub fn now() -> Timestamp {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(6)
}

/// A fresh id (UUID v7), for anything a check creates.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// A new user with this display name, a unique username, no phone and the password hash
/// `"hash"`.
pub async fn user(users: &dyn UserRepo, name: &str) -> UserId {
    let now = now();
    let id = UserId(new_id());
    let username = format!("u{}", &id.to_string()[24..]);
    let user = User {
        id,
        username: Username::parse(&username).unwrap(),
        display_name: DisplayName::parse(name).unwrap(),
        phone: None,
        avatar_media_id: None,
        bio: String::new(),
        settings: Settings::default(),
        created_at: now,
        updated_at: now,
    };
    users.insert_user(user, PasswordHash::new("hash")).await.unwrap().unwrap();
    id
}

/// A group of the given users (the first is the owner), with no messages.
pub async fn group(store: &dyn Store, members: &[UserId]) -> ConversationId {
    let now = now();
    let creator = members[0];
    let conversation = conversation(ConversationKind::Group, creator, now);
    let id = conversation.id;
    let members: Vec<Member> = members
        .iter()
        .enumerate()
        .map(|(i, user)| Member::new(id, *user, if i == 0 { Role::Owner } else { Role::Member }, now))
        .collect();
    let event = crate::domain::message::SystemEvent::GroupCreated { actor: creator, title: "Nhóm".into() };
    let announcement = NewMessage::system(MessageId(new_id()), id, creator, event, now);
    store.create_group(conversation, members, announcement).await.unwrap();
    id
}

/// The direct conversation of two users.
pub async fn direct(store: &dyn Store, a: UserId, b: UserId) -> ConversationId {
    let now = now();
    let conversation = conversation(ConversationKind::Direct, a, now);
    let id = conversation.id;
    let members = [Member::new(id, a, Role::Member, now), Member::new(id, b, Role::Member, now)];
    match store.find_or_create_direct(conversation, members).await.unwrap() {
        DirectOutcome::Created(c) | DirectOutcome::Existing(c) => c.id,
    }
}

/// A conversation record of this kind, as a use case would build it.
pub(crate) fn conversation(kind: ConversationKind, creator: UserId, now: Timestamp) -> Conversation {
    Conversation {
        id: ConversationId(new_id()),
        kind,
        title: (kind == ConversationKind::Group).then(|| "Nhóm".to_owned()),
        avatar_media_id: None,
        created_by: creator,
        created_at: now,
        last_seq: 0,
        last_activity_at: now,
        member_count: 0,
        last_change_seq: 0,
    }
}

/// A text message from `sender`, with the given `client_msg_id` if any.
pub fn text(conversation: ConversationId, sender: UserId, client_msg_id: Option<uuid::Uuid>) -> NewMessage {
    NewMessage {
        id: MessageId(new_id()),
        conversation_id: conversation,
        sender_id: sender,
        kind: MessageKind::Text,
        body: Some("xin chào".into()),
        reply_to: None,
        client_msg_id: client_msg_id.map(ClientMsgId),
        system: None,
        media_ids: Vec::new(),
        created_at: now(),
    }
}

/// Fifty sends at once into one conversation take seqs 2..=51 (1 is the announcement).
pub async fn concurrent_sends_get_gap_free_seqs(store: &dyn Store) {
    let sends = 50;
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let outcomes =
        join_all((0..sends).map(|i| store.insert_message(text(id, if i % 2 == 0 { a } else { b }, Some(new_id())))))
            .await;
    let mut seqs: Vec<u64> = outcomes
        .into_iter()
        .map(|outcome| match outcome.unwrap() {
            InsertOutcome::Inserted { message, .. } => message.seq,
            InsertOutcome::Existing(_) => panic!("distinct client ids must not collide"),
        })
        .collect();
    seqs.sort_unstable();
    // Seq 1 is the group's announcement.
    let expected: Vec<u64> = (2..=sends as u64 + 1).collect();
    assert_eq!(seqs, expected, "seqs must have no gaps and no duplicates");
    let conversation = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(conversation.last_seq, sends as u64 + 1);
}

/// The same `client_msg_id` sent twice at once stores one message, and a later retry gets it
/// back without taking a seq; another sender's same key is another message.
pub async fn a_client_msg_id_sent_twice_at_once_stores_one_message(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let key = new_id();
    let outcomes =
        join_all([store.insert_message(text(id, a, Some(key))), store.insert_message(text(id, a, Some(key)))]).await;
    let ids: HashSet<MessageId> = outcomes.into_iter().map(|o| o.unwrap().message().id).collect();
    assert_eq!(ids.len(), 1, "both callers get the same message");
    // A later retry is answered with the original and takes no seq.
    let last_seq = store.conversation(id).await.unwrap().unwrap().last_seq;
    match store.insert_message(text(id, a, Some(key))).await.unwrap() {
        InsertOutcome::Existing(original) => assert!(ids.contains(&original.id)),
        other => panic!("a retry must find its original, got {other:?}"),
    }
    assert_eq!(store.conversation(id).await.unwrap().unwrap().last_seq, last_seq, "no seq taken by a retry");
    let history = store.history(id, a, HistoryPage::Latest { limit: 10 }).await.unwrap();
    assert_eq!(history.iter().filter(|m| m.kind == MessageKind::Text).count(), 1);
    // The same key from another sender is a different message.
    assert!(matches!(store.insert_message(text(id, b, Some(key))).await.unwrap(), InsertOutcome::Inserted { .. }));
}

/// Many sends at once, as a store that batches them would take them together: several
/// conversations, and the same client_msg_id twice among them. Each conversation numbers its
/// own messages without gaps, a repeated key stores one message, and each sender's read
/// mark ends at their newest message.
pub async fn concurrent_sends_with_repeated_keys_and_many_conversations(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let mut conversations = Vec::new();
    for _ in 0..8 {
        conversations.push(group(store, &[a, b]).await);
    }
    let repeated = new_id();
    let mut sends: Vec<NewMessage> = Vec::new();
    for round in 0..5 {
        for (i, id) in conversations.iter().enumerate() {
            sends.push(text(*id, if (round + i) % 2 == 0 { a } else { b }, Some(new_id())));
        }
        sends.push(text(conversations[0], a, Some(repeated)));
    }
    let outcomes = join_all(sends.into_iter().map(|m| store.insert_message(m))).await;
    let mut repeated_ids = HashSet::new();
    for outcome in outcomes {
        match outcome.unwrap() {
            InsertOutcome::Inserted { message: m, .. } | InsertOutcome::Existing(m)
                if m.client_msg_id == Some(ClientMsgId(repeated)) =>
            {
                repeated_ids.insert(m.id);
            }
            InsertOutcome::Inserted { .. } => {}
            InsertOutcome::Existing(m) => panic!("distinct client ids must not collide: {m:?}"),
        }
    }
    assert_eq!(repeated_ids.len(), 1, "every caller of the repeated key gets the same message");
    for (i, id) in conversations.iter().enumerate() {
        let history = store.history(*id, a, HistoryPage::Latest { limit: 20 }).await.unwrap();
        let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
        // Seq 1 is the group's announcement; the first conversation also has the repeated key.
        let last = if i == 0 { 7 } else { 6 };
        assert_eq!(seqs, (1..=last).collect::<Vec<u64>>(), "conversation {i}: no gaps, no duplicates");
        assert_eq!(store.conversation(*id).await.unwrap().unwrap().last_seq, last);
        for sender in [a, b] {
            let newest = history.iter().filter(|m| m.sender_id == sender).map(|m| m.seq).max().unwrap();
            let member = store.member(*id, sender).await.unwrap().unwrap();
            assert_eq!(member.read_seq, newest, "a sender has read their own newest message");
        }
    }
}

/// A message that cannot be stored fails on its own; the sends around it are stored.
pub async fn a_message_to_a_missing_conversation_fails_alone(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let missing = ConversationId(new_id());
    let mut sends: Vec<NewMessage> = (0..10).map(|_| text(id, a, Some(new_id()))).collect();
    sends.insert(5, text(missing, a, Some(new_id())));
    let outcomes = join_all(sends.into_iter().map(|m| store.insert_message(m))).await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match (i, outcome) {
            (5, Err(_)) => {}
            (5, Ok(outcome)) => panic!("a message to a missing conversation was stored: {outcome:?}"),
            (_, Ok(InsertOutcome::Inserted { .. })) => {}
            (_, other) => panic!("a good message next to a bad one must be stored, got {other:?}"),
        }
    }
    assert_eq!(store.conversation(id).await.unwrap().unwrap().last_seq, 11);
}

/// History pages backwards and forwards by seq, and a message hidden by one viewer is gone
/// for them only.
pub async fn history_pages_both_ways_and_hides_per_viewer(store: &dyn Store) {
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let mut sent = Vec::new();
    for _ in 0..9 {
        if let InsertOutcome::Inserted { message: m, .. } = store.insert_message(text(id, a, None)).await.unwrap() {
            sent.push(m);
        }
    }
    let seqs = |page: Vec<crate::domain::message::Message>| page.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.history(id, a, HistoryPage::Latest { limit: 3 }).await.unwrap()), [8, 9, 10]);
    assert_eq!(seqs(store.history(id, a, HistoryPage::Before { seq: 8, limit: 3 }).await.unwrap()), [5, 6, 7]);
    assert_eq!(seqs(store.history(id, a, HistoryPage::After { seq: 7, limit: 10 }).await.unwrap()), [8, 9, 10]);
    assert_eq!(seqs(store.history(id, a, HistoryPage::After { seq: 10, limit: 10 }).await.unwrap()), Vec::<u64>::new());
    store.hide_message(sent[8].id, a).await.unwrap();
    assert_eq!(seqs(store.history(id, a, HistoryPage::Latest { limit: 2 }).await.unwrap()), [8, 9]);
    assert_eq!(seqs(store.history(id, b, HistoryPage::Latest { limit: 2 }).await.unwrap()), [9, 10]);
}

/// `Inserted` names the members a message reaches: exactly the members when its seq was
/// taken, also while a member is removed concurrently (before the removal's announcement:
/// still a member; after it: not).
pub async fn an_inserted_message_names_the_members_it_reaches(store: &dyn Store) {
    let (a, b, c) = (user(store, "a").await, user(store, "b").await, user(store, "c").await);
    let id = group(store, &[a, b]).await;
    let members_of = |outcome: InsertOutcome| match outcome {
        InsertOutcome::Inserted { message, mut members } => {
            members.sort_unstable();
            (message.seq, members)
        }
        InsertOutcome::Existing(message) => panic!("a new key was taken as a retry: {message:?}"),
    };
    let sorted = |mut users: Vec<UserId>| {
        users.sort_unstable();
        users
    };
    let (_, members) = members_of(store.insert_message(text(id, a, Some(new_id()))).await.unwrap());
    assert_eq!(members, sorted(vec![a, b]));

    let now = now();
    let change = |add: Vec<UserId>, remove: Vec<UserId>| MembershipChange {
        conversation_id: id,
        add: add.into_iter().map(|u| Member::new(id, u, Role::Member, now)).collect(),
        remove,
        new_owner: None,
        title: None,
        avatar_media_id: None,
        max_members: 10,
    };
    let announce = || NewMessage { kind: MessageKind::System, body: None, ..text(id, a, None) };
    store.change_membership(change(vec![c], Vec::new()), announce()).await.unwrap();
    let (_, members) = members_of(store.insert_message(text(id, c, Some(new_id()))).await.unwrap());
    assert_eq!(members, sorted(vec![a, b, c]), "a new member is reached at once");

    // Twenty sends race the removal of b: each names b exactly when it came before it.
    let sends = join_all((0..20).map(|_| store.insert_message(text(id, a, Some(new_id())))));
    let removal = store.change_membership(change(Vec::new(), vec![b]), announce());
    let (outcomes, removal) = futures_util::future::join(sends, removal).await;
    let removed_at = match removal.unwrap() {
        MembershipOutcome::Applied { announcement, .. } => announcement.seq,
        other => panic!("the removal must apply, got {other:?}"),
    };
    for outcome in outcomes {
        let (seq, members) = members_of(outcome.unwrap());
        let expected = if seq < removed_at { sorted(vec![a, b, c]) } else { sorted(vec![a, c]) };
        assert_eq!(members, expected, "message {seq}, removal announced at {removed_at}");
    }
}

/// Eight random digits (from a fresh UUID's random bits), for phone numbers that must not
/// collide between tests sharing a database.
pub fn random_digits() -> String {
    let digits = uuid::Uuid::now_v7().as_u128().to_string();
    digits[digits.len() - 8..].to_owned()
}

/// Edits, reactions and recalls take the conversation's next change number; `changes` lists
/// each changed message once, at its latest change, without what the viewer hid.
pub async fn changes_are_numbered_per_conversation(store: &dyn Store) {
    use crate::ports::MessageUpdate;
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let mut sent = Vec::new();
    for _ in 0..3 {
        if let InsertOutcome::Inserted { message: m, .. } = store.insert_message(text(id, a, None)).await.unwrap() {
            sent.push(m);
        }
    }
    assert!(store.changes(id, a, 0, 10).await.unwrap().is_empty(), "nothing changed yet");
    let edited =
        store.update_message(sent[0].id, MessageUpdate::Edit { body: "sửa".into(), at: now() }).await.unwrap().unwrap();
    let reacted = store
        .update_message(sent[1].id, MessageUpdate::React { user: b, emoji: Some("👍".into()), at: now() })
        .await
        .unwrap()
        .unwrap();
    let recalled = store.update_message(sent[0].id, MessageUpdate::Recall { at: now() }).await.unwrap().unwrap();
    assert_eq!((edited.change_seq, reacted.change_seq, recalled.change_seq), (1, 2, 3));
    assert_eq!(store.conversation(id).await.unwrap().unwrap().last_change_seq, 3);
    let changes: Vec<(MessageId, u64)> =
        store.changes(id, b, 0, 10).await.unwrap().iter().map(|m| (m.id, m.change_seq)).collect();
    assert_eq!(changes, vec![(sent[1].id, 2), (sent[0].id, 3)], "each message once, at its latest change");
    assert_eq!(store.changes(id, b, 2, 10).await.unwrap().len(), 1);
    store.hide_message(sent[1].id, b).await.unwrap();
    assert_eq!(store.changes(id, b, 0, 10).await.unwrap().len(), 1, "hidden messages stay hidden");
    assert!(store.update_message(MessageId(new_id()), MessageUpdate::Recall { at: now() }).await.unwrap().is_none());
}

/// `message_by_client_id` finds a message by its sender's key: not by another sender's,
/// not by a key never sent, and as it now is after a change.
pub async fn a_message_is_found_by_its_senders_client_msg_id_only(store: &dyn Store) {
    use crate::ports::MessageUpdate;
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let key = ClientMsgId(new_id());
    let sent = store.insert_message(text(id, a, Some(key.0))).await.unwrap().into_message();
    let found = store.message_by_client_id(a, key).await.unwrap();
    assert_eq!(found.as_ref(), Some(&sent), "the sender's own key finds the message as stored");
    assert_eq!(store.message_by_client_id(b, key).await.unwrap(), None, "a key belongs to its sender");
    assert_eq!(store.message_by_client_id(a, ClientMsgId(new_id())).await.unwrap(), None, "a key never sent");
    let edited =
        store.update_message(sent.id, MessageUpdate::Edit { body: "sửa".into(), at: now() }).await.unwrap().unwrap();
    assert_eq!(store.message_by_client_id(a, key).await.unwrap(), Some(edited), "as it is now");
    // A message sent without a key is found by id only.
    let keyless = store.insert_message(text(id, b, None)).await.unwrap().into_message();
    assert_eq!(store.message(keyless.id).await.unwrap().map(|m| m.client_msg_id), Some(None));
}

/// A message's `media_ids` are stored in the sender's order and read back by `message` and
/// `history`.
pub async fn media_ids_round_trip(store: &dyn Store) {
    use crate::domain::ids::MediaId;
    let (a, b) = (user(store, "a").await, user(store, "b").await);
    let id = group(store, &[a, b]).await;
    let media_ids: Vec<MediaId> = (0..3).map(|_| MediaId(new_id())).rev().collect();
    let album = NewMessage { kind: MessageKind::Image, body: None, media_ids: media_ids.clone(), ..text(id, a, None) };
    let sent = store.insert_message(album).await.unwrap().into_message();
    assert_eq!(sent.media_ids, media_ids, "as inserted");
    assert_eq!(store.message(sent.id).await.unwrap().map(|m| m.media_ids), Some(media_ids.clone()), "by id");
    let history = store.history(id, b, HistoryPage::Latest { limit: 1 }).await.unwrap();
    assert_eq!(history.into_iter().map(|m| m.media_ids).collect::<Vec<_>>(), vec![media_ids], "in history");
}
