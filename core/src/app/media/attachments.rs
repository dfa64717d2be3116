//! Media in messages: which media a message may carry, recording the attachment, and filling
//! in each message's `attachments` as the media are now.

use std::collections::HashMap;

use crate::domain::Timestamp;
use crate::domain::error::{Invalid, PortError};
use crate::domain::ids::{MediaId, UserId};
use crate::domain::media::{Attachment, MediaKind, MediaStatus};
use crate::domain::message::{Message, MessageKind};

use super::super::Deps;
use super::super::errors::MessageError;

/// Checks the media of a new message: its kind takes media (IMAGE 1-10, VIDEO, AUDIO and FILE
/// one each) of that kind, each the sender's own, uploaded, not failed, none twice. A TEXT
/// message takes none. Returns the kind the message is stored with (inferred from the
/// media when the client gave none).
pub(crate) async fn checked_media_for_message(
    deps: &Deps,
    sender: UserId,
    kind: Option<MessageKind>,
    media_ids: &[MediaId],
) -> Result<MessageKind, MessageError> {
    if media_ids.is_empty() {
        return match kind {
            None | Some(MessageKind::Text) => Ok(MessageKind::Text),
            Some(_) => Err(Invalid::new("media_required", "a media message needs media_ids").into()),
        };
    }
    let found = deps.media.media_batch(media_ids).await?;
    let by_id: HashMap<MediaId, _> = found.into_iter().map(|media| (media.id, media)).collect();
    let mut media = Vec::with_capacity(media_ids.len());
    for id in media_ids {
        let item = by_id.get(id).filter(|item| item.owner_id == sender).ok_or(MessageError::MediaNotFound)?;
        media.push(item);
    }
    let kind = match kind {
        Some(kind) => kind,
        None => MessageKind::ALL_MEDIA
            .into_iter()
            .find(|kind| kind.media().is_some_and(|(media_kind, _)| media_kind == media[0].kind))
            .unwrap_or(MessageKind::File),
    };
    let Some((media_kind, most)) = kind.media() else {
        return Err(Invalid::new("media_not_allowed", "only IMAGE, VIDEO, AUDIO and FILE messages carry media").into());
    };
    if media_ids.len() > most {
        return Err(Invalid::new("too_many_media", format!("this kind of message carries at most {most}")).into());
    }
    let distinct: std::collections::HashSet<_> = media_ids.iter().collect();
    if distinct.len() != media_ids.len() {
        return Err(Invalid::new("duplicate_media", "a media item appears twice").into());
    }
    for item in media {
        if item.kind != media_kind {
            return Err(MessageError::MediaKindMismatch);
        }
        match item.status {
            MediaStatus::Pending => return Err(MessageError::MediaNotUploaded),
            MediaStatus::Failed => return Err(MessageError::MediaFailed),
            MediaStatus::Uploaded | MediaStatus::Processing | MediaStatus::Ready => {}
        }
    }
    Ok(kind)
}

/// Records a stored message's media as attached to it (so its members may download them and
/// cleanup keeps them). Also called on a retried send, which repairs an attachment a crash
/// between the two writes left out.
pub(crate) async fn attach_to_message(deps: &Deps, message: &Message, at: Timestamp) -> Result<(), PortError> {
    if message.media_ids.is_empty() {
        return Ok(());
    }
    deps.media.attach(&message.media_ids, message.conversation_id, message.id, at).await
}

/// Fills in `attachments` of every message from its `media_ids`, as the media are now, with
/// one read for the whole page. Media gone since (cleaned up) are left out, and a recalled
/// message shows none.
pub async fn with_attachments(deps: &Deps, mut messages: Vec<Message>) -> Result<Vec<Message>, PortError> {
    let shown = |message: &Message| message.recalled_at.is_none();
    let ids: Vec<MediaId> =
        messages.iter().filter(|m| shown(m)).flat_map(|message| message.media_ids.iter().copied()).collect();
    if ids.is_empty() {
        return Ok(messages);
    }
    let found = deps.media.media_batch(&ids).await?;
    let by_id: HashMap<MediaId, Attachment> = found.iter().map(|media| (media.id, Attachment::from(media))).collect();
    for message in messages.iter_mut().filter(|m| m.recalled_at.is_none()) {
        message.attachments = message.media_ids.iter().filter_map(|id| by_id.get(id).cloned()).collect();
    }
    Ok(messages)
}

/// [`with_attachments`] for one message.
pub async fn with_attachments_one(deps: &Deps, message: Message) -> Result<Message, PortError> {
    let mut messages = with_attachments(deps, vec![message]).await?;
    messages.pop().ok_or_else(|| PortError::Internal("a message went missing while its media were read".into()))
}

/// Why a media item cannot be a profile or group photo.
#[derive(Debug)]
pub(crate) enum AvatarRefusal {
    /// Not the caller's, or no such media.
    NotFound,
    /// Not an image, or not (or no longer) servable: pending or failed.
    NotAnImage,
    /// The store failed.
    Port(PortError),
}

/// A photo is an image of the caller's own that finished uploading (and did not fail).
pub(crate) async fn check_avatar(deps: &Deps, owner: UserId, id: MediaId) -> Result<(), AvatarRefusal> {
    let media = deps.media.media(id).await.map_err(AvatarRefusal::Port)?;
    let media = media.filter(|media| media.owner_id == owner).ok_or(AvatarRefusal::NotFound)?;
    let usable = matches!(media.status, MediaStatus::Uploaded | MediaStatus::Processing | MediaStatus::Ready);
    if media.kind != MediaKind::Image || !usable {
        return Err(AvatarRefusal::NotAnImage);
    }
    Ok(())
}
