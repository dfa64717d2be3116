//! The node watch's use cases against mocks: who is taken for dead, by whom, and when a node
//! that was taken for dead resumes its calls.

use std::sync::Arc;

use futures_executor::block_on;
use mockall::predicate::eq;

use super::mock_deps::mock_deps;
use super::nodes::{Heartbeat, silence, sweep};
use crate::domain::Timestamp;
use crate::domain::ids::{CallId, NodeId};
use crate::ports::{MockCallStore, MockClaimStore, MockNodeRegistry};

fn now() -> Timestamp {
    Timestamp::UNIX_EPOCH + chrono::Duration::days(20_000)
}

fn other_node() -> NodeId {
    NodeId(uuid::Uuid::from_u128(8))
}

/// The node the deps run as (`mock_deps`).
fn this_node() -> NodeId {
    mock_deps(now()).node
}

#[test]
fn a_silent_node_is_claimed_told_to_its_calls_and_forgotten_but_never_oneself() {
    let last_seen = now() - chrono::Duration::seconds(7);
    let mut nodes = MockNodeRegistry::new();
    nodes
        .expect_silent()
        .with(eq(now() - silence()))
        .returning(move |_| Ok(vec![(this_node(), last_seen), (other_node(), last_seen)]));
    nodes.expect_forget().with(eq(other_node()), eq(last_seen)).times(1).returning(|_, _| Ok(true));
    let mut claims = MockClaimStore::new();
    claims.expect_claim().times(1).returning(|key, _, _| {
        assert!(key.as_str().contains(&other_node().to_string()), "claimed {key:?}");
        Ok(true)
    });
    let mut calls = MockCallStore::new();
    calls.expect_calls_on().with(eq(other_node())).times(1).returning(|_| Ok(Vec::new()));
    let deps = crate::app::Deps {
        nodes: Arc::new(nodes),
        claims: Arc::new(claims),
        calls: Arc::new(calls),
        ..mock_deps(now())
    };
    assert_eq!(block_on(sweep(&deps)).unwrap(), 1);
}

#[test]
fn a_silent_node_another_node_claimed_is_left_to_it() {
    let mut nodes = MockNodeRegistry::new();
    nodes.expect_silent().returning(|_| Ok(vec![(other_node(), now() - chrono::Duration::seconds(9))]));
    nodes.expect_forget().never();
    let mut claims = MockClaimStore::new();
    claims.expect_claim().times(1).returning(|_, _, _| Ok(false));
    let mut calls = MockCallStore::new();
    calls.expect_calls_on().never();
    let deps = crate::app::Deps {
        nodes: Arc::new(nodes),
        claims: Arc::new(claims),
        calls: Arc::new(calls),
        ..mock_deps(now())
    };
    assert_eq!(block_on(sweep(&deps)).unwrap(), 0);
}

#[test]
fn only_a_node_found_unlisted_after_it_was_listed_resumes_its_calls() {
    let mut nodes = MockNodeRegistry::new();
    let mut answers = vec![false, true, false].into_iter();
    nodes.expect_beat().times(3).returning(move |_, _| Ok(answers.next().unwrap_or(true)));
    let mut calls = MockCallStore::new();
    // Only the third beat (unlisted after being listed) looks for this node's calls.
    calls.expect_calls_on().with(eq(this_node())).times(1).returning(|_| Ok(vec![CallId(uuid::Uuid::from_u128(5))]));
    calls.expect_call().times(1).returning(|_| Ok(None));
    let deps = crate::app::Deps { nodes: Arc::new(nodes), calls: Arc::new(calls), ..mock_deps(now()) };
    let mut heartbeat = Heartbeat::new();
    for _ in 0..3 {
        block_on(heartbeat.beat(&deps, &|_| true)).unwrap();
    }
}
