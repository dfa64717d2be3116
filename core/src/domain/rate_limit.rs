//! Rate limiting with the Generic Cell Rate Algorithm (GCRA).
//!
//! The whole state of one limited key is a single number, its theoretical arrival time (TAT),
//! so any store that can compare-and-set one value (a mutex, a Redis Lua script) gives the
//! same semantics: a burst of `burst` requests, then one per `interval`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::account::Username;
use super::ids::{ConversationId, UserId};

/// A limit: `burst` requests at once, refilled at one per `interval_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// How many requests may come at once.
    pub burst: u32,
    /// One more request is allowed every this many milliseconds.
    pub interval_ms: u64,
}

impl Quota {
    /// `limit` requests per `window_ms`, all of which may come at once.
    pub fn per_window(limit: u32, window_ms: u64) -> Quota {
        let limit = limit.max(1);
        Quota { burst: limit, interval_ms: (window_ms / u64::from(limit)).max(1) }
    }

    /// `limit` requests per minute, all of which may come at once.
    pub fn per_minute(limit: u32) -> Quota {
        Quota::per_window(limit, 60_000)
    }

    /// How far ahead of `now` the TAT may run before requests are refused.
    fn tolerance_ms(&self) -> i64 {
        let slots = u64::from(self.burst.saturating_sub(1));
        i64::try_from(slots.saturating_mul(self.interval_ms)).unwrap_or(i64::MAX)
    }

    fn interval(&self) -> i64 {
        i64::try_from(self.interval_ms).unwrap_or(i64::MAX)
    }
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    /// The request may go ahead; it was counted.
    Allowed,
    /// The quota is spent; nothing was counted.
    Limited {
        /// How long until one more request would be allowed.
        retry_after_ms: u64,
    },
}

/// One GCRA step. `tat_ms` is the key's stored TAT (absent for a new key), `now_ms` the
/// current time in milliseconds. Returns the decision and the TAT to store (unchanged when
/// the request is refused, so refused requests cost nothing).
pub fn gcra(tat_ms: Option<i64>, now_ms: i64, quota: Quota) -> (RateDecision, Option<i64>) {
    let tat = tat_ms.unwrap_or(now_ms).max(now_ms);
    let ahead = tat - now_ms;
    let tolerance = quota.tolerance_ms();
    if ahead > tolerance {
        let wait = u64::try_from(ahead - tolerance).unwrap_or(u64::MAX);
        return (RateDecision::Limited { retry_after_ms: wait }, tat_ms);
    }
    (RateDecision::Allowed, Some(tat.saturating_add(quota.interval())))
}

/// What one limit counts, and for whom: the key a [`RateLimitStore`](crate::ports::RateLimitStore)
/// keeps one TAT under. Only these constructors make one, so every limited action has exactly
/// one key shape and no request can mint keys of its own choosing.
///
/// The text (`chat:user:<id>`, `login:ip:<ip>`, …) is what stores persist, so it must not
/// change: a new shape would reset every live limit in a shared store at deploy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RateLimitKey(String);

impl RateLimitKey {
    /// Messages sent by a user, on all their devices.
    pub fn chat(user: UserId) -> Self {
        RateLimitKey(format!("chat:user:{user}"))
    }

    /// Typing indicators of a user in one conversation.
    pub fn typing(user: UserId, conversation: ConversationId) -> Self {
        RateLimitKey(format!("typing:user:{user}:{conversation}"))
    }

    /// Friend requests sent by a user.
    pub fn friend_requests(user: UserId) -> Self {
        RateLimitKey(format!("friend_requests:user:{user}"))
    }

    /// Calls placed by a user, on all their devices.
    pub fn call_invites(user: UserId) -> Self {
        RateLimitKey(format!("call:invite:user:{user}"))
    }

    /// User searches and phone lookups by a user.
    pub fn searches(user: UserId) -> Self {
        RateLimitKey(format!("search:user:{user}"))
    }

    /// Message searches by a user (a separate budget from finding people, with the same quota).
    pub fn message_searches(user: UserId) -> Self {
        RateLimitKey(format!("search:messages:user:{user}"))
    }

    /// Upload URLs a user asks for (`POST /media/uploads`).
    pub fn upload_requests(user: UserId) -> Self {
        RateLimitKey(format!("upload:user:{user}"))
    }

    /// Uploads a user completes (`POST /media/{id}/complete`).
    pub fn upload_completions(user: UserId) -> Self {
        RateLimitKey(format!("upload_complete:user:{user}"))
    }

    /// Contact syncs by a user.
    pub fn contact_syncs(user: UserId) -> Self {
        RateLimitKey(format!("contact_sync:user:{user}"))
    }

    /// Login attempts on one account; only a well-formed username gets a key.
    pub fn login_account(username: &Username) -> Self {
        RateLimitKey(format!("login:account:{}", username.as_str()))
    }

    /// Login attempts from one client IP.
    pub fn login_ip(ip: IpAddr) -> Self {
        RateLimitKey(format!("login:ip:{ip}"))
    }

    /// Registrations from one client IP.
    pub fn register_ip(ip: IpAddr) -> Self {
        RateLimitKey(format!("register:ip:{ip}"))
    }

    /// The key as stores persist it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RateLimitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The key strings are what Redis holds: a change here resets every live limit.
    #[test]
    fn keys_keep_the_shapes_stores_already_hold() {
        let user = UserId(uuid::Uuid::from_u128(1));
        let conversation = ConversationId(uuid::Uuid::from_u128(2));
        let ip: IpAddr = [203, 0, 113, 7].into();
        let username = Username::parse("an_nguyen").map_err(|e| e.to_string());
        let keys = [
            (RateLimitKey::chat(user), format!("chat:user:{user}")),
            (RateLimitKey::typing(user, conversation), format!("typing:user:{user}:{conversation}")),
            (RateLimitKey::friend_requests(user), format!("friend_requests:user:{user}")),
            (RateLimitKey::searches(user), format!("search:user:{user}")),
            (RateLimitKey::contact_syncs(user), format!("contact_sync:user:{user}")),
            (RateLimitKey::login_ip(ip), "login:ip:203.0.113.7".to_owned()),
            (RateLimitKey::register_ip(ip), "register:ip:203.0.113.7".to_owned()),
        ];
        for (key, expected) in keys {
            assert_eq!(key.as_str(), expected);
            assert_eq!(key.to_string(), expected);
        }
        assert_eq!(user.to_string(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(
            username.map(|name| RateLimitKey::login_account(&name)).unwrap().as_str(),
            "login:account:an_nguyen"
        );
    }

    fn run(quota: Quota, arrivals: &[i64]) -> Vec<(i64, bool)> {
        let mut tat = None;
        arrivals
            .iter()
            .map(|&now| {
                let (decision, next) = gcra(tat, now, quota);
                tat = next;
                (now, decision == RateDecision::Allowed)
            })
            .collect()
    }

    #[test]
    fn sixty_per_minute_is_a_burst_of_sixty_then_one_per_second() {
        let quota = Quota::per_minute(60);
        let outcomes = run(quota, &[0; 61]);
        assert_eq!(outcomes.iter().filter(|(_, ok)| *ok).count(), 60);
        assert_eq!(gcra(Some(60_000), 0, quota).0, RateDecision::Limited { retry_after_ms: 1000 });
        assert_eq!(gcra(Some(60_000), 1000, quota).0, RateDecision::Allowed);
    }

    proptest! {
        /// In any window [a, b] the limiter admits at most burst + (b - a) / interval requests,
        /// and a client that always waits as told is never refused.
        #[test]
        fn admits_at_most_burst_plus_rate(
            burst in 1u32..20,
            interval in 1u64..2000,
            gaps in proptest::collection::vec(0i64..3000, 1..200),
        ) {
            let quota = Quota { burst, interval_ms: interval };
            let mut now = 0;
            let arrivals: Vec<i64> = gaps.iter().map(|gap| { now += gap; now }).collect();
            let admitted: Vec<i64> = run(quota, &arrivals).into_iter().filter(|(_, ok)| *ok).map(|(t, _)| t).collect();
            for (i, start) in admitted.iter().enumerate() {
                for (j, end) in admitted.iter().enumerate().skip(i) {
                    let count = (j - i + 1) as i64;
                    let allowed = i64::from(burst) + (end - start) / interval as i64;
                    prop_assert!(count <= allowed, "{count} admitted in [{start}, {end}]");
                }
            }
        }

        #[test]
        fn saturated_arrivals_admit_exactly_burst_then_rate(
            burst in 1u32..50,
            interval in 1u64..1000,
            duration in 0i64..20_000,
        ) {
            let quota = Quota { burst, interval_ms: interval };
            // One request every millisecond for `duration` ms: the limiter must admit the
            // whole burst and then exactly one per interval.
            let arrivals: Vec<i64> = (0..=duration).collect();
            let admitted = run(quota, &arrivals).into_iter().filter(|(_, ok)| *ok).count() as i64;
            let expected = (i64::from(burst) + duration / interval as i64).min(duration + 1);
            prop_assert_eq!(admitted, expected);
        }

        #[test]
        fn waiting_as_told_is_always_admitted(burst in 1u32..10, interval in 1u64..1000, tries in 1usize..100) {
            let quota = Quota { burst, interval_ms: interval };
            let (mut tat, mut now) = (None, 0i64);
            for _ in 0..tries {
                match gcra(tat, now, quota) {
                    (RateDecision::Allowed, next) => tat = next,
                    (RateDecision::Limited { retry_after_ms }, _) => {
                        now += retry_after_ms as i64;
                        let (decision, next) = gcra(tat, now, quota);
                        prop_assert_eq!(decision, RateDecision::Allowed);
                        tat = next;
                    }
                }
            }
        }
    }
}
