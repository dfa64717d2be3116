use std::collections::HashSet;

use chat_core::domain::{DateTime, Utc};

use super::*;

fn shape() -> Shape {
    Shape {
        users: 600,
        senders: 12,
        senders_in_bench_groups: false,
        conversations: 300,
        group_share: 0.3,
        bench_conversations: 40,
        messages: 20_000,
        bench_share: 0.1,
        months: 12,
    }
}

fn end() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

#[test]
fn a_seed_gives_the_same_world() {
    let (a, b) = (World::plan(shape(), 9, end()).unwrap(), World::plan(shape(), 9, end()).unwrap());
    for (x, y) in a.conversations.iter().zip(&b.conversations) {
        assert_eq!((x.id, &x.members, x.messages, x.created_at), (y.id, &y.members, y.messages, y.created_at));
    }
    assert_eq!(a.messages(&a.conversations[3]), b.messages(&b.conversations[3]));
    assert_eq!(a.users.iter().map(|u| u.id).collect::<Vec<_>>(), b.users.iter().map(|u| u.id).collect::<Vec<_>>());
    assert_eq!(a.sample_bodies(20), b.sample_bodies(20));
    let other = World::plan(shape(), 10, end()).unwrap();
    assert_ne!(a.conversations[0].id, other.conversations[0].id);
}

#[test]
fn another_moment_moves_the_times_only() {
    let a = World::plan(shape(), 9, end()).unwrap();
    let b = World::plan(shape(), 9, end() + chat_core::domain::Duration::hours(7)).unwrap();
    let conversation = |w: &World| w.conversations.iter().find(|c| c.messages > 50).unwrap().clone();
    let (x, y) = (a.messages(&conversation(&a)).0, b.messages(&conversation(&b)).0);
    let text = |m: &[PlannedMessage]| m.iter().map(|m| (m.sender, m.body.clone())).collect::<Vec<_>>();
    assert_eq!(text(&x), text(&y), "the same senders and text");
    assert_ne!(x.iter().map(|m| m.created_at).collect::<Vec<_>>(), y.iter().map(|m| m.created_at).collect::<Vec<_>>());
}

#[test]
fn the_benchmark_user_holds_its_share_in_its_conversations() {
    let world = World::plan(shape(), 1, end()).unwrap();
    let total: usize = world.conversations.iter().map(|c| c.messages).sum();
    assert_eq!(total, 20_000);
    let bench: Vec<_> = world.conversations.iter().filter(|c| c.members.contains(&BENCH_USER)).collect();
    assert_eq!(bench.len(), 40, "in exactly its conversations");
    assert!(bench.iter().all(|c| c.bench));
    assert_eq!(bench.iter().map(|c| c.messages).sum::<usize>(), 2_000);
    assert_eq!(bench.iter().filter(|c| c.kind == Kind::Group).count(), 12);
    let busiest = world.conversations.iter().map(|c| c.messages).max().unwrap();
    let quietest = world.conversations.iter().map(|c| c.messages).min().unwrap();
    assert!(busiest > 20 * quietest.max(1), "busy and quiet conversations: {busiest} / {quietest}");
}

#[test]
fn every_sender_is_in_a_group_of_its_own_beside_the_benchmark_user() {
    let world = World::plan(shape(), 2, end()).unwrap();
    let mut groups = HashSet::new();
    for sender in 1..=12 {
        let theirs: Vec<_> = world.conversations.iter().filter(|c| c.members.contains(&sender)).collect();
        assert_eq!(theirs.len(), 1, "sender {sender}");
        assert!(!theirs[0].bench && theirs[0].kind == Kind::Group);
        assert!(groups.insert(theirs[0].id), "one sender a group while there are enough");
    }
    let inside = World::plan(Shape { senders_in_bench_groups: true, ..shape() }, 2, end()).unwrap();
    for sender in 1..=12 {
        let theirs: Vec<_> = inside.conversations.iter().filter(|c| c.members.contains(&sender)).collect();
        assert_eq!(theirs.len(), 1, "sender {sender}");
        assert!(theirs[0].bench && theirs[0].kind == Kind::Group, "in the benchmark user's groups when asked");
    }
}

#[test]
fn conversations_have_distinct_members_and_pairs() {
    let world = World::plan(shape(), 3, end()).unwrap();
    let mut pairs = HashSet::new();
    for conversation in &world.conversations {
        let distinct: HashSet<_> = conversation.members.iter().collect();
        assert_eq!(distinct.len(), conversation.members.len(), "{conversation:?}");
        match conversation.kind {
            Kind::Direct => {
                assert_eq!(conversation.members.len(), 2);
                let (a, b) = (conversation.members[0], conversation.members[1]);
                assert!(pairs.insert((a.min(b), a.max(b))), "one direct conversation per pair");
            }
            Kind::Group => assert!(conversation.members.len() >= 3 && conversation.title.is_some()),
        }
    }
    let ids: HashSet<_> = world.conversations.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), world.conversations.len());
}

#[test]
fn messages_follow_each_other_in_seq_and_time() {
    let world = World::plan(shape(), 4, end()).unwrap();
    let mut recalled = 0;
    let mut images = 0;
    for conversation in world.conversations.iter().filter(|c| c.messages > 0) {
        let (messages, last_change) = world.messages(conversation);
        assert_eq!(messages.len(), conversation.messages);
        let mut changes = 0;
        for (offset, message) in messages.iter().enumerate() {
            assert_eq!(message.seq, conversation.first_seq() + offset as u64);
            assert!(message.created_at > conversation.created_at && message.created_at < world.end);
            assert!(conversation.members.contains(&message.sender));
            if message.recalled_at.is_some() {
                changes += 1;
                assert_eq!((message.body.as_deref(), message.change_seq), (None, changes));
            } else {
                assert_eq!(message.change_seq, 0);
                assert!(message.body.is_some() || message.image.is_some(), "only images go without text");
            }
            images += usize::from(message.image.is_some());
        }
        assert_eq!(last_change, changes);
        recalled += changes;
        assert!(messages.windows(2).all(|w| w[0].created_at <= w[1].created_at && w[0].id != w[1].id));
    }
    assert!((20..150).contains(&recalled), "about 0.3% recalled: {recalled}");
    assert!((400..800).contains(&images), "about 3% images: {images}");
}

#[test]
fn ids_carry_their_moment() {
    let world = World::plan(shape(), 5, end()).unwrap();
    let conversation = world.conversations.iter().find(|c| c.messages > 0).unwrap();
    let (messages, _) = world.messages(conversation);
    let (seconds, _) = messages[0].id.get_timestamp().unwrap().to_unix();
    assert_eq!(seconds as i64, messages[0].created_at.timestamp());
    assert_eq!(messages[0].id.get_version_num(), 7);
}

#[test]
fn impossible_shapes_are_refused() {
    assert!(World::plan(Shape { bench_conversations: 301, ..shape() }, 1, end()).is_err());
    assert!(World::plan(Shape { users: 100, ..shape() }, 1, end()).is_err());
    assert!(World::plan(Shape { group_share: 0.0, ..shape() }, 1, end()).is_err(), "senders need a group");
    let no_bench_groups = Shape { bench_conversations: 1, senders_in_bench_groups: true, ..shape() };
    assert!(World::plan(no_bench_groups, 1, end()).is_err(), "0.3 of one conversation rounds to no group");
}
