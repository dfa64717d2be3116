//! Checks shared by the use cases: membership, rate limits and best-effort publishing.

use crate::domain::conversation::Member;
use crate::domain::error::RepoError;
use crate::domain::event::Delivery;
use crate::domain::ids::{ConversationId, UserId};
use crate::domain::rate_limit::{Quota, RateDecision};

use super::Deps;

/// The caller's membership, or `None`: callers answer "not found" either way, so a
/// conversation the caller may not see looks exactly like one that does not exist.
pub(crate) async fn membership(
    deps: &Deps,
    conversation: ConversationId,
    user: UserId,
) -> Result<Option<Member>, RepoError> {
    deps.conversations.member(conversation, user).await
}

/// Runs one rate-limit check; `Err(retry_after_ms)` when limited.
pub(crate) async fn rate_check(deps: &Deps, key: &str, quota: Quota) -> Result<Result<(), u64>, RepoError> {
    match deps.rate_limits.check(key, quota, deps.clock.now()).await? {
        RateDecision::Allowed => Ok(Ok(())),
        RateDecision::Limited { retry_after_ms } => Ok(Err(retry_after_ms.max(1))),
    }
}

/// Publishes after a write has been stored. Delivery is best-effort by design: the write
/// stands, and clients that miss the event recover it with `sync` or history.
pub(crate) async fn publish(deps: &Deps, delivery: Delivery) {
    if let Err(error) = deps.events.publish(delivery).await {
        tracing::warn!(%error, "event not published; clients will catch up with sync");
    }
}
