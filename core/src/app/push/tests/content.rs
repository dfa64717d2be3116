//! What a plan of a message carries: nothing for a recalled, system or missing message (and
//! nothing else read), and the sender's avatar as a signed link, left out when unsignable.

use std::sync::Arc;

use futures_executor::block_on;

use super::{Log, Mocks, SENDER, Scene, message, message_id, now, uid};
use crate::app::Deps;
use crate::app::push::{Plan, plan};
use crate::domain::error::PortError;
use crate::domain::ids::MediaId;
use crate::domain::media::{BlobKey, Media, MediaKind, NewMedia, UploadTarget, Variant, upload_window};
use crate::domain::message::{Message, MessageKind};
use crate::domain::notification::MESSAGE_TTL;
use crate::domain::push::PushEvent;
use crate::ports::*;

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
