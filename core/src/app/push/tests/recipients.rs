//! Whom a plan of a message notifies and whom it skips (the sender, muted, read, blocked,
//! online, opted-out and device-less members), and that every badge comes from one read.

use std::collections::{HashMap, HashSet};

use super::{HOA, MINH, SENDER, SEQ, Scene, TUAN, device_id, devices_badges, now, planned_devices, token, uid};
use crate::domain::conversation::Mute;
use crate::domain::push::PushKind;

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
