//! The rate-limit contract: GCRA's burst and refill, exact under concurrency.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::future::join_all;

use crate::domain::ids::UserId;
use crate::domain::rate_limit::{Quota, RateDecision, RateLimitKey};
use crate::ports::RateLimitStore;

use super::contract::{new_id, now};

const HOUR_MS: u64 = 3_600_000;

/// The burst is admitted, the next request waits about one interval; keys are independent.
pub async fn a_burst_is_admitted_then_the_next_waits_one_interval(store: &dyn RateLimitStore) {
    // 5 per hour: the refill is far enough away that any store clock reads as "now".
    let quota = Quota::per_window(5, HOUR_MS);
    let key = RateLimitKey::chat(UserId(new_id()));
    let at = now();
    for attempt in 1..=5 {
        assert_eq!(store.check(&key, quota, at).await.unwrap(), RateDecision::Allowed, "attempt {attempt}");
    }
    match store.check(&key, quota, at).await.unwrap() {
        RateDecision::Limited { retry_after_ms } => {
            let interval = quota.interval_ms;
            assert!(
                retry_after_ms <= interval && retry_after_ms > interval - 10_000,
                "retry after {retry_after_ms} ms"
            );
        }
        RateDecision::Allowed => panic!("the 6th request in the hour was admitted"),
    }
    let other = RateLimitKey::chat(UserId(new_id()));
    assert_eq!(store.check(&other, quota, at).await.unwrap(), RateDecision::Allowed, "keys are independent");
}

/// Seventy requests at once on a burst of sixty admit exactly sixty.
pub async fn concurrent_requests_admit_exactly_the_burst(store: &dyn RateLimitStore) {
    let quota = Quota::per_window(60, HOUR_MS);
    let key = RateLimitKey::chat(UserId(new_id()));
    let at = now();
    let decisions = join_all((0..70).map(|_| store.check(&key, quota, at))).await;
    let admitted = decisions.into_iter().filter(|d| matches!(d, Ok(RateDecision::Allowed))).count();
    assert_eq!(admitted, 60);
}
