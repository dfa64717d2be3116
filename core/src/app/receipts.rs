//! Read and delivered marks, and typing indicators (never stored).

use crate::domain::event::{Delivery, Event, ReceiptKind, TypingState};
use crate::domain::ids::ConversationId;

use super::access::{membership, publish};
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
    let recipients = deps.conversations.member_ids(conversation).await?;
    let event = Event::Receipt { conversation_id: conversation, user_id: actor.user_id, kind, seq: mark };
    // The caller's other devices get it too, so their unread badges clear.
    publish(deps, Delivery { recipients, except_session: Some(actor.session_id), event }).await;
    Ok(mark)
}

/// Relays a typing indicator to the other members. Nothing is stored.
pub async fn typing(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    state: TypingState,
) -> Result<(), ConversationError> {
    membership(deps, conversation, actor.user_id).await?.ok_or(ConversationError::ConversationNotFound)?;
    let recipients: Vec<_> =
        deps.conversations.member_ids(conversation).await?.into_iter().filter(|u| *u != actor.user_id).collect();
    let event = Event::Typing { conversation_id: conversation, user_id: actor.user_id, state };
    publish(deps, Delivery { recipients, except_session: Some(actor.session_id), event }).await;
    Ok(())
}
