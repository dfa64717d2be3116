//! Who a push event notifies, on which devices, saying what. Read when the job runs, not
//! when the event happened, so what changed meanwhile counts: a recalled message notifies
//! no one, a conversation muted or read since is skipped, a user who came online gets it in
//! the app instead.

use std::collections::HashMap;

use crate::domain::Timestamp;
use crate::domain::account::User;
use crate::domain::call::CallMedia;
use crate::domain::error::PortError;
use crate::domain::ids::{CallId, DeviceId, FriendRequestId, MediaId, MessageId, UserId};
use crate::domain::media::BlobKey;
use crate::domain::notification::{
    BADGE_CAP, IncomingCall, MESSAGE_TTL, Reader, call_notification, friend_notification, message_notification,
    notifies,
};
use crate::domain::push::{Device, PushEvent, PushNotification};
use crate::domain::social::RequestStatus;
use crate::ports::DownloadAs;

use super::super::Deps;
use super::super::signaling::is_ringing;

/// One notification to one device.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// The device it goes to.
    pub device: DeviceId,
    /// What it says, in the device's terms.
    pub notification: PushNotification,
}

/// What an event notifies: the notifications, and when the event happened (the start of the
/// latency a user sees).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// One per device to notify.
    pub notifications: Vec<Planned>,
    /// When the message was sent or the request made or answered.
    pub occurred_at: Option<Timestamp>,
}

/// The variant of an avatar a notification shows.
const AVATAR_VARIANT: &str = "thumb_320";

/// The notifications of `event`.
pub async fn plan(deps: &Deps, event: PushEvent) -> Result<Plan, PortError> {
    match event {
        PushEvent::Message(id) => plan_message(deps, id).await,
        PushEvent::FriendRequest(id) => plan_friend(deps, id, false).await,
        PushEvent::FriendAccepted(id) => plan_friend(deps, id, true).await,
        PushEvent::IncomingCall(id) => plan_call(deps, id).await,
    }
}

/// An incoming call to the callee's devices, while it still rings.
async fn plan_call(deps: &Deps, id: CallId) -> Result<Plan, PortError> {
    let Some(stored) = deps.calls.call(id).await? else { return Ok(Plan::default()) };
    let call = stored.call;
    if !is_ringing(&call) {
        return Ok(Plan::default());
    }
    let caller = call.caller().user_id;
    let Some(caller_user) = deps.users.user(caller).await? else { return Ok(Plan::default()) };
    let now = deps.clock.now();
    let incoming = IncomingCall {
        call_id: id.to_string(),
        caller,
        caller_name: caller_user.display_name.as_str().to_owned(),
        conversation_id: call.conversation_id(),
        video: call.media() == CallMedia::Video,
    };
    // A ringing phone shows no badge: the incoming-call push carries none, so none is counted.
    let readers = readers(deps, &[call.callee()], caller, now, Badges::Skip).await?;
    let notifications = per_device(&readers, |reader| call_notification(reader.device, &incoming));
    Ok(Plan { notifications, occurred_at: Some(call.started_at()) })
}

async fn plan_message(deps: &Deps, id: MessageId) -> Result<Plan, PortError> {
    let Some(message) = deps.messages.message(id).await? else { return Ok(Plan::default()) };
    if !notifies(&message) {
        return Ok(Plan::default());
    }
    let Some(conversation) = deps.conversations.conversation(message.conversation_id).await? else {
        return Ok(Plan::default());
    };
    let now = deps.clock.now();
    // Members who have muted the conversation, or read past the message already (on another
    // device, or the sender's own), hear nothing.
    let candidates: Vec<UserId> = deps
        .conversations
        .members(conversation.id)
        .await?
        .into_iter()
        .filter(|m| m.user_id != message.sender_id)
        .filter(|m| !m.mute.is_some_and(|mute| mute.is_active(now)))
        .filter(|m| m.read_seq < message.seq)
        .map(|m| m.user_id)
        .collect();
    let Some(sender) = deps.users.user(message.sender_id).await? else { return Ok(Plan::default()) };
    let readers = readers(deps, &candidates, sender.id, now, Badges::Count).await?;
    if readers.is_empty() {
        return Ok(Plan { notifications: Vec::new(), occurred_at: Some(message.created_at) });
    }
    let avatar = avatar_url(deps, &sender, now).await;
    let notifications =
        per_device(&readers, |reader| message_notification(reader, &message, &conversation, &sender, avatar.clone()));
    Ok(Plan { notifications, occurred_at: Some(message.created_at) })
}

/// A request to its recipient while pending, or its acceptance to its sender.
async fn plan_friend(deps: &Deps, id: FriendRequestId, accepted: bool) -> Result<Plan, PortError> {
    let Some(request) = deps.social.friend_request(id).await? else { return Ok(Plan::default()) };
    let (status, actor, reader) = if accepted {
        (RequestStatus::Accepted, request.to_user, request.from_user)
    } else {
        (RequestStatus::Pending, request.from_user, request.to_user)
    };
    // A request cancelled or declined before the job ran, or an acceptance undone, says nothing.
    if request.status != status {
        return Ok(Plan::default());
    }
    let occurred_at = Some(request.answered_at.unwrap_or(request.created_at));
    let Some(other) = deps.users.user(actor).await? else { return Ok(Plan::default()) };
    let now = deps.clock.now();
    let readers = readers(deps, &[reader], actor, now, Badges::Count).await?;
    let avatar = if readers.is_empty() { None } else { avatar_url(deps, &other, now).await };
    let notifications =
        per_device(&readers, |reader| friend_notification(reader, accepted, request.id, &other, avatar.clone()));
    Ok(Plan { notifications, occurred_at })
}

/// One notification per device of each recipient, as `notify` words it for that device.
fn per_device(recipients: &[Recipient], notify: impl Fn(Reader<'_>) -> PushNotification) -> Vec<Planned> {
    recipients
        .iter()
        .flat_map(|recipient| {
            recipient.devices.iter().map(|device| Planned {
                device: device.id,
                notification: notify(Reader { user: &recipient.user, device, badge: recipient.badge }),
            })
        })
        .collect()
}

/// A user to notify, with their devices and badge.
struct Recipient {
    user: User,
    devices: Vec<Device>,
    badge: u64,
}

/// Whether the notifications carry the app icon's badge (so it must be counted).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Badges {
    Count,
    Skip,
}

/// Of `candidates`, those to notify of something `actor` did: not hidden from each other by
/// a block, with no live connection on any node (an app in use shows it itself), with
/// notifications on, and with at least one device.
async fn readers(
    deps: &Deps,
    candidates: &[UserId],
    actor: UserId,
    now: Timestamp,
    badges: Badges,
) -> Result<Vec<Recipient>, PortError> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let hidden = deps.social.hidden_from(actor).await?;
    let visible: Vec<UserId> = candidates.iter().copied().filter(|user| !hidden.contains(user)).collect();
    if visible.is_empty() {
        return Ok(Vec::new());
    }
    let offline: Vec<UserId> = deps
        .presence
        .status(&visible, now)
        .await?
        .into_iter()
        .filter(|(_, status)| !status.online)
        .map(|(user, _)| user)
        .collect();
    if offline.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<User> =
        deps.users.users(&offline).await?.into_iter().filter(|user| user.settings.notifications_enabled).collect();
    let ids: Vec<UserId> = users.iter().map(|user| user.id).collect();
    let mut devices: HashMap<UserId, Vec<Device>> = HashMap::new();
    for device in deps.devices.devices_of_users(&ids).await? {
        devices.entry(device.user_id).or_default().push(device);
    }
    // Badges only for the users with a device, all in one read (a group message badges
    // every offline member).
    let with_devices: Vec<UserId> = users.iter().map(|user| user.id).filter(|id| devices.contains_key(id)).collect();
    if with_devices.is_empty() {
        return Ok(Vec::new());
    }
    let badges: HashMap<UserId, u64> = match badges {
        Badges::Count => deps.conversations.unread_totals(&with_devices, now, BADGE_CAP).await?.into_iter().collect(),
        Badges::Skip => HashMap::new(),
    };
    Ok(users
        .into_iter()
        .filter_map(|user| {
            let devices = devices.remove(&user.id)?;
            let badge = badges.get(&user.id).copied().unwrap_or(0);
            Some(Recipient { user, devices, badge })
        })
        .collect())
}

/// A signed link to the user's avatar thumbnail, valid as long as the notification may be
/// shown; `None` without an avatar, or when it cannot be signed (the notification goes
/// without a picture rather than not at all).
async fn avatar_url(deps: &Deps, user: &User, now: Timestamp) -> Option<String> {
    let id = MediaId(user.avatar_media_id?);
    let media = match deps.media.media(id).await {
        Ok(media) => media?,
        Err(error) => {
            tracing::debug!(%error, "avatar not read for a notification");
            return None;
        }
    };
    let variant = media.variants.iter().find(|variant| variant.name == AVATAR_VARIANT)?;
    let download =
        DownloadAs { content_type: variant.content_type.clone(), filename: "avatar.jpg".to_owned(), attachment: false };
    let ttl = crate::domain::Duration::from_std(MESSAGE_TTL).ok()?;
    match deps.blobs.presign_get(&BlobKey::variant(id, AVATAR_VARIANT), &download, now, ttl) {
        Ok(signed) => Some(signed.url),
        Err(error) => {
            tracing::debug!(%error, "avatar not signed for a notification");
            None
        }
    }
}
