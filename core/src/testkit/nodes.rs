//! The node-registry contract: every `NodeRegistry` (memory, Redis) behaves so. A beat lists
//! a node with its time, silent nodes are found with their last beat and stay listed until
//! forgotten, a node that beat again is not forgotten, and a node that leaves is unlisted.
//!
//! Stores may keep beats to the millisecond (Redis scores), so every time here is whole
//! milliseconds. A registry may be shared with other checks: each check looks only at nodes
//! of its own, and at instants far from the others' (a day apart).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::domain::ids::NodeId;
use crate::domain::{Duration, Timestamp};
use crate::ports::NodeRegistry;

use super::contract::{new_id, now};

fn node() -> NodeId {
    NodeId(new_id())
}

/// Now, to the millisecond, shifted by `days`.
fn instant(days: i64) -> Timestamp {
    let now = now() + Duration::days(days);
    Timestamp::from_timestamp_millis(now.timestamp_millis()).unwrap()
}

/// Whether `node` is among the nodes silent since `since`, and with which beat.
async fn silent_beat(registry: &dyn NodeRegistry, node: NodeId, since: Timestamp) -> Option<Timestamp> {
    registry.silent(since).await.unwrap().into_iter().find(|(silent, _)| *silent == node).map(|(_, beat)| beat)
}

/// A node's first beat finds it unlisted; each later one finds it listed.
pub async fn a_first_beat_lists_the_node_and_later_ones_find_it_listed(registry: &dyn NodeRegistry) {
    let (a, b) = (node(), node());
    let at = instant(-10);
    assert!(!registry.beat(a, at).await.unwrap(), "a first beat");
    assert!(registry.beat(a, at + Duration::seconds(1)).await.unwrap(), "a second beat");
    assert!(registry.beat(a, at + Duration::seconds(2)).await.unwrap());
    assert!(!registry.beat(b, at).await.unwrap(), "another node's first beat");
}

/// Nodes whose last beat is before `since` are found with that beat; a node that beat at or
/// after `since` is not; looking does not unlist them.
pub async fn nodes_silent_since_an_instant_are_found_with_their_last_beat(registry: &dyn NodeRegistry) {
    let (quiet, lively, edge) = (node(), node(), node());
    let at = instant(-20);
    registry.beat(quiet, at).await.unwrap();
    registry.beat(quiet, at + Duration::milliseconds(1_500)).await.unwrap();
    registry.beat(lively, at).await.unwrap();
    registry.beat(lively, at + Duration::seconds(9)).await.unwrap();
    registry.beat(edge, at + Duration::seconds(5)).await.unwrap();
    let since = at + Duration::seconds(5);
    assert_eq!(silent_beat(registry, quiet, since).await, Some(at + Duration::milliseconds(1_500)), "its last beat");
    assert_eq!(silent_beat(registry, lively, since).await, None, "beat since");
    assert_eq!(silent_beat(registry, edge, since).await, None, "a beat at `since` is not silence");
    assert_eq!(silent_beat(registry, quiet, since).await, Some(at + Duration::milliseconds(1_500)), "still listed");
    assert_eq!(silent_beat(registry, quiet, at).await, None, "not silent since before its beats");
}

/// Forgetting a node with its last beat unlists it (its next beat is a first one again);
/// forgetting it with an older beat, after it beat again, changes nothing.
pub async fn a_forgotten_node_is_unlisted_unless_it_beat_again(registry: &dyn NodeRegistry) {
    let (dead, back) = (node(), node());
    let at = instant(-30);
    registry.beat(dead, at).await.unwrap();
    registry.beat(back, at).await.unwrap();
    let since = at + Duration::seconds(10);
    assert!(registry.forget(dead, at).await.unwrap(), "forgotten");
    assert_eq!(silent_beat(registry, dead, since).await, None, "unlisted");
    assert!(!registry.forget(dead, at).await.unwrap(), "forgotten twice");
    assert!(!registry.beat(dead, since).await.unwrap(), "a beat after being forgotten finds it unlisted");

    // `back` was found silent, then beat again before it was forgotten: it stays.
    assert_eq!(silent_beat(registry, back, since).await, Some(at));
    registry.beat(back, since).await.unwrap();
    assert!(!registry.forget(back, at).await.unwrap(), "it beat again");
    assert!(registry.beat(back, since + Duration::seconds(1)).await.unwrap(), "still listed");
}

/// A node that leaves is unlisted: never found silent, and its next beat is a first one.
pub async fn a_node_that_leaves_is_unlisted(registry: &dyn NodeRegistry) {
    let leaving = node();
    let at = instant(-40);
    registry.beat(leaving, at).await.unwrap();
    registry.leave(leaving).await.unwrap();
    assert_eq!(silent_beat(registry, leaving, at + Duration::seconds(10)).await, None);
    registry.leave(leaving).await.unwrap();
    assert!(!registry.beat(leaving, at + Duration::seconds(11)).await.unwrap());
}
