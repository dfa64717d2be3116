//! Messages: send (idempotent, rate-limited), history, edit, recall, delete for me, react.

use serde::Deserialize;

use crate::domain::error::Invalid;
use crate::domain::event::{Delivery, Event, MessageChange};
use crate::domain::ids::{ClientMsgId, ConversationId, MediaId, MessageId};
use crate::domain::message::{
    ChangeRefusal, Message, MessageKind, NewMessage, SenderChange, check_sender_change, parse_body, parse_caption,
    parse_emoji,
};
use crate::domain::page::{PageBounds, PageLimit};
use crate::domain::push::PushEvent;
use crate::domain::rate_limit::RateLimitKey;
use crate::ports::{HistoryPage, InsertOutcome, MessageUpdate, WriteContext};

use super::access::{DirectRefusal, WhenUnavailable, direct_refusal, membership, publish, rate_check};
use super::errors::MessageError;
use super::media::{attach_to_message, checked_media_for_message, with_attachments, with_attachments_one};
use super::{Actor, Deps};

/// The page sizes of history: 50 unless asked, at most 200.
pub const HISTORY_PAGE: PageBounds = PageBounds { default: 50, max: 200 };

/// A new message, as a client sends it: text, or media with an optional caption.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessage {
    /// The client's idempotency key (a UUID it made); retries must reuse it.
    pub client_msg_id: ClientMsgId,
    /// `TEXT` (the default without media), or `IMAGE` (1-10), `VIDEO`, `AUDIO` or `FILE` (one
    /// each); with media and no kind, the media's kind decides.
    #[serde(default)]
    pub kind: Option<MessageKind>,
    /// The text of a TEXT message (required), or the caption of a media message (optional).
    pub body: Option<String>,
    /// The caller's own uploaded media, in display order (`attachments` is accepted too).
    #[serde(default, alias = "attachments")]
    pub media_ids: Vec<MediaId>,
    /// The message this one answers, in the same conversation.
    pub reply_to: Option<MessageId>,
}

impl SendMessage {
    /// A text message with this idempotency key, answering nothing.
    pub fn text(client_msg_id: ClientMsgId, body: impl Into<String>) -> SendMessage {
        SendMessage { client_msg_id, kind: None, body: Some(body.into()), media_ids: Vec::new(), reply_to: None }
    }
}

/// The stored message, and whether this call stored it (`false`: a retry of an earlier send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The message as stored.
    pub message: Message,
    /// Whether this call stored it.
    pub created: bool,
}

/// Whom a deletion hides a message from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeleteScope {
    /// Hide it from my own history only.
    Me,
    /// Recall it for everyone ("thu hồi"): body removed, a tombstone stays.
    Everyone,
}

/// Sends a text message to a conversation the caller belongs to and publishes it to every
/// member. Idempotent on `client_msg_id`: a retry returns the stored message.
pub async fn send(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    command: SendMessage,
) -> Result<Sent, MessageError> {
    let context = deps
        .conversations
        .write_context(conversation, actor.user_id)
        .await?
        .ok_or(MessageError::ConversationNotFound)?;
    // A send makes no idempotency lookup of its own: a retry that gets through is settled by
    // the store (`Existing`). A retry that something would refuse now (a rate limit, a
    // block since) must still get its original back, so every refusal first looks for one.
    let (kind, body) = match admit(deps, actor, conversation, &context, &command).await {
        Ok(admitted) => admitted,
        Err(refused) => return earlier_send_or(deps, actor, conversation, command.client_msg_id, refused).await,
    };
    let new = NewMessage {
        id: MessageId(deps.ids.new_id()),
        conversation_id: conversation,
        sender_id: actor.user_id,
        kind,
        body,
        reply_to: command.reply_to,
        client_msg_id: Some(command.client_msg_id),
        system: None,
        media_ids: command.media_ids,
        created_at: deps.clock.now(),
    };
    match deps.messages.insert_message(new).await? {
        InsertOutcome::Existing(message) => {
            attach_to_message(deps, &message, deps.clock.now()).await?;
            retried(with_attachments_one(deps, message).await?, conversation)
        }
        InsertOutcome::Inserted { message, members } => {
            // Attached before anyone hears of the message, so its members may fetch the media
            // as soon as they see it. A failure here fails the send; the client's retry (same
            // client_msg_id) finds the message stored and attaches again.
            attach_to_message(deps, &message, message.created_at).await?;
            let message = with_attachments_one(deps, message).await?;
            // The message is stored: from here on nothing may turn the send into an error.
            let event = Event::MessageNew { message: message.clone() };
            publish(
                deps,
                Delivery { recipients: members, except_session: Some(actor.session_id), only_session: None, event },
            )
            .await;
            super::push::enqueue(deps, PushEvent::Message(message.id)).await;
            Ok(Sent { message, created: true })
        }
    }
}

/// Everything that may refuse a new message, in order; the kind and body it will store.
async fn admit(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    context: &WriteContext,
    command: &SendMessage,
) -> Result<(MessageKind, Option<String>), MessageError> {
    direct_refusal(context).map_or(Ok(()), |refusal| Err(write_refusal(refusal)))?;
    let kind = checked_media_for_message(deps, actor.user_id, command.kind, &command.media_ids).await?;
    let body = match kind {
        MessageKind::Text => Some(parse_body(command.body.as_deref().unwrap_or(""))?),
        _ => parse_caption(command.body.as_deref())?,
    };
    if let Some(reply_to) = command.reply_to {
        let original = deps.messages.message(reply_to).await?;
        if original.is_none_or(|m| m.conversation_id != conversation) {
            return Err(MessageError::ReplyNotFound);
        }
    }
    rate_check(deps, &RateLimitKey::chat(actor.user_id), deps.limits.chat, WhenUnavailable::Allow)
        .await?
        .map_err(|retry_after_ms| MessageError::RateLimited { retry_after_ms })?;
    Ok((kind, body))
}

/// The original of a retried send, or else the refusal.
async fn earlier_send_or(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    client_msg_id: ClientMsgId,
    refused: MessageError,
) -> Result<Sent, MessageError> {
    match deps.messages.message_by_client_id(actor.user_id, client_msg_id).await? {
        Some(original) => retried(with_attachments_one(deps, original).await?, conversation),
        None => Err(refused),
    }
}

/// A page of history, oldest first. `before_seq` / `after_seq` page backwards / forwards;
/// neither gives the newest messages. `limit` outside `HISTORY_PAGE` is refused.
pub async fn history(
    deps: &Deps,
    actor: Actor,
    conversation: ConversationId,
    before_seq: Option<u64>,
    after_seq: Option<u64>,
    limit: Option<usize>,
) -> Result<Vec<Message>, MessageError> {
    let limit = PageLimit::parse(limit, HISTORY_PAGE)?.get();
    membership(deps, conversation, actor.user_id).await?.ok_or(MessageError::ConversationNotFound)?;
    let page = match (before_seq, after_seq) {
        (Some(_), Some(_)) => {
            return Err(Invalid::new("invalid_range", "give before_seq or after_seq, not both").into());
        }
        (Some(seq), None) => HistoryPage::Before { seq, limit },
        (None, Some(seq)) => HistoryPage::After { seq, limit },
        (None, None) => HistoryPage::Latest { limit },
    };
    let messages = deps.messages.history(conversation, actor.user_id, page).await?;
    Ok(with_attachments(deps, messages).await?)
}

/// Replaces the text of the caller's own message (within 24 hours) and tells the members.
pub async fn edit(deps: &Deps, actor: Actor, id: MessageId, body: &str) -> Result<Message, MessageError> {
    let (message, context) = writable_message(deps, actor, id).await?;
    let body = parse_body(body)?;
    check_sender_change(&message, actor.user_id, SenderChange::Edit, deps.clock.now()).map_err(refusal)?;
    direct_refusal(&context).map_or(Ok(()), |refusal| Err(write_refusal(refusal)))?;
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
            check_sender_change(&message, actor.user_id, SenderChange::Recall, deps.clock.now()).map_err(refusal)?;
            let update = MessageUpdate::Recall { at: deps.clock.now() };
            let recalled = update_and_announce(deps, actor, id, update, MessageChange::Recalled).await?;
            // A recalled photo is gone for the members: its attachment no longer grants them
            // the download (the owner keeps the media).
            deps.media.detach_message(&message.media_ids, id).await?;
            Ok(Some(recalled))
        }
    }
}

/// Sets (`Some`) or removes (`None`) the caller's reaction: one per user per message.
pub async fn react(deps: &Deps, actor: Actor, id: MessageId, emoji: Option<&str>) -> Result<Message, MessageError> {
    let (message, context) = writable_message(deps, actor, id).await?;
    if message.recalled_at.is_some() {
        return Err(MessageError::Recalled);
    }
    direct_refusal(&context).map_or(Ok(()), |refusal| Err(write_refusal(refusal)))?;
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

/// A message the caller may see, with what deciding on a change to it needs.
async fn writable_message(deps: &Deps, actor: Actor, id: MessageId) -> Result<(Message, WriteContext), MessageError> {
    let message = deps.messages.message(id).await?.ok_or(MessageError::MessageNotFound)?;
    let context = deps
        .conversations
        .write_context(message.conversation_id, actor.user_id)
        .await?
        .ok_or(MessageError::MessageNotFound)?;
    Ok((message, context))
}

async fn update_and_announce(
    deps: &Deps,
    actor: Actor,
    id: MessageId,
    update: MessageUpdate,
    change: MessageChange,
) -> Result<Message, MessageError> {
    let message = deps.messages.update_message(id, update).await?.ok_or(MessageError::MessageNotFound)?;
    let message = with_attachments_one(deps, message).await?;
    let recipients = deps.conversations.member_ids(message.conversation_id).await?;
    let event = Event::MessageUpdated { change, message: message.clone() };
    publish(deps, Delivery { recipients, except_session: Some(actor.session_id), only_session: None, event }).await;
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

/// Blocks and the peer's privacy settings refuse writes into a direct conversation so.
fn write_refusal(refusal: DirectRefusal) -> MessageError {
    match refusal {
        DirectRefusal::Blocked => MessageError::Blocked,
        DirectRefusal::NotAllowed => MessageError::NotAllowedToMessage,
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
