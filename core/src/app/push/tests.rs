//! The push use case against mocked ports: whom a plan notifies and whom it skips, what a
//! job does with each answer of the push service, and that events queue their job. The
//! ports that answer "who is this user" are driven by one table (`Directory`) that records
//! every question asked, so each test can say exactly what was read.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_executor::block_on;

use super::{DEVICE_RETRY, Plan, PushJobEnd, PushReport, enqueue, plan, run};
use crate::app::Deps;
use crate::app::mock_deps::{FIXED_ID, mock_deps};
use crate::domain::Timestamp;
use crate::domain::account::{DisplayName, Settings, User, Username};
use crate::domain::conversation::{Conversation, ConversationKind, Member, Mute, Role};
use crate::domain::error::PortError;
use crate::domain::ids::{ConversationId, DeviceId, FriendRequestId, MediaId, MessageId, SessionId, UserId};
use crate::domain::job::JobTask;
use crate::domain::media::{BlobKey, Media, MediaKind, NewMedia, UploadTarget, Variant, upload_window};
use crate::domain::message::{Message, MessageKind, NewMessage};
use crate::domain::notification::{BADGE_CAP, MESSAGE_TTL};
use crate::domain::push::{
    Device, Platform, PushEvent, PushKind, PushOutcome, PushTask, PushToken, friend_accepted_text, friend_request_text,
};
use crate::domain::social::{FriendRequest, RequestStatus};
use crate::ports::*;

const SENDER: u128 = 1;
const MINH: u128 = 2;
const HOA: u128 = 3;
const TUAN: u128 = 4;
const SEQ: u64 = 7;

fn now() -> Timestamp {
    chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn uid(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(n))
}

/// Device `n` (`token-n`); the sender has 0, Minh 1 and 2, Hoa 3, Tuấn 4.
fn device_id(n: u128) -> DeviceId {
    DeviceId(uuid::Uuid::from_u128(100 + n))
}

fn token(n: u128) -> String {
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

fn conversation_id() -> ConversationId {
    ConversationId(uuid::Uuid::from_u128(50))
}

fn message_id() -> MessageId {
    MessageId(uuid::Uuid::from_u128(60))
}

/// Sent 1.5 s before the job runs (the clock stands at `now()`).
fn message(kind: MessageKind) -> Message {
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
struct Asked {
    hidden_from: Vec<UserId>,
    presence: Vec<Vec<UserId>>,
    users: Vec<Vec<UserId>>,
    devices: Vec<Vec<UserId>>,
    badges: Vec<Vec<UserId>>,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Asked>>);

impl Log {
    fn get(&self) -> MutexGuard<'_, Asked> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Mocks {
    messages: MockMessageRepo,
    conversations: MockConversationRepo,
    users: MockUserRepo,
    social: MockSocialRepo,
    presence: MockPresenceStore,
    devices: MockDeviceRepo,
    push_jobs: Option<MockJobQueue>,
}

impl Mocks {
    /// Mocks that expect nothing: any read a test did not allow fails it.
    fn new() -> Mocks {
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

    fn into_deps(self) -> Deps {
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
struct Directory {
    users: Vec<User>,
    devices: Vec<Device>,
    online: HashSet<UserId>,
    hidden: HashSet<UserId>,
    badges: HashMap<UserId, u64>,
}

impl Directory {
    /// Lan (the sender, device 0), Minh (devices 1 and 2), Hoa (3) and Tuấn (4): all offline,
    /// none hidden, notifications on; badges 3, 0 and 12.
    fn new() -> Directory {
        Directory {
            users: vec![person(SENDER, "Lan"), person(MINH, "Minh"), person(HOA, "Hoa"), person(TUAN, "Tuấn")],
            devices: vec![device(SENDER, 0), device(MINH, 1), device(MINH, 2), device(HOA, 3), device(TUAN, 4)],
            online: HashSet::new(),
            hidden: HashSet::new(),
            badges: HashMap::from([(uid(MINH), 3), (uid(HOA), 0), (uid(TUAN), 12)]),
        }
    }

    fn install(&self, mocks: &mut Mocks, log: &Log) {
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

    fn user_mut(&mut self, n: u128) -> &mut User {
        let id = uid(n);
        self.users.iter_mut().find(|u| u.id == id).unwrap_or_else(|| panic!("no user {n}"))
    }
}

/// A text message of Lan's to the group of all four, nobody having read or muted it.
struct Scene {
    message: Message,
    members: Vec<Member>,
    directory: Directory,
}

impl Scene {
    fn new() -> Scene {
        Scene {
            message: message(MessageKind::Text),
            members: vec![member(SENDER), member(MINH), member(HOA), member(TUAN)],
            directory: Directory::new(),
        }
    }

    fn member_mut(&mut self, n: u128) -> &mut Member {
        let id = uid(n);
        self.members.iter_mut().find(|m| m.user_id == id).unwrap_or_else(|| panic!("no member {n}"))
    }

    fn mocks(&self, log: &Log) -> Mocks {
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

    fn plan(&self) -> (Plan, Log) {
        let log = Log::default();
        let deps = self.mocks(&log).into_deps();
        let planned = block_on(plan(&deps, PushEvent::Message(message_id())));
        (planned.unwrap_or_else(|e| panic!("plan failed: {e}")), log)
    }
}

/// The planned (device, token, badge) triples, sorted.
fn devices_badges(plan: &Plan) -> Vec<(DeviceId, String, Option<u32>)> {
    let mut triples: Vec<_> = plan
        .notifications
        .iter()
        .map(|p| (p.device, p.notification.token.as_str().to_owned(), p.notification.badge))
        .collect();
    triples.sort();
    triples
}

fn planned_devices(plan: &Plan) -> Vec<DeviceId> {
    devices_badges(plan).into_iter().map(|(device, _, _)| device).collect()
}

// ---- plan of a message ----

#[test]
fn each_device_of_each_offline_member_but_the_sender_gets_one_notification_with_its_badge() {
    let scene = Scene::new();
    let (plan, log) = scene.plan();
    assert_eq!(
        devices_badges(&plan),
        vec![
            (device_id(1), token(1), Some(3)),
            (device_id(2), token(2), Some(3)),
            (device_id(3), token(3), Some(0)),
            (device_id(4), token(4), Some(12)),
        ]
    );
    assert_eq!(plan.occurred_at, Some(scene.message.created_at));
    let first = &plan.notifications[0].notification;
    assert_eq!((first.kind, first.title.as_deref()), (PushKind::Message, Some("Nhà mình")));
    assert_eq!(first.body.as_deref(), Some("Lan: tối nay ăn phở nhé"));
    let others = vec![uid(MINH), uid(HOA), uid(TUAN)];
    let asked = log.get();
    assert_eq!(asked.hidden_from, vec![uid(SENDER)]);
    // The sender is never even asked about.
    assert_eq!(asked.presence, vec![others.clone()]);
    assert_eq!(asked.users, vec![others.clone()]);
    assert_eq!(asked.devices, vec![others.clone()]);
    assert_eq!(asked.badges, vec![others], "one read for every badge");
}

#[test]
fn an_active_mute_skips_the_member_and_an_expired_one_does_not() {
    let mut scene = Scene::new();
    scene.member_mut(MINH).mute = Some(Mute::Forever);
    scene.member_mut(HOA).mute = Some(Mute::Until(now() + crate::domain::Duration::hours(1)));
    scene.member_mut(TUAN).mute = Some(Mute::Until(now() - crate::domain::Duration::minutes(1)));
    let (plan, log) = scene.plan();
    assert_eq!(planned_devices(&plan), vec![device_id(4)]);
    assert_eq!(log.get().presence, vec![vec![uid(TUAN)]]);
}

#[test]
fn a_member_who_has_read_the_message_is_skipped() {
    let mut scene = Scene::new();
    scene.member_mut(MINH).read_seq = SEQ;
    scene.member_mut(HOA).read_seq = SEQ + 1;
    scene.member_mut(TUAN).read_seq = SEQ - 1;
    let (plan, log) = scene.plan();
    assert_eq!(planned_devices(&plan), vec![device_id(4)]);
    assert_eq!(log.get().presence, vec![vec![uid(TUAN)]]);
}

#[test]
fn users_hidden_from_the_sender_by_a_block_are_skipped() {
    let mut scene = Scene::new();
    scene.directory.hidden = HashSet::from([uid(MINH), uid(TUAN)]);
    let (plan, log) = scene.plan();
    assert_eq!(planned_devices(&plan), vec![device_id(3)]);
    let asked = log.get();
    assert_eq!(asked.hidden_from, vec![uid(SENDER)]);
    assert_eq!(asked.presence, vec![vec![uid(HOA)]]);
}

#[test]
fn online_users_are_skipped() {
    let mut scene = Scene::new();
    scene.directory.online = HashSet::from([uid(MINH), uid(HOA)]);
    let (plan, log) = scene.plan();
    assert_eq!(planned_devices(&plan), vec![device_id(4)]);
    let asked = log.get();
    assert_eq!(asked.presence, vec![vec![uid(MINH), uid(HOA), uid(TUAN)]]);
    assert_eq!(asked.users, vec![vec![uid(TUAN)]]);
    assert_eq!(asked.badges, vec![vec![uid(TUAN)]]);
}

#[test]
fn users_with_notifications_off_are_skipped() {
    let mut scene = Scene::new();
    scene.directory.user_mut(HOA).settings.notifications_enabled = false;
    let (plan, log) = scene.plan();
    assert_eq!(planned_devices(&plan), vec![device_id(1), device_id(2), device_id(4)]);
    let asked = log.get();
    assert_eq!(asked.devices, vec![vec![uid(MINH), uid(TUAN)]]);
    assert_eq!(asked.badges, vec![vec![uid(MINH), uid(TUAN)]]);
}

#[test]
fn users_without_devices_are_skipped_before_their_badge_is_counted() {
    let mut scene = Scene::new();
    scene.directory.devices.retain(|d| d.user_id != uid(MINH));
    let (plan, log) = scene.plan();
    assert_eq!(planned_devices(&plan), vec![device_id(3), device_id(4)]);
    assert_eq!(log.get().badges, vec![vec![uid(HOA), uid(TUAN)]]);
}

#[test]
fn without_a_device_to_notify_no_badge_is_counted() {
    let mut scene = Scene::new();
    scene.directory.devices.retain(|d| d.user_id == uid(SENDER));
    let (plan, log) = scene.plan();
    assert!(plan.notifications.is_empty(), "{plan:?}");
    assert!(log.get().badges.is_empty(), "no read for no one");
}

#[test]
fn each_recipient_gets_their_own_badge_from_the_one_read() {
    let mut scene = Scene::new();
    scene.directory.online = HashSet::from([uid(HOA)]);
    scene.directory.badges = HashMap::from([(uid(MINH), 99), (uid(TUAN), 1)]);
    let (plan, log) = scene.plan();
    assert_eq!(
        devices_badges(&plan),
        vec![(device_id(1), token(1), Some(99)), (device_id(2), token(2), Some(99)), (device_id(4), token(4), Some(1))]
    );
    assert_eq!(log.get().badges, vec![vec![uid(MINH), uid(TUAN)]]);
}

/// A plan of a message the store answers with `found`, where every other read fails the test.
fn plan_reading_only_the_message(found: Option<Message>) -> Plan {
    let mut mocks = Mocks::new();
    mocks.messages.expect_message().withf(|id| *id == message_id()).times(1).returning(move |_| Ok(found.clone()));
    let planned = block_on(plan(&mocks.into_deps(), PushEvent::Message(message_id())));
    planned.unwrap_or_else(|e| panic!("plan failed: {e}"))
}

#[test]
fn a_recalled_message_plans_nothing_and_reads_nothing_else() {
    let mut recalled = message(MessageKind::Text);
    recalled.body = None;
    recalled.recalled_at = Some(now());
    assert_eq!(plan_reading_only_the_message(Some(recalled)), Plan::default());
}

#[test]
fn a_system_message_plans_nothing_and_reads_nothing_else() {
    assert_eq!(plan_reading_only_the_message(Some(message(MessageKind::System))), Plan::default());
}

#[test]
fn a_missing_message_plans_nothing() {
    assert_eq!(plan_reading_only_the_message(None), Plan::default());
}

fn avatar_id() -> MediaId {
    MediaId(uuid::Uuid::from_u128(80))
}

/// The plan of the default scene where Lan has an avatar with a `thumb_320` variant,
/// signed by `sign`.
fn plan_with_avatar(sign: fn() -> Result<SignedRequest, PortError>) -> Plan {
    let mut scene = Scene::new();
    scene.directory.user_mut(SENDER).avatar_media_id = Some(avatar_id().0);
    let mut media = MockMediaRepo::new();
    media.expect_media().withf(|id| *id == avatar_id()).times(1).returning(|id| {
        let mut avatar = Media::new(NewMedia {
            id,
            owner_id: uid(SENDER),
            kind: MediaKind::Image,
            content_type: "image/jpeg".into(),
            filename: "me.jpg".into(),
            size: 1000,
            upload: UploadTarget::Single,
            created_at: now(),
            upload_expires_at: now() + upload_window(),
        });
        avatar.variants = vec![Variant {
            name: "thumb_320".into(),
            content_type: "image/jpeg".into(),
            size: 100,
            width: Some(320),
            height: Some(320),
        }];
        Ok(Some(avatar))
    });
    let mut blobs = MockBlobStore::new();
    // Signed as long as the notification may be shown.
    let ttl = crate::domain::Duration::from_std(MESSAGE_TTL).unwrap_or_default();
    blobs
        .expect_presign_get()
        .withf(move |key, download, at, valid| {
            *key == BlobKey::variant(avatar_id(), "thumb_320") && !download.attachment && *at == now() && *valid == ttl
        })
        .times(1)
        .returning(move |_, _, _, _| sign());
    let deps = Deps { media: Arc::new(media), blobs: Arc::new(blobs), ..scene.mocks(&Log::default()).into_deps() };
    block_on(plan(&deps, PushEvent::Message(message_id()))).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

#[test]
fn the_senders_avatar_is_a_signed_link_to_its_thumbnail() {
    let plan = plan_with_avatar(|| {
        Ok(SignedRequest {
            method: SignedMethod::Get,
            url: "https://cdn.example/avatar?sig=1".into(),
            headers: Vec::new(),
            expires_at: now(),
        })
    });
    assert_eq!(plan.notifications.len(), 4);
    for planned in &plan.notifications {
        assert_eq!(planned.notification.image_url.as_deref(), Some("https://cdn.example/avatar?sig=1"));
    }
}

#[test]
fn an_avatar_that_cannot_be_signed_leaves_the_picture_out_not_the_notification() {
    let plan = plan_with_avatar(|| Err(PortError::Unavailable("no signing key".into())));
    assert_eq!(plan.notifications.len(), 4);
    assert!(plan.notifications.iter().all(|planned| planned.notification.image_url.is_none()));
}

// ---- plan of a friend request or its acceptance ----

fn request_id() -> FriendRequestId {
    FriendRequestId(uuid::Uuid::from_u128(70))
}

/// Lan asked Minh, a minute ago.
fn request(status: RequestStatus) -> FriendRequest {
    let answered = status != RequestStatus::Pending;
    FriendRequest {
        id: request_id(),
        from_user: uid(SENDER),
        to_user: uid(MINH),
        message: String::new(),
        status,
        created_at: now() - crate::domain::Duration::minutes(1),
        answered_at: answered.then(|| now() - crate::domain::Duration::seconds(2)),
    }
}

fn plan_friend(event: PushEvent, status: RequestStatus) -> (Plan, Log) {
    let log = Log::default();
    let mut mocks = Mocks::new();
    mocks.social.expect_friend_request().withf(|id| *id == request_id()).returning(move |_| Ok(Some(request(status))));
    Directory::new().install(&mut mocks, &log);
    let planned = block_on(plan(&mocks.into_deps(), event));
    (planned.unwrap_or_else(|e| panic!("plan failed: {e}")), log)
}

#[test]
fn a_pending_request_notifies_its_recipient() {
    let (plan, log) = plan_friend(PushEvent::FriendRequest(request_id()), RequestStatus::Pending);
    assert_eq!(planned_devices(&plan), vec![device_id(1), device_id(2)]);
    let notification = &plan.notifications[0].notification;
    assert_eq!(notification.kind, PushKind::FriendRequest);
    assert_eq!(notification.title.as_deref(), Some("Lan"));
    assert_eq!(notification.body, Some(friend_request_text("Lan", crate::domain::account::Locale::Vi)));
    assert_eq!(notification.data.get("request_id"), Some(&request_id().to_string()));
    assert_eq!(plan.occurred_at, Some(request(RequestStatus::Pending).created_at));
    let asked = log.get();
    assert_eq!(asked.hidden_from, vec![uid(SENDER)]);
    assert_eq!(asked.presence, vec![vec![uid(MINH)]]);
}

#[test]
fn a_request_no_longer_pending_notifies_no_one_and_reads_nothing_else() {
    for status in [RequestStatus::Cancelled, RequestStatus::Declined, RequestStatus::Accepted] {
        let mut mocks = Mocks::new();
        mocks.social.expect_friend_request().times(1).returning(move |_| Ok(Some(request(status))));
        let planned = block_on(plan(&mocks.into_deps(), PushEvent::FriendRequest(request_id())));
        assert_eq!(planned, Ok(Plan::default()), "{status:?}");
    }
}

#[test]
fn an_accepted_request_notifies_the_requester_with_the_accepters_name() {
    let (plan, log) = plan_friend(PushEvent::FriendAccepted(request_id()), RequestStatus::Accepted);
    assert_eq!(planned_devices(&plan), vec![device_id(0)]);
    let notification = &plan.notifications[0].notification;
    assert_eq!(notification.kind, PushKind::FriendAccepted);
    assert_eq!(notification.title.as_deref(), Some("Minh"));
    assert_eq!(notification.body, Some(friend_accepted_text("Minh", crate::domain::account::Locale::Vi)));
    assert_eq!(plan.occurred_at, request(RequestStatus::Accepted).answered_at);
    let asked = log.get();
    assert_eq!(asked.hidden_from, vec![uid(MINH)]);
    assert_eq!(asked.presence, vec![vec![uid(SENDER)]]);
    assert_eq!(asked.badges, vec![vec![uid(SENDER)]]);
}

// ---- run ----

/// A push service answering each token with `answer`, recording the tokens it was sent to.
fn push_service(
    answer: impl Fn(&str) -> Result<PushOutcome, PortError> + Send + 'static,
) -> (MockPushSender, Arc<Mutex<Vec<String>>>) {
    let sent_to = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sent_to);
    let mut service = MockPushSender::new();
    service.expect_send().returning(move |notification| {
        let token = notification.token.as_str();
        record.lock().unwrap_or_else(PoisonError::into_inner).push(token.to_owned());
        answer(token)
    });
    (service, sent_to)
}

fn sorted(tokens: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    let mut tokens = tokens.lock().unwrap_or_else(PoisonError::into_inner).clone();
    tokens.sort();
    tokens
}

fn all_tokens() -> Vec<String> {
    (1..=4).map(token).collect()
}

fn fan_out() -> PushTask {
    PushTask::event(PushEvent::Message(message_id()))
}

fn one_device(n: u128) -> PushTask {
    PushTask { event: PushEvent::Message(message_id()), device: Some(device_id(n)) }
}

fn retry_later(after: Option<Duration>) -> Result<PushOutcome, PortError> {
    Ok(PushOutcome::RetryLater { after, reason: "unavailable (503)".into() })
}

/// Runs `task` over the default scene, with `mocks` adjusted by `adjust` (for the device
/// removals and the queue).
fn run_scene(task: PushTask, service: &MockPushSender, adjust: impl FnOnce(&mut Mocks)) -> PushJobEnd {
    let log = Log::default();
    let mut mocks = Scene::new().mocks(&log);
    adjust(&mut mocks);
    block_on(run(&mocks.into_deps(), service, task))
}

/// A queue that must not be used.
fn unused_queue() -> MockJobQueue {
    let mut queue = MockJobQueue::new();
    queue.expect_enqueue().never();
    queue.expect_enqueue_after().never();
    queue
}

#[test]
fn accepted_notifications_are_counted_with_the_latency_since_the_message() {
    let (service, sent_to) = push_service(|_| Ok(PushOutcome::Sent));
    let end = run_scene(fan_out(), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    assert_eq!(end, PushJobEnd::Finished(PushReport { sent: 4, latency_ms: Some(1500), ..PushReport::default() }));
    assert_eq!(sorted(&sent_to), all_tokens());
}

#[test]
fn a_gone_token_is_removed_and_counted() {
    let (service, sent_to) = push_service(|token| match token {
        "token-2" => Ok(PushOutcome::TokenGone { reason: "UNREGISTERED".into() }),
        _ => Ok(PushOutcome::Sent),
    });
    let end = run_scene(fan_out(), &service, |mocks| {
        mocks.devices.expect_remove_token().withf(|t| t.as_str() == "token-2").times(1).returning(|_| Ok(true));
    });
    let expected = PushReport {
        sent: 3,
        failed: vec![("token_gone", "UNREGISTERED".into())],
        tokens_removed: 1,
        latency_ms: Some(1500),
        ..PushReport::default()
    };
    assert_eq!(end, PushJobEnd::Finished(expected));
    assert_eq!(sorted(&sent_to), all_tokens());
}

#[test]
fn a_rejected_notification_is_counted_as_failed_and_its_token_kept() {
    let (service, _) = push_service(|token| match token {
        "token-3" => Ok(PushOutcome::Rejected { reason: "INVALID_ARGUMENT".into() }),
        _ => Ok(PushOutcome::Sent),
    });
    let end = run_scene(fan_out(), &service, |mocks| {
        mocks.devices.expect_remove_token().never();
        mocks.push_jobs = Some(unused_queue());
    });
    let expected = PushReport {
        sent: 3,
        failed: vec![("rejected", "INVALID_ARGUMENT".into())],
        latency_ms: Some(1500),
        ..PushReport::default()
    };
    assert_eq!(end, PushJobEnd::Finished(expected));
}

#[test]
fn a_fan_out_retries_only_the_devices_asked_to_come_back_each_in_a_job_of_its_own() {
    let (service, sent_to) = push_service(|token| match token {
        "token-1" => retry_later(Some(Duration::from_secs(30))),
        "token-4" => retry_later(None),
        _ => Ok(PushOutcome::Sent),
    });
    let mut queue = MockJobQueue::new();
    queue
        .expect_enqueue_after()
        .withf(|task, delay| *task == JobTask::Push(one_device(1)) && *delay == Duration::from_secs(30))
        .times(1)
        .returning(|_, _| Ok(true));
    queue
        .expect_enqueue_after()
        .withf(|task, delay| *task == JobTask::Push(one_device(4)) && *delay == DEVICE_RETRY)
        .times(1)
        .returning(|_, _| Ok(true));
    queue.expect_enqueue().never();
    let end = run_scene(fan_out(), &service, |mocks| mocks.push_jobs = Some(queue));
    assert_eq!(
        end,
        PushJobEnd::Finished(PushReport { sent: 2, deferred: 2, latency_ms: Some(1500), ..PushReport::default() })
    );
    // Each device was sent to once; the served ones are in no retry (an enqueue_after for
    // them matches no expectation and fails the test).
    assert_eq!(sorted(&sent_to), all_tokens());
}

#[test]
fn a_send_error_is_retried_like_a_retry_later_without_retry_after() {
    let (service, _) = push_service(|token| match token {
        "token-3" => Err(PortError::Unavailable("connection reset".into())),
        _ => Ok(PushOutcome::Sent),
    });
    let mut queue = MockJobQueue::new();
    queue
        .expect_enqueue_after()
        .withf(|task, delay| *task == JobTask::Push(one_device(3)) && *delay == DEVICE_RETRY)
        .times(1)
        .returning(|_, _| Ok(true));
    let end = run_scene(fan_out(), &service, |mocks| mocks.push_jobs = Some(queue));
    assert_eq!(
        end,
        PushJobEnd::Finished(PushReport { sent: 3, deferred: 1, latency_ms: Some(1500), ..PushReport::default() })
    );
}

#[test]
fn a_one_device_job_sends_only_to_its_device() {
    let (service, sent_to) = push_service(|_| Ok(PushOutcome::Sent));
    let end = run_scene(one_device(2), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    assert_eq!(end, PushJobEnd::Finished(PushReport { sent: 1, latency_ms: Some(1500), ..PushReport::default() }));
    assert_eq!(sorted(&sent_to), vec![token(2)]);
}

#[test]
fn a_one_device_job_for_a_device_no_longer_to_notify_sends_nothing() {
    let (service, sent_to) = push_service(|_| Ok(PushOutcome::Sent));
    // Device 0 is the sender's.
    let end = run_scene(one_device(0), &service, |_| {});
    assert_eq!(end, PushJobEnd::Finished(PushReport::default()));
    assert!(sorted(&sent_to).is_empty());
}

#[test]
fn a_one_device_job_asked_to_come_back_fails_its_job_with_the_retry_after() {
    let (service, sent_to) = push_service(|_| retry_later(Some(Duration::from_secs(10))));
    let end = run_scene(one_device(2), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    assert_eq!(
        end,
        PushJobEnd::Retry {
            reason: "unavailable (503)".into(),
            after: Some(Duration::from_secs(10)),
            report: PushReport::default()
        }
    );
    assert_eq!(sorted(&sent_to), vec![token(2)]);
}

#[test]
fn a_one_device_job_whose_send_errs_fails_its_job_without_retry_after() {
    let (service, _) = push_service(|_| Err(PortError::Unavailable("timed out".into())));
    let end = run_scene(one_device(3), &service, |mocks| mocks.push_jobs = Some(unused_queue()));
    let PushJobEnd::Retry { reason, after, report } = end else { panic!("expected a retry, got {end:?}") };
    assert!(reason.contains("timed out"), "{reason}");
    assert_eq!((after, report), (None, PushReport::default()));
}

#[test]
fn a_store_error_while_planning_retries_the_job_and_sends_nothing() {
    let unreachable = || PortError::Unavailable("connection refused".into());
    let mut message_unread = Mocks::new();
    message_unread.messages.expect_message().times(1).returning(move |_| Err(unreachable()));
    let mut devices_unread = Scene::new().mocks(&Log::default());
    devices_unread.devices = MockDeviceRepo::new();
    devices_unread.devices.expect_devices_of_users().times(1).returning(move |_| Err(unreachable()));
    for mocks in [message_unread, devices_unread] {
        let mut service = MockPushSender::new();
        service.expect_send().never();
        let end = block_on(run(&mocks.into_deps(), &service, fan_out()));
        assert_eq!(
            end,
            PushJobEnd::Retry { reason: unreachable().to_string(), after: None, report: PushReport::default() }
        );
    }
}

// ---- enqueue ----

#[test]
fn without_a_push_queue_nothing_is_queued() {
    let mut jobs = MockJobQueue::new();
    jobs.expect_enqueue().never();
    jobs.expect_enqueue_after().never();
    let deps = Deps { jobs: Arc::new(jobs), push_jobs: None, ..mock_deps(now()) };
    block_on(enqueue(&deps, PushEvent::Message(message_id())));
}

#[test]
fn an_event_is_queued_as_a_push_job_to_everyone_it_concerns() {
    let event = PushEvent::FriendRequest(request_id());
    let mut queue = MockJobQueue::new();
    queue
        .expect_enqueue()
        .withf(move |task| *task == JobTask::Push(PushTask::event(event)))
        .times(1)
        .returning(|_| Ok(true));
    let deps = Deps { push_jobs: Some(Arc::new(queue)), ..mock_deps(now()) };
    block_on(enqueue(&deps, event));
}

#[test]
fn a_queue_error_is_not_the_callers() {
    let mut queue = MockJobQueue::new();
    queue.expect_enqueue().times(1).returning(|_| Err(PortError::Unavailable("redis down".into())));
    let deps = Deps { push_jobs: Some(Arc::new(queue)), ..mock_deps(now()) };
    // Returns (), and the failed enqueue was tried exactly once.
    block_on(enqueue(&deps, PushEvent::Message(message_id())));
}

// ---- through a send ----

/// A group member's send whose insert the store answers with `outcome`, with `queue` as
/// the push queue.
fn send_with(outcome: fn(NewMessage) -> InsertOutcome, queue: MockJobQueue) -> Result<bool, String> {
    use crate::app::messages::{SendMessage, send};
    use crate::domain::ids::ClientMsgId;
    use crate::domain::rate_limit::RateDecision;

    let mut conversations = MockConversationRepo::new();
    conversations.expect_write_context().returning(|conversation, user| {
        let member = Member::new(conversation, user, Role::Member, now());
        Ok(Some(WriteContext { member, kind: ConversationKind::Group, peer: None }))
    });
    let mut rate_limits = MockRateLimitStore::new();
    rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
    let mut messages = MockMessageRepo::new();
    messages.expect_insert_message().times(1).returning(move |new| Ok(outcome(new)));
    let mut events = MockEventBus::new();
    events.expect_publish().returning(|_| Ok(()));
    let deps = Deps {
        conversations: Arc::new(conversations),
        rate_limits: Arc::new(rate_limits),
        messages: Arc::new(messages),
        events: Arc::new(events),
        push_jobs: Some(Arc::new(queue)),
        ..mock_deps(now())
    };
    let actor = crate::app::Actor { user_id: uid(SENDER), session_id: SessionId(uuid::Uuid::from_u128(2)) };
    let command = SendMessage {
        client_msg_id: ClientMsgId(uuid::Uuid::from_u128(77)),
        kind: None,
        body: Some("xin chào".into()),
        media_ids: Vec::new(),
        reply_to: None,
    };
    block_on(send(&deps, actor, conversation_id(), command)).map(|sent| sent.created).map_err(|e| e.to_string())
}

#[test]
fn a_new_send_queues_one_push_job_for_its_message() {
    let mut queue = MockJobQueue::new();
    let stored = MessageId(uuid::Uuid::from_u128(FIXED_ID));
    queue
        .expect_enqueue()
        .withf(move |task| *task == JobTask::Push(PushTask::event(PushEvent::Message(stored))))
        .times(1)
        .returning(|_| Ok(true));
    queue.expect_enqueue_after().never();
    let inserted =
        |new: NewMessage| InsertOutcome::Inserted { message: new.into_message(SEQ), members: vec![uid(SENDER)] };
    assert_eq!(send_with(inserted, queue), Ok(true));
}

#[test]
fn a_retried_send_queues_no_push_job() {
    let existing = |new: NewMessage| InsertOutcome::Existing(new.into_message(SEQ));
    assert_eq!(send_with(existing, unused_queue()), Ok(false));
}

/// An incoming call rings every device of the callee with a push that carries no badge, so
/// no badge is counted for it.
#[test]
fn an_incoming_call_rings_each_device_of_the_callee_and_counts_no_badge() {
    use crate::domain::call::{Call, CallDevice, CallMedia, CallPolicy, Invite, Sdp};
    use crate::domain::ids::{CallId, NodeId};
    let invite = Invite {
        id: CallId(uuid::Uuid::from_u128(77)),
        conversation_id: conversation_id(),
        caller: CallDevice { user_id: uid(SENDER), session_id: SessionId(uuid::Uuid::from_u128(70)) },
        caller_node: NodeId(uuid::Uuid::from_u128(71)),
        callee: uid(MINH),
        media: CallMedia::Video,
        offer: Sdp::parse("v=0 offer".to_owned()).unwrap_or_else(|e| panic!("{e}")),
    };
    let (call, _) = Call::ring(invite, CallPolicy::production(), now()).unwrap_or_else(|e| panic!("{e:?}"));
    let log = Log::default();
    let mut mocks = Mocks::new();
    Directory::new().install(&mut mocks, &log);
    let mut calls = MockCallStore::new();
    calls.expect_call().returning(move |_| Ok(Some(StoredCall { call: call.clone(), version: 1 })));
    let deps = Deps { calls: Arc::new(calls), ..mocks.into_deps() };
    let planned = block_on(plan(&deps, PushEvent::IncomingCall(CallId(uuid::Uuid::from_u128(77)))))
        .unwrap_or_else(|e| panic!("plan failed: {e}"));
    assert_eq!(planned_devices(&planned), vec![device_id(1), device_id(2)]);
    assert!(log.get().badges.is_empty(), "badges counted for a call: {:?}", log.get().badges);
}
