//! Every port a mock that expects nothing, for unit tests of use cases: a test replaces the
//! ports it drives (`Deps { media: Arc::new(media), ..mock_deps() }`) and any call to another
//! port fails the test.

use std::sync::Arc;

use crate::domain::Timestamp;
use crate::ports::*;
use crate::testkit::ManualClock;

use super::presence::ConversationContacts;
use super::{Deps, Limits};

/// Every id the use case makes is this one.
pub(crate) const FIXED_ID: u128 = 9;

struct FixedIds;

impl IdGen for FixedIds {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(FIXED_ID)
    }
}

/// Mocks for every port, a clock at `now`, fixed ids, default limits.
pub(crate) fn mock_deps(now: Timestamp) -> Deps {
    Deps {
        users: Arc::new(MockUserRepo::new()),
        sessions: Arc::new(MockSessionRepo::new()),
        conversations: Arc::new(MockConversationRepo::new()),
        messages: Arc::new(MockMessageRepo::new()),
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
        rate_limits: Arc::new(MockRateLimitStore::new()),
        events: Arc::new(MockEventBus::new()),
        presence: Arc::new(MockPresenceStore::new()),
        presence_audience: Arc::new(ConversationContacts { conversations: Arc::new(MockConversationRepo::new()) }),
        passwords: Arc::new(MockPasswordHasher::new()),
        tokens: Arc::new(MockTokenIssuer::new()),
        clock: Arc::new(ManualClock::new(now)),
        ids: Arc::new(FixedIds),
        health: Vec::new(),
        limits: Limits::default(),
    }
}
