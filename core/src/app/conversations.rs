//! Conversations: create (direct, group), list, details, rename, members, mute and pin.

use std::collections::HashSet;

use crate::domain::Timestamp;
use crate::domain::conversation::{
    Conversation, ConversationDetails, ConversationKind, ConversationPage, MAX_GROUP_MEMBERS, MAX_PINNED, Member, Mute,
    Role, may_add_members, may_edit_group, may_remove_member, parse_title, successor_owner,
};
use crate::domain::event::{ConversationChange, Delivery, Event};
use crate::domain::ids::{ConversationId, MediaId, MessageId, UserId};
use crate::domain::message::{NewMessage, SystemEvent};
use crate::domain::page::{PageBounds, PageLimit};
use crate::domain::social::audience_allows;
use crate::ports::{DirectOutcome, ListQuery, MembershipChange, MembershipOutcome, PinOutcome};

use super::access::{membership, publish};
use super::errors::ConversationError;
use super::media::AvatarRefusal;
use super::{Actor, Deps};

/// The page sizes of the conversation list: 50 unless asked, at most 100.
pub const CONVERSATION_PAGE: PageBounds = PageBounds { default: 50, max: 100 };

/// Opens the direct conversation with `peer`, creating it on first use. Returns it and
/// whether it was created now.
pub async fn open_direct(
    deps: &Deps,
    actor: Actor,
    peer: UserId,
) -> Result<(ConversationDetails, bool), ConversationError> {
    if peer == actor.user_id {
        return Err(ConversationError::CannotChatWithSelf);
    }
    if deps.social.blocked_between(actor.user_id, peer).await? {
        return Err(ConversationError::UserNotFound);
    }
    let target = deps.users.user(peer).await?.ok_or(ConversationError::UserNotFound)?;
    // Opening a conversation one could never write in would only notify the peer.
    let friends = deps.social.are_friends(actor.user_id, peer).await?;
    if !audience_allows(target.settings.who_can_message, friends) {
        return Err(ConversationError::NotAllowedToMessage);
    }
    let now = deps.clock.now();
    let conversation = new_conversation(deps, actor, ConversationKind::Direct, None, 2, now);
    let members = [
        Member::new(conversation.id, actor.user_id, Role::Member, now),
        Member::new(conversation.id, peer, Role::Member, now),
    ];
    let (conversation, created) = match deps.conversations.find_or_create_direct(conversation, members).await? {
        DirectOutcome::Created(conversation) => (conversation, true),
        DirectOutcome::Existing(conversation) => (conversation, false),
    };
    if created {
        let event =
            Event::ConversationUpdated { change: ConversationChange::Created, conversation: conversation.clone() };
        publish(
            deps,
            Delivery { recipients: vec![actor.user_id, peer], except_session: None, only_session: None, event },
        )
        .await;
    }
    Ok((details_of(deps, actor, conversation.id).await?, created))
}

/// Creates a group with the caller as owner and the given members, announced by a SYSTEM
/// message; everyone added must allow being added by the caller.
pub async fn create_group(
    deps: &Deps,
    actor: Actor,
    title: &str,
    member_ids: &[UserId],
) -> Result<ConversationDetails, ConversationError> {
    let title = parse_title(title)?;
    let invitees = distinct_others(member_ids, actor.user_id);
    if invitees.len() + 1 > MAX_GROUP_MEMBERS {
        return Err(ConversationError::GroupFull);
    }
    check_invitees(deps, actor, &invitees).await?;
    let now = deps.clock.now();
    let count = u32::try_from(invitees.len() + 1).map_err(|_| ConversationError::GroupFull)?;
    let conversation = new_conversation(deps, actor, ConversationKind::Group, Some(title.clone()), count, now);
    let mut members = vec![Member::new(conversation.id, actor.user_id, Role::Owner, now)];
    members.extend(invitees.iter().map(|user| Member::new(conversation.id, *user, Role::Member, now)));
    let event = SystemEvent::GroupCreated { actor: actor.user_id, title };
    let announcement = NewMessage::system(MessageId(deps.ids.new_id()), conversation.id, actor.user_id, event, now);
    let (conversation, message) = deps.conversations.create_group(conversation, members, announcement).await?;
    let recipients: Vec<UserId> = std::iter::once(actor.user_id).chain(invitees).collect();
    let created =
        Event::ConversationUpdated { change: ConversationChange::Created, conversation: conversation.clone() };
    publish(
        deps,
        Delivery { recipients: recipients.clone(), except_session: None, only_session: None, event: created },
    )
    .await;
    publish(
        deps,
        Delivery { recipients, except_session: None, only_session: None, event: Event::MessageNew { message } },
    )
    .await;
    details_of(deps, actor, conversation.id).await
}

/// The caller's conversations, most recent activity first; pinned ones lead the first page.
/// `limit` outside `CONVERSATION_PAGE` is refused.
pub async fn list(
    deps: &Deps,
    actor: Actor,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<ConversationPage, ConversationError> {
    let limit = PageLimit::parse(limit, CONVERSATION_PAGE)?.get();
    let before = cursor.map(parse_cursor).transpose()?;
    let mut conversations = Vec::new();
    if before.is_none() {
        let pinned = ListQuery { pinned: true, before: None, limit: MAX_PINNED };
        conversations = deps.conversations.list_conversations(actor.user_id, pinned).await?;
    }
    let query = ListQuery { pinned: false, before, limit };
    let page = deps.conversations.list_conversations(actor.user_id, query).await?;
    let next_cursor = (page.len() == limit)
        .then(|| page.last().map(|s| format_cursor(s.conversation.last_activity_at, s.conversation.id)))
        .flatten();
    conversations.extend(page);
    fill_peers(deps, actor, &mut conversations).await?;
    Ok(ConversationPage { conversations, next_cursor })
}

/// A conversation as the caller (a member) sees it: its members and their own state.
pub async fn details(deps: &Deps, actor: Actor, id: ConversationId) -> Result<ConversationDetails, ConversationError> {
    details_of(deps, actor, id).await
}

/// Renames a group (admins and the owner), announced by a SYSTEM message.
pub async fn rename(
    deps: &Deps,
    actor: Actor,
    id: ConversationId,
    title: &str,
) -> Result<ConversationDetails, ConversationError> {
    let title = parse_title(title)?;
    let me = require_group_member(deps, actor, id).await?;
    if !may_edit_group(me.role) {
        return Err(ConversationError::NotPermitted);
    }
    let change = MembershipChange { title: Some(title.clone()), ..no_change(id) };
    let event = SystemEvent::Renamed { actor: actor.user_id, title };
    apply(deps, actor, change, event, ConversationChange::Renamed, Vec::new()).await?;
    details_of(deps, actor, id).await
}

/// Sets (or with `None`, removes) a group's photo (admins and the owner): an image of the
/// caller's that finished uploading. The SYSTEM message announcing it carries the photo as its
/// attachment, so every member may download it and cleanup keeps it.
pub async fn set_avatar(
    deps: &Deps,
    actor: Actor,
    id: ConversationId,
    avatar: Option<MediaId>,
) -> Result<ConversationDetails, ConversationError> {
    let me = require_group_member(deps, actor, id).await?;
    if !may_edit_group(me.role) {
        return Err(ConversationError::NotPermitted);
    }
    if let Some(media) = avatar {
        super::media::check_avatar(deps, actor.user_id, media).await.map_err(|refusal| match refusal {
            AvatarRefusal::NotFound => ConversationError::AvatarNotFound,
            AvatarRefusal::NotAnImage => ConversationError::InvalidAvatar,
            AvatarRefusal::Port(error) => error.into(),
        })?;
    }
    let change = MembershipChange { avatar_media_id: Some(avatar.map(|media| media.0)), ..no_change(id) };
    let event = SystemEvent::AvatarChanged { actor: actor.user_id, avatar_media_id: avatar };
    let now = deps.clock.now();
    let mut announcement = NewMessage::system(MessageId(deps.ids.new_id()), id, actor.user_id, event, now);
    announcement.media_ids = avatar.into_iter().collect();
    announce(deps, change, announcement, ConversationChange::AvatarChanged, Vec::new()).await?;
    details_of(deps, actor, id).await
}

/// Adds members to a group, announced by a SYSTEM message; each must allow being added.
pub async fn add_members(
    deps: &Deps,
    actor: Actor,
    id: ConversationId,
    user_ids: &[UserId],
) -> Result<ConversationDetails, ConversationError> {
    let me = require_group_member(deps, actor, id).await?;
    if !may_add_members(me.role) {
        return Err(ConversationError::NotPermitted);
    }
    let current: HashSet<UserId> = deps.conversations.member_ids(id).await?.into_iter().collect();
    let invitees: Vec<UserId> =
        distinct_others(user_ids, actor.user_id).into_iter().filter(|u| !current.contains(u)).collect();
    if invitees.is_empty() {
        return Err(ConversationError::AlreadyMember);
    }
    check_invitees(deps, actor, &invitees).await?;
    let now = deps.clock.now();
    let add = invitees.iter().map(|user| Member::new(id, *user, Role::Member, now)).collect();
    let change = MembershipChange { add, ..no_change(id) };
    let event = SystemEvent::MembersAdded { actor: actor.user_id, user_ids: invitees };
    apply(deps, actor, change, event, ConversationChange::MembersAdded, Vec::new()).await?;
    details_of(deps, actor, id).await
}

/// Removes `user` from a group, or, when `user` is the caller, leaves it (an owner who
/// leaves hands ownership on). Returns the group as the caller now sees it, if still a member.
pub async fn remove_member(
    deps: &Deps,
    actor: Actor,
    id: ConversationId,
    user: UserId,
) -> Result<Option<ConversationDetails>, ConversationError> {
    let me = require_group_member(deps, actor, id).await?;
    if user == actor.user_id {
        let others: Vec<Member> =
            deps.conversations.members(id).await?.into_iter().filter(|m| m.user_id != user).collect();
        let new_owner = (me.role == Role::Owner).then(|| successor_owner(&others)).flatten();
        let change = MembershipChange { remove: vec![user], new_owner, ..no_change(id) };
        let event = SystemEvent::MemberLeft { user_id: user, new_owner };
        apply(deps, actor, change, event, ConversationChange::MemberLeft, vec![user]).await?;
        return Ok(None);
    }
    let target = deps.conversations.member(id, user).await?.ok_or(ConversationError::UserNotFound)?;
    if !may_remove_member(me.role, target.role) {
        return Err(ConversationError::NotPermitted);
    }
    let change = MembershipChange { remove: vec![user], ..no_change(id) };
    let event = SystemEvent::MemberRemoved { actor: actor.user_id, user_id: user };
    apply(deps, actor, change, event, ConversationChange::MemberRemoved, vec![user]).await?;
    Ok(Some(details_of(deps, actor, id).await?))
}

/// Mutes the conversation for the caller (forever or until a time), or unmutes it with
/// `None`. Only the caller's own state changes.
pub async fn set_mute(
    deps: &Deps,
    actor: Actor,
    id: ConversationId,
    mute: Option<Mute>,
) -> Result<ConversationDetails, ConversationError> {
    membership(deps, id, actor.user_id).await?.ok_or(ConversationError::ConversationNotFound)?;
    if let Some(Mute::Until(until)) = mute
        && until <= deps.clock.now()
    {
        return Err(crate::domain::error::Invalid::new("invalid_mute", "mute end must be in the future").into());
    }
    deps.conversations.set_mute(id, actor.user_id, mute).await?;
    details_of(deps, actor, id).await
}

/// Pins or unpins the conversation in the caller's list (at most `MAX_PINNED`).
pub async fn set_pinned(
    deps: &Deps,
    actor: Actor,
    id: ConversationId,
    pinned: bool,
) -> Result<ConversationDetails, ConversationError> {
    membership(deps, id, actor.user_id).await?.ok_or(ConversationError::ConversationNotFound)?;
    let pinned_at = pinned.then(|| deps.clock.now());
    match deps.conversations.set_pinned(id, actor.user_id, pinned_at, MAX_PINNED).await? {
        PinOutcome::Done => details_of(deps, actor, id).await,
        PinOutcome::TooManyPinned => Err(ConversationError::TooManyPinned),
    }
}

fn new_conversation(
    deps: &Deps,
    actor: Actor,
    kind: ConversationKind,
    title: Option<String>,
    member_count: u32,
    now: Timestamp,
) -> Conversation {
    Conversation {
        id: ConversationId(deps.ids.new_id()),
        kind,
        title,
        avatar_media_id: None,
        created_by: actor.user_id,
        created_at: now,
        last_seq: 0,
        last_activity_at: now,
        member_count,
        last_change_seq: 0,
    }
}

fn no_change(id: ConversationId) -> MembershipChange {
    MembershipChange {
        conversation_id: id,
        add: Vec::new(),
        remove: Vec::new(),
        new_owner: None,
        title: None,
        avatar_media_id: None,
        max_members: MAX_GROUP_MEMBERS,
    }
}

/// Applies a group change with its SYSTEM message, then tells the members (and those who
/// just left, who must drop the conversation).
async fn apply(
    deps: &Deps,
    actor: Actor,
    change: MembershipChange,
    event: SystemEvent,
    kind: ConversationChange,
    departed: Vec<UserId>,
) -> Result<(), ConversationError> {
    let now = deps.clock.now();
    let announcement =
        NewMessage::system(MessageId(deps.ids.new_id()), change.conversation_id, actor.user_id, event, now);
    announce(deps, change, announcement, kind, departed).await
}

/// Applies a group change with the given SYSTEM message (whose media, if any, it attaches),
/// then tells the members (and those who just left).
async fn announce(
    deps: &Deps,
    change: MembershipChange,
    announcement: NewMessage,
    kind: ConversationChange,
    departed: Vec<UserId>,
) -> Result<(), ConversationError> {
    let (conversation, message) = match deps.conversations.change_membership(change, announcement).await? {
        MembershipOutcome::Applied { conversation, announcement } => (conversation, announcement),
        MembershipOutcome::TooManyMembers => return Err(ConversationError::GroupFull),
        MembershipOutcome::NotFound => return Err(ConversationError::ConversationNotFound),
    };
    super::media::attach_to_message(deps, &message, message.created_at).await?;
    let message = super::media::with_attachments_one(deps, message).await?;
    let recipients = deps.conversations.member_ids(conversation.id).await?;
    let updated = Event::ConversationUpdated { change: kind, conversation: conversation.clone() };
    publish(
        deps,
        Delivery { recipients: recipients.clone(), except_session: None, only_session: None, event: updated },
    )
    .await;
    publish(
        deps,
        Delivery { recipients, except_session: None, only_session: None, event: Event::MessageNew { message } },
    )
    .await;
    if !departed.is_empty() {
        let removed = Event::ConversationUpdated { change: ConversationChange::Removed, conversation };
        publish(deps, Delivery { recipients: departed, except_session: None, only_session: None, event: removed })
            .await;
    }
    Ok(())
}

async fn require_group_member(deps: &Deps, actor: Actor, id: ConversationId) -> Result<Member, ConversationError> {
    let me = membership(deps, id, actor.user_id).await?.ok_or(ConversationError::ConversationNotFound)?;
    let conversation = deps.conversations.conversation(id).await?.ok_or(ConversationError::ConversationNotFound)?;
    if conversation.kind != ConversationKind::Group {
        return Err(ConversationError::NotAGroup);
    }
    Ok(me)
}

async fn details_of(deps: &Deps, actor: Actor, id: ConversationId) -> Result<ConversationDetails, ConversationError> {
    let membership = membership(deps, id, actor.user_id).await?.ok_or(ConversationError::ConversationNotFound)?;
    let conversation = deps.conversations.conversation(id).await?.ok_or(ConversationError::ConversationNotFound)?;
    let members = deps.conversations.members(id).await?;
    let ids: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
    let sharing: Vec<UserId> =
        deps.users.users(&ids).await?.into_iter().filter(|u| u.settings.send_read_receipts).map(|u| u.id).collect();
    let viewer_shares = sharing.contains(&actor.user_id);
    let members = members
        .iter()
        .map(|member| {
            let mut view = member.view();
            if member.user_id != actor.user_id && !(viewer_shares && sharing.contains(&member.user_id)) {
                view.read_seq = None;
            }
            view
        })
        .collect();
    Ok(ConversationDetails { conversation, members, membership })
}

/// Everyone the caller adds to a group must exist, must not be blocked either way (which
/// looks like "not found"), and must allow being added by the caller.
async fn check_invitees(deps: &Deps, actor: Actor, ids: &[UserId]) -> Result<(), ConversationError> {
    let found = deps.users.users(ids).await?;
    if found.len() != ids.len() {
        return Err(ConversationError::UserNotFound);
    }
    let hidden = deps.social.hidden_from(actor.user_id).await?;
    for invitee in &found {
        if hidden.contains(&invitee.id) {
            return Err(ConversationError::UserNotFound);
        }
        let friends = deps.social.are_friends(actor.user_id, invitee.id).await?;
        if !audience_allows(invitee.settings.who_can_add_to_groups, friends) {
            return Err(ConversationError::NotAllowedToAdd);
        }
    }
    Ok(())
}

async fn fill_peers(
    deps: &Deps,
    actor: Actor,
    summaries: &mut [crate::domain::conversation::ConversationSummary],
) -> Result<(), ConversationError> {
    let directs: Vec<ConversationId> = summaries
        .iter()
        .filter(|s| s.conversation.kind == ConversationKind::Direct)
        .map(|s| s.conversation.id)
        .collect();
    let others =
        if directs.is_empty() { Vec::new() } else { deps.conversations.other_members(actor.user_id, &directs).await? };
    let peer_of: Vec<Option<UserId>> = summaries
        .iter()
        .map(|summary| {
            let direct = summary.conversation.kind == ConversationKind::Direct;
            others.iter().find(|(id, _)| direct && *id == summary.conversation.id).map(|(_, peer)| *peer)
        })
        .collect();
    let wanted: Vec<UserId> = peer_of.iter().flatten().copied().collect();
    let users = deps.users.users(&wanted).await?;
    for (summary, peer) in summaries.iter_mut().zip(peer_of) {
        summary.peer = peer.and_then(|id| users.iter().find(|u| u.id == id)).map(|u| u.public_profile());
    }
    Ok(())
}

fn distinct_others(ids: &[UserId], me: UserId) -> Vec<UserId> {
    let mut seen = HashSet::new();
    ids.iter().copied().filter(|id| *id != me && seen.insert(*id)).collect()
}

fn format_cursor(at: Timestamp, id: ConversationId) -> String {
    format!("{}_{}", at.timestamp_micros(), id)
}

fn parse_cursor(raw: &str) -> Result<(Timestamp, ConversationId), ConversationError> {
    let invalid = || crate::domain::error::Invalid::new("invalid_cursor", "cursor is not one this server gave out");
    let (micros, id) = raw.split_once('_').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let at = Timestamp::from_timestamp_micros(micros).ok_or_else(invalid)?;
    let id = id.parse().map_err(|_| invalid())?;
    Ok((at, id))
}
