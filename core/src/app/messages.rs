//! Messages: send (idempotent, rate-limited), history, edit, recall, delete for me, react.

use serde::Deserialize;

use crate::domain::error::Invalid;
use crate::domain::event::{Delivery, Event, MessageChange};
use crate::domain::ids::{ClientMsgId, ConversationId, MessageId};
use crate::domain::message::{
    ChangeRefusal, Message, MessageKind, NewMessage, check_sender_change, parse_body, parse_emoji,
};
use crate::ports::{HistoryPage, InsertOutcome, MessageUpdate};

use super::access::{DirectRefusal, WhenUnavailable, may_write, membership, publish, rate_check};
use super::errors::MessageError;
use super::{Actor, Deps};

/// The largest history page.
pub const MAX_HISTORY_PAGE: usize = 200;

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessage {
    /// The client's idempotency key (a UUID it made); retries must reuse it.
    pub client_msg_id: ClientMsgId,
    pub body: Option<String>,
    pub reply_to: Option<MessageId>,
}

/// The stored message, and whether this call stored it (`false`: a retry of an earlier send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub message: Message,
    pub created: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeleteScope {
    /// Hide it from my own history only.
    Me,
    /// Recall it for everyone ("thu hồi"): body removed, a tombstone stays.
    Everyone,
}

pub async fn send(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    command: SendMessage,
) -> Result<Sent, MessageError> {
    membership(deps, conversation, actor.user_id).await?.ok_or(MessageError::ConversationNotFound)?;
    // A retry must get the original back even when the sender is now rate limited, so the
    // idempotency lookup comes before the limiter.
    if let Some(message) = deps.messages.message_by_client_id(actor.user_id, command.client_msg_id).await? {
        return retried(message, conversation);
    }
    check_may_write(deps, conversation, actor).await?;
    let body = parse_body(command.body.as_deref().unwrap_or(""))?;
    if let Some(reply_to) = command.reply_to {
        let original = deps.messages.message(reply_to).await?;
        if original.is_none_or(|m| m.conversation_id != conversation) {
            return Err(MessageError::ReplyNotFound);
        }
    }
    rate_check(deps, &format!("chat:user:{}", actor.user_id), deps.limits.chat, WhenUnavailable::Allow)
        .await?
        .map_err(|retry_after_ms| MessageError::RateLimited { retry_after_ms })?;
    let new = NewMessage {
        id: MessageId(deps.ids.new_id()),
        conversation_id: conversation,
        sender_id: actor.user_id,
        kind: MessageKind::Text,
        body: Some(body),
        reply_to: command.reply_to,
        client_msg_id: Some(command.client_msg_id),
        system: None,
        created_at: deps.clock.now(),
    };
    match deps.messages.insert_message(new).await? {
        InsertOutcome::Existing(message) => retried(message, conversation),
        InsertOutcome::Inserted(message) => {
            // The message is stored: from here on nothing may turn the send into an error.
            match deps.conversations.member_ids(conversation).await {
                Ok(recipients) => {
                    let event = Event::MessageNew { message: message.clone() };
                    publish(deps, Delivery { recipients, except_session: Some(actor.session_id), event }).await;
                }
                Err(error) => tracing::warn!(%error, "message stored but not fanned out; clients catch up with sync"),
            }
            Ok(Sent { message, created: true })
        }
    }
}

/// A page of history, oldest first. `before_seq` / `after_seq` page backwards / forwards;
/// neither gives the newest messages.
pub async fn history(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    before_seq: Option<u64>,
    after_seq: Option<u64>,
    limit: usize,
) -> Result<Vec<Message>, MessageError> {
    membership(deps, conversation, actor.user_id).await?.ok_or(MessageError::ConversationNotFound)?;
    let limit = limit.clamp(1, MAX_HISTORY_PAGE);
    let page = match (before_seq, after_seq) {
        (Some(_), Some(_)) => {
            return Err(Invalid::new("invalid_range", "give before_seq or after_seq, not both").into());
        }
        (Some(seq), None) => HistoryPage::Before { seq, limit },
        (None, Some(seq)) => HistoryPage::After { seq, limit },
        (None, None) => HistoryPage::Latest { limit },
    };
    Ok(deps.messages.history(conversation, actor.user_id, page).await?)
}

pub async fn edit(deps: &Deps, actor: Actor, id: MessageId, body: &str) -> Result<Message, MessageError> {
    let message = visible_message(deps, actor, id).await?;
    let body = parse_body(body)?;
    check_sender_change(&message, actor.user_id, deps.clock.now()).map_err(refusal)?;
    check_may_write(deps, message.conversation_id, actor).await?;
    let update = MessageUpdate::Edit { body, at: deps.clock.now() };
    update_and_announce(deps, actor, id, update, MessageChange::Edited).await
}

/// Deletes for me (hidden from my history) or recalls for everyone (sender, within 24 h).
/// Returns the tombstone after a recall.
pub async fn delete(
    deps: &Deps,
    actor: Actor,
    id: MessageId,
    scope: DeleteScope,
) -> Result<Option<Message>, MessageError> {
    let message = visible_message(deps, actor, id).await?;
    match scope {
        DeleteScope::Me => {
            deps.messages.hide_message(id, actor.user_id).await?;
            Ok(None)
        }
        DeleteScope::Everyone => {
            check_sender_change(&message, actor.user_id, deps.clock.now()).map_err(refusal)?;
            let update = MessageUpdate::Recall { at: deps.clock.now() };
            update_and_announce(deps, actor, id, update, MessageChange::Recalled).await.map(Some)
        }
    }
}

/// Sets (`Some`) or removes (`None`) the caller's reaction: one per user per message.
pub async fn react(deps: &Deps, actor: Actor, id: MessageId, emoji: Option<&str>) -> Result<Message, MessageError> {
    let message = visible_message(deps, actor, id).await?;
    if message.recalled_at.is_some() {
        return Err(MessageError::Recalled);
    }
    check_may_write(deps, message.conversation_id, actor).await?;
    let emoji = emoji.map(parse_emoji).transpose()?;
    let update = MessageUpdate::React { user: actor.user_id, emoji, at: deps.clock.now() };
    update_and_announce(deps, actor, id, update, MessageChange::Reaction).await
}

/// A message the caller may see: it exists and they are a member of its conversation.
async fn visible_message(deps: &Deps, actor: Actor, id: MessageId) -> Result<Message, MessageError> {
    let message = deps.messages.message(id).await?.ok_or(MessageError::MessageNotFound)?;
    membership(deps, message.conversation_id, actor.user_id).await?.ok_or(MessageError::MessageNotFound)?;
    Ok(message)
}

async fn update_and_announce(
    deps: &Deps,
    actor: Actor,
    id: MessageId,
    update: MessageUpdate,
    change: MessageChange,
) -> Result<Message, MessageError> {
    let message = deps.messages.update_message(id, update).await?.ok_or(MessageError::MessageNotFound)?;
    let recipients = deps.conversations.member_ids(message.conversation_id).await?;
    let event = Event::MessageUpdated { change, message: message.clone() };
    publish(deps, Delivery { recipients, except_session: Some(actor.session_id), event }).await;
    Ok(message)
}

fn retried(message: Message, conversation: ConversationId) -> Result<Sent, MessageError> {
    // The key belongs to the sender across conversations; reusing it elsewhere is a client
    // bug, reported instead of silently returning a message from another conversation.
    if message.conversation_id != conversation {
        return Err(Invalid::new("client_msg_id_reused", "this client_msg_id was used for another conversation").into());
    }
    Ok(Sent { message, created: false })
}

/// Blocks and the peer's privacy settings, for writes into a direct conversation.
async fn check_may_write(deps: &Deps, conversation: ConversationId, actor: Actor) -> Result<(), MessageError> {
    match may_write(deps, conversation, actor.user_id).await? {
        Ok(()) => Ok(()),
        Err(DirectRefusal::Blocked) => Err(MessageError::Blocked),
        Err(DirectRefusal::NotAllowed) => Err(MessageError::NotAllowedToMessage),
    }
}

fn refusal(refusal: ChangeRefusal) -> MessageError {
    match refusal {
        ChangeRefusal::NotSender => MessageError::NotSender,
        ChangeRefusal::NotText => MessageError::NotEditable,
        ChangeRefusal::Recalled => MessageError::Recalled,
        ChangeRefusal::WindowClosed => MessageError::EditWindowClosed,
    }
}
