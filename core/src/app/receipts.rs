//! Read and delivered marks, and typing indicators (never stored).

use crate::domain::error::PortError;
use crate::domain::event::{Delivery, Event, ReceiptKind, TypingState};
use crate::domain::ids::{ConversationId, UserId};
use crate::domain::rate_limit::RateLimitKey;

use super::access::{WhenUnavailable, direct_refusal, membership, publish, rate_check};
use super::errors::ConversationError;
use super::{Actor, Deps};

/// Moves the caller's read (or delivered) mark up to `seq` and tells the other members.
/// Returns the mark as stored (marks never go down, nor past the last message).
pub async fn mark(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    kind: ReceiptKind,
    seq: u64,
) -> Result<u64, ConversationError> {
    let member = membership(deps, conversation, actor.user_id).await?.ok_or(ConversationError::ConversationNotFound)?;
    let moved = match kind {
        ReceiptKind::Read => deps.conversations.mark_read(conversation, actor.user_id, seq).await?,
        ReceiptKind::Delivered => deps.conversations.mark_delivered(conversation, actor.user_id, seq).await?,
    };
    let Some(mark) = moved else {
        return Ok(match kind {
            ReceiptKind::Read => member.read_seq,
            ReceiptKind::Delivered => member.delivered_seq,
        });
    };
    let mut recipients = visible_members(deps, actor, conversation).await?;
    if kind == ReceiptKind::Read {
        recipients = read_receipt_audience(deps, actor, recipients).await?;
    }
    let event = Event::Receipt { conversation_id: conversation, user_id: actor.user_id, kind, seq: mark };
    // The caller's other devices get it too, so their unread badges clear.
    publish(deps, Delivery { recipients, except_session: Some(actor.session_id), only_session: None, event }).await;
    Ok(mark)
}

/// Relays a typing indicator to the other members. Nothing is stored.
pub async fn typing(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    state: TypingState,
) -> Result<(), ConversationError> {
    let context = deps
        .conversations
        .write_context(conversation, actor.user_id)
        .await?
        .ok_or(ConversationError::ConversationNotFound)?;
    // In a direct conversation that a block made read-only, typing goes nowhere.
    if direct_refusal(&context).is_some() {
        return Ok(());
    }
    // Typing fans out to every member: a chatty client is throttled, silently (an indicator
    // that arrives a little late is harmless), and never because the limiter is down.
    let key = RateLimitKey::typing(actor.user_id, conversation);
    if rate_check(deps, &key, deps.limits.typing, WhenUnavailable::Allow).await?.is_err() {
        return Ok(());
    }
    let recipients: Vec<_> =
        visible_members(deps, actor, conversation).await?.into_iter().filter(|u| *u != actor.user_id).collect();
    let event = Event::Typing { conversation_id: conversation, user_id: actor.user_id, state };
    publish(deps, Delivery { recipients, except_session: Some(actor.session_id), only_session: None, event }).await;
    Ok(())
}

/// Who learns that `actor` read up to a point: "Đã xem" is mutual. Someone who turned read
/// receipts off sends none (only their own devices hear, to clear badges) and sees nobody
/// else's.
async fn read_receipt_audience(deps: &Deps, actor: Actor, members: Vec<UserId>) -> Result<Vec<UserId>, PortError> {
    let me = deps.users.user(actor.user_id).await?;
    if me.is_none_or(|me| !me.settings.send_read_receipts) {
        return Ok(vec![actor.user_id]);
    }
    let users = deps.users.users(&members).await?;
    Ok(users
        .into_iter()
        .filter(|user| user.id == actor.user_id || user.settings.send_read_receipts)
        .map(|u| u.id)
        .collect())
}

/// The members who may learn what `actor` does in a conversation: everyone but those on the
/// other side of a block (a block hides receipts and typing too, in groups as well).
async fn visible_members(deps: &Deps, actor: Actor, conversation: ConversationId) -> Result<Vec<UserId>, PortError> {
    let hidden = deps.social.hidden_from(actor.user_id).await?;
    let mut members = deps.conversations.member_ids(conversation).await?;
    members.retain(|member| !hidden.contains(member));
    Ok(members)
}
