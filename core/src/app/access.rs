//! Checks shared by the use cases: membership, rate limits and best-effort publishing.

use crate::domain::conversation::Member;
use crate::domain::error::PortError;
use crate::domain::event::Delivery;
use crate::domain::ids::{ConversationId, UserId};
use crate::domain::rate_limit::{Quota, RateDecision, RateLimitKey};
use crate::domain::social::audience_allows;
use crate::ports::WriteContext;

use super::Deps;

/// The caller's membership, or `None`: callers answer "not found" either way, so a
/// conversation the caller may not see looks exactly like one that does not exist.
pub(crate) async fn membership(
    deps: &Deps,
    conversation: ConversationId,
    user: UserId,
) -> Result<Option<Member>, PortError> {
    deps.conversations.member(conversation, user).await
}

/// What a limit does when its store cannot answer (Redis down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenUnavailable {
    /// Let the request through: chat keeps working through an outage of the limiter.
    Allow,
    /// Refuse it: logins and upload URLs are what an attacker would hammer during one.
    Refuse,
}

/// Runs one rate-limit check; `Err(retry_after_ms)` when limited.
pub(crate) async fn rate_check(
    deps: &Deps,
    key: &RateLimitKey,
    quota: Quota,
    policy: WhenUnavailable,
) -> Result<Result<(), u64>, PortError> {
    match deps.rate_limits.check(key, quota, deps.clock.now()).await {
        Ok(RateDecision::Allowed) => Ok(Ok(())),
        Ok(RateDecision::Limited { retry_after_ms }) => Ok(Err(retry_after_ms.max(1))),
        Err(error) if policy == WhenUnavailable::Allow => {
            tracing::warn!(%error, %key, "rate limiter unavailable; letting the request through");
            Ok(Ok(()))
        }
        Err(error) => Err(error),
    }
}

/// Publishes after a write has been stored. Delivery is best-effort by design: the write
/// stands, and clients that miss the event recover it with `sync` or history.
pub(crate) async fn publish(deps: &Deps, delivery: Delivery) {
    if let Err(error) = deps.events.publish(delivery).await {
        tracing::warn!(%error, "event not published; clients will catch up with sync");
    }
}

/// Why a user may not write into a direct conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirectRefusal {
    /// One of the two blocked the other: the conversation is read-only for both.
    Blocked,
    /// The peer accepts messages from friends (or nobody) only.
    NotAllowed,
}

/// The privacy gate of a direct conversation: blocks either way, and the peer's "who may
/// message me". Groups pass (membership already decided who is in).
pub(crate) fn direct_refusal(context: &WriteContext) -> Option<DirectRefusal> {
    let peer = context.peer?;
    if peer.blocked {
        return Some(DirectRefusal::Blocked);
    }
    if !audience_allows(peer.who_can_message, peer.friends) {
        return Some(DirectRefusal::NotAllowed);
    }
    None
}
