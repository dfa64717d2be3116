//! The push use case against mocked ports, one file per theme: whom a plan of a message
//! notifies and whom it skips (`recipients`), what a message's notification carries
//! (`content`), the plans of a friend request, its acceptance and an incoming call
//! (`events`), what a job does with each answer of the push service (`delivery`), and that
//! events and sends queue their job (`enqueue`). This file holds the fixtures they share.
//! The ports that answer "who is this user" are driven by one table (`Directory`) that
//! records every question asked, so each test can say exactly what was read.

mod content;
mod delivery;
mod enqueue;
mod events;
mod recipients;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_executor::block_on;

use crate::app::Deps;
use crate::app::mock_deps::mock_deps;
use crate::app::push::{Plan, plan};
use crate::domain::Timestamp;
use crate::domain::account::{DisplayName, Settings, User, Username};
use crate::domain::conversation::{Conversation, ConversationKind, Member, Role};
use crate::domain::ids::{ConversationId, DeviceId, FriendRequestId, MessageId, SessionId, UserId};
use crate::domain::message::{Message, MessageKind, NewMessage};
use crate::domain::notification::BADGE_CAP;
use crate::domain::push::{Device, Platform, PushEvent, PushToken};
use crate::ports::*;

pub(super) const SENDER: u128 = 1;
pub(super) const MINH: u128 = 2;
pub(super) const HOA: u128 = 3;
pub(super) const TUAN: u128 = 4;
pub(super) const SEQ: u64 = 7;

pub(super) fn now() -> Timestamp {
    chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

pub(super) fn uid(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(n))
}

/// Device `n` (`token-n`); the sender has 0, Minh 1 and 2, Hoa 3, Tuấn 4.
pub(super) fn device_id(n: u128) -> DeviceId {
    DeviceId(uuid::Uuid::from_u128(100 + n))
}

pub(super) fn token(n: u128) -> String {
    format!("token-{n}")
}

fn person(n: u128, name: &str) -> User {
    User {
        id: uid(n),
        username: Username::from_stored(format!("user{n}")),
        display_name: DisplayName::from_stored(name.to_owned()),
        phone: None,
        avatar_media_id: None,
        bio: String::new(),
        settings: Settings::default(),
        created_at: now(),
        updated_at: now(),
    }
}

fn device(owner: u128, n: u128) -> Device {
    Device {
        id: device_id(n),
        user_id: uid(owner),
        session_id: SessionId(uuid::Uuid::from_u128(200 + n)),
        platform: Platform::Android,
        token: PushToken::from_stored(token(n)),
        locale: None,
        registered_at: now(),
    }
}

pub(super) fn conversation_id() -> ConversationId {
    ConversationId(uuid::Uuid::from_u128(50))
}

pub(super) fn message_id() -> MessageId {
    MessageId(uuid::Uuid::from_u128(60))
}

/// Sent 1.5 s before the job runs (the clock stands at `now()`).
pub(super) fn message(kind: MessageKind) -> Message {
    NewMessage {
        id: message_id(),
        conversation_id: conversation_id(),
        sender_id: uid(SENDER),
        kind,
        body: (kind == MessageKind::Text).then(|| "tối nay ăn phở nhé".to_owned()),
        reply_to: None,
        client_msg_id: None,
        system: None,
        media_ids: Vec::new(),
        created_at: now() - crate::domain::Duration::milliseconds(1500),
    }
    .into_message(SEQ)
}

fn group() -> Conversation {
    Conversation {
        id: conversation_id(),
        kind: ConversationKind::Group,
        title: Some("Nhà mình".into()),
        avatar_media_id: None,
        created_by: uid(SENDER),
        created_at: now(),
        last_seq: SEQ,
        last_activity_at: now(),
        member_count: 4,
        last_change_seq: 0,
    }
}

fn member(n: u128) -> Member {
    Member::new(conversation_id(), uid(n), Role::Member, now())
}

/// Every question the plan asked of the ports `Directory` drives, in order.
#[derive(Debug, Default)]
pub(super) struct Asked {
    pub(super) hidden_from: Vec<UserId>,
    pub(super) presence: Vec<Vec<UserId>>,
    pub(super) users: Vec<Vec<UserId>>,
    pub(super) devices: Vec<Vec<UserId>>,
    pub(super) badges: Vec<Vec<UserId>>,
}

#[derive(Clone, Default)]
pub(super) struct Log(Arc<Mutex<Asked>>);

impl Log {
    pub(super) fn get(&self) -> MutexGuard<'_, Asked> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) struct Mocks {
    pub(super) messages: MockMessageRepo,
    pub(super) conversations: MockConversationRepo,
    pub(super) users: MockUserRepo,
    pub(super) social: MockSocialRepo,
    pub(super) presence: MockPresenceStore,
    pub(super) devices: MockDeviceRepo,
    pub(super) push_jobs: Option<MockJobQueue>,
}

impl Mocks {
    /// Mocks that expect nothing: any read a test did not allow fails it.
    pub(super) fn new() -> Mocks {
        Mocks {
            messages: MockMessageRepo::new(),
            conversations: MockConversationRepo::new(),
            users: MockUserRepo::new(),
            social: MockSocialRepo::new(),
            presence: MockPresenceStore::new(),
            devices: MockDeviceRepo::new(),
            push_jobs: None,
        }
    }

    pub(super) fn into_deps(self) -> Deps {
        Deps {
            messages: Arc::new(self.messages),
            conversations: Arc::new(self.conversations),
            users: Arc::new(self.users),
            social: Arc::new(self.social),
            presence: Arc::new(self.presence),
            devices: Arc::new(self.devices),
            push_jobs: self.push_jobs.map(|queue| Arc::new(queue) as Arc<dyn JobQueue>),
            ..mock_deps(now())
        }
    }
}

/// The users, their devices and state, as the ports a plan reads from answer.
#[derive(Clone)]
pub(super) struct Directory {
    pub(super) users: Vec<User>,
    pub(super) devices: Vec<Device>,
    pub(super) online: HashSet<UserId>,
    pub(super) hidden: HashSet<UserId>,
    pub(super) badges: HashMap<UserId, u64>,
}

impl Directory {
    /// Lan (the sender, device 0), Minh (devices 1 and 2), Hoa (3) and Tuấn (4): all offline,
    /// none hidden, notifications on; badges 3, 0 and 12.
    pub(super) fn new() -> Directory {
        Directory {
            users: vec![person(SENDER, "Lan"), person(MINH, "Minh"), person(HOA, "Hoa"), person(TUAN, "Tuấn")],
            devices: vec![device(SENDER, 0), device(MINH, 1), device(MINH, 2), device(HOA, 3), device(TUAN, 4)],
            online: HashSet::new(),
            hidden: HashSet::new(),
            badges: HashMap::from([(uid(MINH), 3), (uid(HOA), 0), (uid(TUAN), 12)]),
        }
    }

    pub(super) fn install(&self, mocks: &mut Mocks, log: &Log) {
        let users = self.users.clone();
        mocks.users.expect_user().returning(move |id| Ok(users.iter().find(|u| u.id == id).cloned()));
        let (users, asked) = (self.users.clone(), log.clone());
        mocks.users.expect_users().returning(move |ids| {
            asked.get().users.push(ids.to_vec());
            Ok(ids.iter().filter_map(|id| users.iter().find(|u| u.id == *id).cloned()).collect())
        });
        let (hidden, asked) = (self.hidden.clone(), log.clone());
        mocks.social.expect_hidden_from().returning(move |user| {
            asked.get().hidden_from.push(user);
            Ok(hidden.clone())
        });
        let (online, asked) = (self.online.clone(), log.clone());
        mocks.presence.expect_status().withf(|_, at| *at == now()).returning(move |ids, _| {
            asked.get().presence.push(ids.to_vec());
            Ok(ids.iter().map(|id| (*id, PresenceStatus { online: online.contains(id), last_seen: None })).collect())
        });
        let (devices, asked) = (self.devices.clone(), log.clone());
        mocks.devices.expect_devices_of_users().returning(move |ids| {
            asked.get().devices.push(ids.to_vec());
            Ok(devices.iter().filter(|d| ids.contains(&d.user_id)).cloned().collect())
        });
        let (badges, asked) = (self.badges.clone(), log.clone());
        // Answered in the reverse of the order asked: the store promises no order.
        mocks.conversations.expect_unread_totals().withf(|_, at, cap| *at == now() && *cap == BADGE_CAP).returning(
            move |users, _, _| {
                asked.get().badges.push(users.to_vec());
                Ok(users.iter().rev().map(|user| (*user, badges.get(user).copied().unwrap_or(0))).collect())
            },
        );
    }

    pub(super) fn user_mut(&mut self, n: u128) -> &mut User {
        let id = uid(n);
        self.users.iter_mut().find(|u| u.id == id).unwrap_or_else(|| panic!("no user {n}"))
    }
}

/// A text message of Lan's to the group of all four, nobody having read or muted it.
pub(super) struct Scene {
    pub(super) message: Message,
    pub(super) members: Vec<Member>,
    pub(super) directory: Directory,
}

impl Scene {
    pub(super) fn new() -> Scene {
        Scene {
            message: message(MessageKind::Text),
            members: vec![member(SENDER), member(MINH), member(HOA), member(TUAN)],
            directory: Directory::new(),
        }
    }

    pub(super) fn member_mut(&mut self, n: u128) -> &mut Member {
        let id = uid(n);
        self.members.iter_mut().find(|m| m.user_id == id).unwrap_or_else(|| panic!("no member {n}"))
    }

    pub(super) fn mocks(&self, log: &Log) -> Mocks {
        let mut mocks = Mocks::new();
        let message = self.message.clone();
        mocks.messages.expect_message().withf(|id| *id == message_id()).returning(move |_| Ok(Some(message.clone())));
        mocks.conversations.expect_conversation().withf(|id| *id == conversation_id()).returning(|_| Ok(Some(group())));
        let members = self.members.clone();
        mocks
            .conversations
            .expect_members()
            .withf(|id| *id == conversation_id())
            .returning(move |_| Ok(members.clone()));
        self.directory.install(&mut mocks, log);
        mocks
    }

    pub(super) fn plan(&self) -> (Plan, Log) {
        let log = Log::default();
        let deps = self.mocks(&log).into_deps();
        let planned = block_on(plan(&deps, PushEvent::Message(message_id())));
        (planned.unwrap_or_else(|e| panic!("plan failed: {e}")), log)
    }
}

/// The planned (device, token, badge) triples, sorted.
pub(super) fn devices_badges(plan: &Plan) -> Vec<(DeviceId, String, Option<u32>)> {
    let mut triples: Vec<_> = plan
        .notifications
        .iter()
        .map(|p| (p.device, p.notification.token.as_str().to_owned(), p.notification.badge))
        .collect();
    triples.sort();
    triples
}

pub(super) fn planned_devices(plan: &Plan) -> Vec<DeviceId> {
    devices_badges(plan).into_iter().map(|(device, _, _)| device).collect()
}

pub(super) fn request_id() -> FriendRequestId {
    FriendRequestId(uuid::Uuid::from_u128(70))
}

/// A queue that must not be used.
pub(super) fn unused_queue() -> MockJobQueue {
    let mut queue = MockJobQueue::new();
    queue.expect_enqueue().never();
    queue.expect_enqueue_after().never();
    queue
}
