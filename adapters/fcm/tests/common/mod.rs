//! What every test of the FCM sender starts from: a fake FCM, a sender pointed at it, and
//! the clock both judge time by.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chat_core::domain::Utc;
use chat_core::domain::push::{Platform, Priority, PushKind, PushNotification, PushToken};
use chat_core::testkit::ManualClock;
use chat_fcm::FcmPushSender;
use chat_fcm::testing::FakeFcm;

/// Long enough for any answer on a loaded machine; the stalled-answer test uses its own.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Setup {
    pub fake: FakeFcm,
    pub sender: Arc<FcmPushSender>,
    pub clock: Arc<ManualClock>,
}

pub async fn setup() -> Setup {
    setup_with_timeout(REQUEST_TIMEOUT).await
}

pub async fn setup_with_timeout(request_timeout: Duration) -> Setup {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let fake = FakeFcm::start(clock.clone()).await;
    let sender = Arc::new(FcmPushSender::new(fake.config(request_timeout), clock.clone()).unwrap());
    Setup { fake, sender, clock }
}

/// A new-message notification to the device `token`.
pub fn message(token: &str, platform: Platform) -> PushNotification {
    PushNotification {
        token: PushToken::parse(token).unwrap(),
        platform,
        kind: PushKind::Message,
        title: Some("Nguyễn Văn An".into()),
        body: Some("📷 Ảnh".into()),
        image_url: Some("https://cdn.example.com/avatars/an.jpg".into()),
        thread: Some("0190f1e2-7a6b-7c3d-9e8f-0a1b2c3d4e5f".into()),
        badge: Some(4),
        data: BTreeMap::from([
            ("conversation_id".to_owned(), "0190f1e2-7a6b-7c3d-9e8f-0a1b2c3d4e5f".to_owned()),
            ("message_id".to_owned(), "0190f1e2-8000-7000-8000-000000000001".to_owned()),
        ]),
        priority: Priority::High,
        ttl: Some(Duration::from_secs(86_400)),
    }
}

/// An incoming call to the device `token`: data only, high priority, 30 s to live.
pub fn call(token: &str, platform: Platform) -> PushNotification {
    PushNotification {
        kind: PushKind::IncomingCall,
        title: None,
        body: None,
        image_url: None,
        badge: None,
        data: BTreeMap::from([("call_id".to_owned(), "c-1".to_owned())]),
        ttl: Some(Duration::from_secs(30)),
        ..message(token, platform)
    }
}
