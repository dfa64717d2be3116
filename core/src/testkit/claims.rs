//! The claim-store contract: every `ClaimStore` (memory, Redis) behaves so. One caller wins a
//! claim, everyone else loses it until it lapses, and then it can be won again.
//!
//! A store may judge expiry by its own clock (Redis) or by the `now` it is given (memory), so
//! the check of a lapse gives both the same times: `now` is the wall clock, and it waits by
//! claiming again until the claim is won, with a deadline far past the claim's end. The
//! testkit has no runtime, so the pauses between attempts are kept by a thread of their own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration as StdDuration, Instant};

use futures_util::future::join_all;

use crate::domain::Duration;
use crate::ports::{ClaimKey, ClaimStore};

use super::contract::{new_id, now};
use super::wait::pause;

/// A key no other check or run uses.
fn fresh_key() -> ClaimKey {
    ClaimKey::task(&format!("contract-{}", new_id()))
}

/// The first claim of a key wins; every later one loses while it holds, whatever `until` it
/// asks for.
pub async fn the_first_claim_wins_and_later_ones_lose_while_it_holds(store: &dyn ClaimStore) {
    let key = fresh_key();
    let at = now();
    assert!(store.claim(&key, at + Duration::hours(1), at).await.unwrap(), "the first claim wins");
    assert!(!store.claim(&key, at + Duration::hours(1), at).await.unwrap(), "the same claim again loses");
    let later = at + Duration::seconds(1);
    assert!(!store.claim(&key, later + Duration::hours(2), later).await.unwrap(), "a longer claim loses too");
}

/// Twenty claims of one key at once: exactly one wins.
pub async fn concurrent_claims_of_one_key_have_one_winner(store: &dyn ClaimStore) {
    let key = fresh_key();
    let at = now();
    let outcomes = join_all((0..20).map(|_| store.claim(&key, at + Duration::hours(1), at))).await;
    let won = outcomes.into_iter().map(Result::unwrap).filter(|won| *won).count();
    assert_eq!(won, 1);
}

/// A claim lapses at its `until` (not before), can then be won again, and the new claim
/// holds in turn.
pub async fn a_lapsed_claim_can_be_claimed_again(store: &dyn ClaimStore) {
    let lasting = Duration::milliseconds(200);
    // Far longer than the claim lasts: only a claim that never lapses runs into it.
    let patience = StdDuration::from_secs(20);
    let key = fresh_key();
    let start = now();
    assert!(store.claim(&key, start + lasting, start).await.unwrap());
    let deadline = Instant::now() + patience;
    let answered_at = loop {
        let at = now();
        if store.claim(&key, at + Duration::hours(1), at).await.unwrap() {
            break now();
        }
        assert!(Instant::now() < deadline, "a claim of {lasting} still held after {patience:?}");
        pause(StdDuration::from_millis(10)).await;
    };
    // The store judged the claim lapsed before it answered, so an answer before the claim's
    // end proves it lapsed early, however slow the machine. (A few ms of slack for a store
    // that rounds its clock to milliseconds.)
    let slack = Duration::milliseconds(5);
    assert!(answered_at + slack >= start + lasting, "lapsed {} early", start + lasting - answered_at);
    let at = now();
    assert!(!store.claim(&key, at + Duration::hours(1), at).await.unwrap(), "the new claim holds");
}

/// Claims of different keys do not interfere, also when kinds of claim share a name.
pub async fn claims_of_different_keys_are_independent(store: &dyn ClaimStore) {
    let name = new_id().to_string();
    let at = now();
    let until = at + Duration::hours(1);
    for key in [ClaimKey::task(&name), ClaimKey::upload_token(&name), fresh_key()] {
        assert!(store.claim(&key, until, at).await.unwrap(), "{key:?} is claimed by no one else");
    }
    assert!(!store.claim(&ClaimKey::task(&name), until, at).await.unwrap());
}
