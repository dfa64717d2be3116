//! The shape of the `seed-search` world, decided before anything is written: who exists,
//! which conversations there are and who is in them, how many messages each holds, and the
//! messages themselves (generated per conversation from its own random stream, so the same
//! seed gives the same world in any order of writing).
//!
//! Users are numbered: 0 is the benchmark user, 1..=senders the users the load generator
//! sends as, the rest everyone else. The benchmark user is in exactly
//! `bench_conversations` conversations holding `bench_share` of the messages. Each sender is
//! in one group the benchmark user is not in (different groups while there are enough), so
//! the send load lands beside the searched conversations, as other people's traffic does;
//! or, with `senders_in_bench_groups`, in one of the benchmark user's groups.

use std::collections::HashSet;

use chat_core::domain::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::text::{TextGenerator, WeightedPick};
use super::vocab;

/// The benchmark user's number.
pub const BENCH_USER: usize = 0;
/// Share of messages that carry an image (half of them with a caption).
const IMAGE_SHARE: f64 = 0.03;
/// Share of messages recalled by their sender.
const RECALLED_SHARE: f64 = 0.003;
/// Messages in one sitting of a conversation, on average.
const MESSAGES_PER_SESSION: usize = 6;
/// How long one sitting lasts at most.
const SESSION_SECS: i64 = 30 * 60;
/// Vietnam's offset from UTC, for the day and night rhythm of sending.
const VIETNAM_OFFSET_SECS: i64 = 7 * 3600;

/// How big the world is.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Users in all, the benchmark user and the senders included.
    pub users: usize,
    /// Users the load generator sends as, each in one group.
    pub senders: usize,
    /// Whether the senders' groups are the benchmark user's (else groups it is not in).
    pub senders_in_bench_groups: bool,
    pub conversations: usize,
    /// Share of conversations that are groups (the rest are direct).
    pub group_share: f64,
    /// Conversations the benchmark user is in.
    pub bench_conversations: usize,
    /// Messages in all (not counting the SYSTEM message each group starts with).
    pub messages: usize,
    /// Share of the messages in the benchmark user's conversations.
    pub bench_share: f64,
    /// The messages span this many 30-day months up to the end.
    pub months: u32,
}

impl Shape {
    /// Refuses shapes the plan cannot fill.
    pub fn check(&self) -> anyhow::Result<()> {
        let bench_groups = self.bench_groups();
        anyhow::ensure!(
            self.bench_conversations <= self.conversations,
            "the benchmark user's conversations exceed all"
        );
        anyhow::ensure!(self.users >= self.senders + 200, "at least 200 users besides the senders");
        let sender_groups = if self.senders_in_bench_groups { bench_groups } else { self.groups() - bench_groups };
        anyhow::ensure!(self.senders == 0 || sender_groups > 0, "no group for the senders to be in");
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.group_share) && (0.0..=1.0).contains(&self.bench_share),
            "shares are 0..=1"
        );
        anyhow::ensure!(self.months >= 1, "at least a month of history");
        Ok(())
    }

    /// How many of the benchmark user's conversations are groups.
    pub fn bench_groups(&self) -> usize {
        (self.bench_conversations as f64 * self.group_share).round() as usize
    }

    fn groups(&self) -> usize {
        ((self.conversations as f64 * self.group_share).round() as usize).max(self.bench_groups())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Direct,
    Group,
}

/// A conversation to create, and how many messages to write into it.
#[derive(Clone, Debug)]
pub struct PlannedConversation {
    /// Its position in the plan (also its random stream).
    pub index: usize,
    pub id: Uuid,
    /// The id of a group's SYSTEM message announcing it (unused for a direct conversation).
    pub announcement_id: Uuid,
    pub kind: Kind,
    pub title: Option<String>,
    /// User numbers; the first made it (and owns it, if a group).
    pub members: Vec<usize>,
    pub created_at: DateTime<Utc>,
    /// Messages to write, besides a group's SYSTEM message.
    pub messages: usize,
    /// Whether the benchmark user is in it.
    pub bench: bool,
}

impl PlannedConversation {
    /// The seq of the first written message: a group's 1 is its SYSTEM message.
    pub fn first_seq(&self) -> u64 {
        if self.kind == Kind::Group { 2 } else { 1 }
    }
}

/// A user to create (other than those registered through the use cases).
#[derive(Clone, Debug)]
pub struct PlannedUser {
    pub id: Uuid,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

/// One message to write.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedMessage {
    pub seq: u64,
    pub id: Uuid,
    /// User number of the sender.
    pub sender: usize,
    /// The media id of an IMAGE message (its body is the caption, if any); `None` for TEXT.
    pub image: Option<Uuid>,
    pub body: Option<String>,
    pub client_msg_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub recalled_at: Option<DateTime<Utc>>,
    /// The recall's number in the conversation's changes; 0 when never changed.
    pub change_seq: u64,
}

/// The whole plan.
pub struct World {
    pub shape: Shape,
    pub seed: u64,
    pub end: DateTime<Utc>,
    /// Users by number; the first `1 + senders` are registered, not created from here.
    pub users: Vec<PlannedUser>,
    pub conversations: Vec<PlannedConversation>,
    text: TextGenerator,
}

impl World {
    /// Lays the world out; `end` is the newest moment a message may have.
    pub fn plan(shape: Shape, seed: u64, end: DateTime<Utc>) -> anyhow::Result<World> {
        shape.check()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let text = TextGenerator::default();
        let start = end - Duration::days(30 * i64::from(shape.months));
        let users: Vec<PlannedUser> = (0..shape.users)
            .map(|_| {
                let created_at = start - Duration::seconds(rng.random_range(86_400..2 * 365 * 86_400));
                PlannedUser { id: uuid_v7(&mut rng, created_at), display_name: text.full_name(&mut rng), created_at }
            })
            .collect();
        let conversations = plan_conversations(&shape, &mut rng, start, end);
        Ok(World { shape, seed, end, users, conversations, text })
    }

    /// The messages of one conversation, in seq order, and its last change number.
    pub fn messages(&self, conversation: &PlannedConversation) -> (Vec<PlannedMessage>, u64) {
        let stream = self.seed ^ (conversation.index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rng = StdRng::seed_from_u64(stream);
        let times = sending_times(&mut rng, conversation.messages, conversation.created_at, self.end);
        let senders = WeightedPick::zipf(conversation.members.len(), 0.0, 1.0);
        let mut previous = conversation.members[0];
        let mut change_seq = 0;
        let mut messages = Vec::with_capacity(times.len());
        for (offset, created_at) in times.into_iter().enumerate() {
            let sender = match conversation.kind {
                // A direct conversation goes back and forth, with runs by one side.
                Kind::Direct if rng.random_bool(0.4) => previous,
                Kind::Direct => conversation.members.iter().copied().find(|&m| m != previous).unwrap_or(previous),
                Kind::Group => conversation.members[senders.pick(&mut rng)],
            };
            previous = sender;
            let image = rng.random_bool(IMAGE_SHARE).then(|| uuid_v7(&mut rng, created_at));
            let mut body = (image.is_none() || rng.random_bool(0.5)).then(|| self.text.message(&mut rng));
            let recalled_at = rng.random_bool(RECALLED_SHARE).then(|| created_at + Duration::seconds(30));
            if recalled_at.is_some() {
                body = None;
                change_seq += 1;
            }
            messages.push(PlannedMessage {
                seq: conversation.first_seq() + offset as u64,
                id: uuid_v7(&mut rng, created_at),
                sender,
                image,
                body,
                client_msg_id: Uuid::from_bytes(rng.random()),
                created_at,
                recalled_at,
                change_seq: if recalled_at.is_some() { change_seq } else { 0 },
            });
        }
        (messages, change_seq)
    }

    /// Bodies like the seeded ones, from a stream of their own: what the load generator
    /// sends during the benchmark.
    pub fn sample_bodies(&self, count: usize) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(self.seed.rotate_left(17) ^ 0x5eed);
        (0..count).map(|_| self.text.message(&mut rng)).collect()
    }
}

fn plan_conversations(
    shape: &Shape,
    rng: &mut StdRng,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<PlannedConversation> {
    let others: Vec<usize> = (1 + shape.senders..shape.users).collect();
    let bench_groups = shape.bench_groups();
    let groups = shape.groups();
    let span = (end - start).num_seconds().max(1);
    let mut pairs: HashSet<(usize, usize)> = HashSet::new();
    let mut conversations = Vec::with_capacity(shape.conversations);
    for index in 0..shape.conversations {
        let bench = index < shape.bench_conversations;
        // The benchmark user's conversations are old (a year of history); others start any
        // time but the last week.
        let latest = if bench { span / 5 } else { span - 7 * 86_400 };
        let created_at = start + Duration::seconds(rng.random_range(0..latest.max(1)));
        let is_group =
            if bench { index < bench_groups } else { index - shape.bench_conversations < groups - bench_groups };
        let (kind, title, members) = if is_group {
            let size = (3.0 - rng.random_range(f64::EPSILON..1.0).ln() * 6.0).min(60.0) as usize;
            let mut members = distinct(rng, &others, size - usize::from(bench));
            if bench {
                members.insert(rng.random_range(0..=members.len()), BENCH_USER);
            }
            let title = format!("{} {}", vocab::GROUP_TITLES[index % vocab::GROUP_TITLES.len()], index);
            (Kind::Group, Some(title), members)
        } else {
            let first = if bench { BENCH_USER } else { others[rng.random_range(0..others.len())] };
            let second = loop {
                let candidate = others[rng.random_range(0..others.len())];
                if candidate != first && pairs.insert((first.min(candidate), first.max(candidate))) {
                    break candidate;
                }
            };
            (Kind::Direct, None, vec![first, second])
        };
        let (id, announcement_id) = (uuid_v7(rng, created_at), uuid_v7(rng, created_at));
        conversations.push(PlannedConversation {
            index,
            id,
            announcement_id,
            kind,
            title,
            members,
            created_at,
            messages: 0,
            bench,
        });
    }
    let sender_groups: Vec<usize> = (0..conversations.len())
        .filter(|&i| conversations[i].kind == Kind::Group && conversations[i].bench == shape.senders_in_bench_groups)
        .collect();
    for sender in 1..=shape.senders {
        conversations[sender_groups[(sender - 1) % sender_groups.len()]].members.push(sender);
    }
    share_messages(shape, rng, &mut conversations);
    conversations
}

/// Gives the benchmark user's conversations `bench_share` of the messages and the rest the
/// remainder, each by a Zipf-like weight of a random rank (a few busy conversations, many
/// quiet ones).
fn share_messages(shape: &Shape, rng: &mut StdRng, conversations: &mut [PlannedConversation]) {
    let bench_total = (shape.messages as f64 * shape.bench_share).round() as usize;
    let (bench, others) = conversations.split_at_mut(shape.bench_conversations);
    for (part, total) in [(bench, bench_total), (others, shape.messages - bench_total)] {
        if part.is_empty() {
            continue;
        }
        let mut ranks: Vec<usize> = (1..=part.len()).collect();
        for i in (1..ranks.len()).rev() {
            ranks.swap(i, rng.random_range(0..=i));
        }
        let weights: Vec<f64> = ranks.iter().map(|&rank| 1.0 / (rank as f64 + 5.0).powf(1.1)).collect();
        let sum: f64 = weights.iter().sum();
        let mut given = 0;
        for (conversation, weight) in part.iter_mut().zip(&weights) {
            conversation.messages = (total as f64 * weight / sum).floor() as usize;
            given += conversation.messages;
        }
        // What rounding down left over goes one each to the busiest.
        let mut busiest: Vec<usize> = (0..part.len()).collect();
        busiest.sort_by_key(|&i| ranks[i]);
        for &i in busiest.iter().cycle().take(total - given) {
            part[i].messages += 1;
        }
    }
}

/// `count` distinct users from `pool`.
fn distinct(rng: &mut StdRng, pool: &[usize], count: usize) -> Vec<usize> {
    let mut chosen = Vec::with_capacity(count);
    let mut seen = HashSet::new();
    while chosen.len() < count.min(pool.len()) {
        let user = pool[rng.random_range(0..pool.len())];
        if seen.insert(user) {
            chosen.push(user);
        }
    }
    chosen
}

/// When the messages were sent, oldest first: sittings spread over the conversation's life,
/// more by day than by night (Vietnam time), several messages each, all after `from` and
/// before `end`.
fn sending_times(rng: &mut StdRng, count: usize, from: DateTime<Utc>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let first = from + Duration::seconds(60);
    let span = (end - first).num_seconds() - SESSION_SECS;
    if count == 0 || span <= 0 {
        return vec![first; count];
    }
    let sessions: Vec<i64> = (0..count.div_ceil(MESSAGES_PER_SESSION))
        .map(|_| {
            // Three candidates, the first outside the night (0:00-6:00 local) taken. Always
            // three draws, so what follows in the stream (senders, text) does not depend on
            // the hour `end` falls at: only the times move with it.
            let candidates: [i64; 3] = std::array::from_fn(|_| rng.random_range(0..span));
            let daytime = |at: &&i64| (first.timestamp() + **at + VIETNAM_OFFSET_SECS).rem_euclid(86_400) / 3600 >= 6;
            candidates.iter().find(daytime).copied().unwrap_or(candidates[2])
        })
        .collect();
    let mut times: Vec<DateTime<Utc>> = (0..count)
        .map(|_| {
            let session = sessions[rng.random_range(0..sessions.len())];
            let micros = (session + rng.random_range(0..SESSION_SECS)) * 1_000_000 + rng.random_range(0..1_000_000);
            first + Duration::microseconds(micros)
        })
        .collect();
    times.sort();
    times
}

/// A UUIDv7 of the moment `at` (as the server's ids are), its other bits from `rng`.
pub fn uuid_v7(rng: &mut impl Rng, at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &rng.random()).into_uuid()
}

#[cfg(test)]
#[path = "world_tests.rs"]
mod tests;
