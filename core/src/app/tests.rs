//! Failure paths of the use cases, forced with mockall: what must not happen when a port
//! refuses or fails. Happy paths are covered against real adapters in the end-to-end tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_executor::block_on;
use mockall::predicate::always;

use super::errors::{AuthError, MessageError};
use super::messages::{SendMessage, send};
use super::{Actor, Deps, Limits, auth};
use crate::domain::Utc;
use crate::domain::account::{AccessClaims, Session};
use crate::domain::conversation::{ConversationKind, Member, Role};
use crate::domain::error::PortError;
use crate::domain::ids::{ClientMsgId, ConversationId, SessionId, UserId};
use crate::domain::message::{Message, MessageKind, NewMessage};
use crate::domain::rate_limit::RateDecision;
use crate::ports::*;
use crate::testkit::ManualClock;

struct Mocks {
    users: MockUserRepo,
    sessions: MockSessionRepo,
    conversations: MockConversationRepo,
    messages: MockMessageRepo,
    rate_limits: MockRateLimitStore,
    events: MockEventBus,
    passwords: MockPasswordHasher,
    tokens: MockTokenIssuer,
}

struct SequentialIds(AtomicU64);

impl IdGen for SequentialIds {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

impl Mocks {
    fn new() -> Self {
        Mocks {
            users: MockUserRepo::new(),
            sessions: MockSessionRepo::new(),
            conversations: MockConversationRepo::new(),
            messages: MockMessageRepo::new(),
            rate_limits: MockRateLimitStore::new(),
            events: MockEventBus::new(),
            passwords: MockPasswordHasher::new(),
            tokens: MockTokenIssuer::new(),
        }
    }

    fn into_deps(self) -> Deps {
        Deps {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            conversations: Arc::new(self.conversations),
            messages: Arc::new(self.messages),
            social: Arc::new(MockSocialRepo::new()),
            media: Arc::new(MockMediaRepo::new()),
            devices: Arc::new(crate::ports::MockDeviceRepo::new()),
            blobs: Arc::new(MockBlobStore::new()),
            claims: Arc::new(MockClaimStore::new()),
            jobs: Arc::new(MockJobQueue::new()),
            push_jobs: None,
            calls: Arc::new(crate::ports::MockCallStore::new()),
            node: crate::domain::ids::NodeId(uuid::Uuid::from_u128(7)),
            nodes: Arc::new(crate::ports::MockNodeRegistry::new()),
            rate_limits: Arc::new(self.rate_limits),
            events: Arc::new(self.events),
            presence: Arc::new(MockPresenceStore::new()),
            presence_audience: Arc::new(super::presence::ConversationContacts {
                conversations: Arc::new(MockConversationRepo::new()),
            }),
            passwords: Arc::new(self.passwords),
            tokens: Arc::new(self.tokens),
            clock: Arc::new(ManualClock::new(Utc::now())),
            ids: Arc::new(SequentialIds(AtomicU64::new(1000))),
            health: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// The actor is a member of every conversation, and has sent nothing before.
    fn member_and_new_send(&mut self) {
        self.member_of_a_group();
        self.messages.expect_message_by_client_id().returning(|_, _| Ok(None));
    }

    /// The actor is a member of every conversation, a group: no block or privacy gate
    /// applies.
    fn member_of_a_group(&mut self) {
        self.conversations.expect_write_context().returning(|conversation, user| {
            let member = Member::new(conversation, user, Role::Member, Utc::now());
            Ok(Some(WriteContext { member, kind: ConversationKind::Group, peer: None }))
        });
    }
}

fn actor() -> Actor {
    Actor { user_id: UserId(uuid::Uuid::from_u128(1)), session_id: SessionId(uuid::Uuid::from_u128(2)) }
}

fn text(body: &str) -> SendMessage {
    SendMessage {
        client_msg_id: ClientMsgId(uuid::Uuid::from_u128(77)),
        kind: None,
        body: Some(body.into()),
        media_ids: Vec::new(),
        reply_to: None,
    }
}

fn conversation() -> ConversationId {
    ConversationId(uuid::Uuid::from_u128(3))
}

#[test]
fn a_rate_limited_send_stores_and_publishes_nothing() {
    let mut mocks = Mocks::new();
    mocks.member_and_new_send();
    mocks.rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Limited { retry_after_ms: 1000 }));
    mocks.messages.expect_insert_message().never();
    mocks.events.expect_publish().never();
    let result = block_on(send(&mocks.into_deps(), actor(), conversation(), text("xin chào")));
    assert_eq!(result, Err(MessageError::RateLimited { retry_after_ms: 1000 }));
}

#[test]
fn a_store_outage_is_a_retryable_error_and_nothing_is_published() {
    let mut mocks = Mocks::new();
    mocks.member_and_new_send();
    mocks.rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
    mocks.messages.expect_insert_message().returning(|_| Err(PortError::Unavailable("connection lost".into())));
    mocks.events.expect_publish().never();
    let result = block_on(send(&mocks.into_deps(), actor(), conversation(), text("xin chào")));
    let Err(MessageError::Unavailable(detail)) = result else { panic!("expected unavailable, got {result:?}") };
    assert!(detail.as_str().contains("connection lost"), "the port's words are kept for the log: {detail}");
}

#[test]
fn a_non_member_learns_nothing_and_touches_nothing() {
    let mut mocks = Mocks::new();
    mocks.conversations.expect_write_context().returning(|_, _| Ok(None));
    mocks.messages.expect_message_by_client_id().never();
    mocks.rate_limits.expect_check().never();
    mocks.messages.expect_insert_message().never();
    let result = block_on(send(&mocks.into_deps(), actor(), conversation(), text("xin chào")));
    assert_eq!(result, Err(MessageError::ConversationNotFound));
}

fn stored_original() -> Message {
    NewMessage {
        id: crate::domain::ids::MessageId(uuid::Uuid::from_u128(9)),
        conversation_id: conversation(),
        sender_id: actor().user_id,
        kind: MessageKind::Text,
        body: Some("xin chào".into()),
        reply_to: None,
        client_msg_id: Some(ClientMsgId(uuid::Uuid::from_u128(77))),
        system: None,
        media_ids: Vec::new(),
        created_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
    }
    .into_message(4)
}

#[test]
fn a_retry_the_limiter_would_refuse_gets_its_original_back() {
    let mut mocks = Mocks::new();
    mocks.member_of_a_group();
    mocks.rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Limited { retry_after_ms: 1000 }));
    mocks.messages.expect_message_by_client_id().times(1).returning(|_, _| Ok(Some(stored_original())));
    mocks.messages.expect_insert_message().never();
    mocks.events.expect_publish().never();
    let sent = block_on(send(&mocks.into_deps(), actor(), conversation(), text("xin chào")));
    assert_eq!(sent.map(|s| (s.message, s.created)), Ok((stored_original(), false)));
}

#[test]
fn a_retry_the_store_recognises_is_answered_with_the_original_and_not_announced() {
    let mut mocks = Mocks::new();
    mocks.member_of_a_group();
    mocks.rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
    mocks.messages.expect_message_by_client_id().never();
    mocks.messages.expect_insert_message().times(1).returning(|_| Ok(InsertOutcome::Existing(stored_original())));
    mocks.events.expect_publish().never();
    let sent = block_on(send(&mocks.into_deps(), actor(), conversation(), text("xin chào")));
    assert_eq!(sent.map(|s| (s.message, s.created)), Ok((stored_original(), false)));
}

#[test]
fn a_new_message_reaches_the_members_the_store_returned_with_it() {
    let mut mocks = Mocks::new();
    mocks.member_and_new_send();
    mocks.rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
    let members = vec![actor().user_id, UserId(uuid::Uuid::from_u128(5))];
    let returned = members.clone();
    mocks
        .messages
        .expect_insert_message()
        .returning(move |new| Ok(InsertOutcome::Inserted { message: new.into_message(1), members: returned.clone() }));
    mocks.conversations.expect_member_ids().never();
    mocks
        .events
        .expect_publish()
        .withf(move |delivery| delivery.recipients == members && delivery.except_session == Some(actor().session_id))
        .times(1)
        .returning(|_| Ok(()));
    let sent = block_on(send(&mocks.into_deps(), actor(), conversation(), text("chào cả nhóm")));
    assert_eq!(sent.map(|s| s.created), Ok(true));
}

#[test]
fn a_failed_publish_does_not_undo_a_stored_send() {
    let mut mocks = Mocks::new();
    mocks.member_and_new_send();
    mocks.rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
    mocks
        .messages
        .expect_insert_message()
        .returning(|new| Ok(InsertOutcome::Inserted { message: new.into_message(1), members: vec![actor().user_id] }));
    mocks.events.expect_publish().times(1).returning(|_| Err(PortError::Unavailable("bus down".into())));
    let sent = block_on(send(&mocks.into_deps(), actor(), conversation(), text("vẫn lưu")));
    assert_eq!(sent.map(|s| (s.message.seq, s.created)), Ok((1, true)));
}

#[test]
fn an_unknown_username_still_costs_a_password_check() {
    let mut mocks = Mocks::new();
    mocks.rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
    mocks.users.expect_credentials().returning(|_| Ok(None));
    mocks.passwords.expect_verify().with(always(), mockall::predicate::eq(None)).times(1).returning(|_, _| Ok(false));
    mocks.sessions.expect_create_session().never();
    let login =
        auth::Login { username: "nobody".into(), password: "whatever1".into(), device_name: None, client_ip: None };
    let result = block_on(auth::login(&mocks.into_deps(), login));
    assert!(matches!(result, Err(AuthError::InvalidCredentials)));
}

#[test]
fn a_revoked_session_cannot_use_its_still_valid_access_token() {
    let mut mocks = Mocks::new();
    let claims = AccessClaims { user_id: actor().user_id, session_id: actor().session_id, expires_at: Utc::now() };
    mocks.tokens.expect_verify_access().returning(move |_, _| Some(claims.clone()));
    mocks.sessions.expect_session().returning(|id| {
        Ok(Some(Session {
            id,
            user_id: actor().user_id,
            device_name: "phone".into(),
            created_at: Utc::now(),
            refresh_expires_at: Utc::now() + crate::domain::Duration::days(1),
            revoked_at: Some(Utc::now()),
        }))
    });
    let result = block_on(auth::authenticate(&mocks.into_deps(), "token"));
    assert!(matches!(result, Err(AuthError::SessionRevoked)));
}
