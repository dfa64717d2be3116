//! Friends, friend requests and blocks.

use crate::domain::account::PublicProfile;
use crate::domain::event::{Delivery, Event};
use crate::domain::ids::{FriendRequestId, UserId};
use crate::domain::push::PushEvent;
use crate::domain::rate_limit::RateLimitKey;
use crate::domain::social::{Block, FriendRequest, RequestStatus, parse_request_message};
use crate::ports::{PresenceStatus, SendRequestOutcome};

use super::access::{WhenUnavailable, publish, rate_check};
use super::errors::SocialError;
use super::{Actor, Deps};

/// A friend in the friend list: the profile, since when, and presence if they allow it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FriendView {
    /// The friend's public profile.
    pub profile: PublicProfile,
    /// When the two became friends.
    pub since: chrono::DateTime<chrono::Utc>,
    /// Absent when the friend does not share their presence.
    pub presence: Option<PresenceStatus>,
}

/// The outcome of a friend request, as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestResult {
    /// A new pending request.
    Sent(FriendRequest),
    /// The other user had asked first: you are friends now.
    BecameFriends(FriendRequest),
    /// The caller had already asked: the pending request, unchanged.
    AlreadyPending(FriendRequest),
}

/// Sends a friend request (with an optional note) and tells the other user; if they had
/// already asked, accepts theirs instead.
pub async fn send_request(
    deps: &Deps,
    actor: Actor,
    to: UserId,
    message: Option<&str>,
) -> Result<RequestResult, SocialError> {
    if to == actor.user_id {
        return Err(SocialError::CannotBefriendSelf);
    }
    let message = parse_request_message(message)?;
    let target = visible_user(deps, actor, to).await?;
    rate_check(
        deps,
        &RateLimitKey::friend_requests(actor.user_id),
        deps.limits.friend_requests,
        WhenUnavailable::Refuse,
    )
    .await?
    .map_err(|retry_after_ms| SocialError::RateLimited { retry_after_ms })?;
    let request = FriendRequest {
        id: FriendRequestId(deps.ids.new_id()),
        from_user: actor.user_id,
        to_user: to,
        message,
        status: RequestStatus::Pending,
        created_at: deps.clock.now(),
        answered_at: None,
    };
    match deps.social.send_friend_request(request).await? {
        SendRequestOutcome::Sent(request) => {
            let from = profile_of(deps, actor.user_id).await?;
            let event = Event::FriendRequest { request: request.clone(), from };
            publish(deps, Delivery { recipients: vec![to], except_session: None, only_session: None, event }).await;
            super::push::enqueue(deps, PushEvent::FriendRequest(request.id)).await;
            Ok(RequestResult::Sent(request))
        }
        SendRequestOutcome::AcceptedTheirs(request) => {
            announce_accepted(deps, &request, target.id).await?;
            Ok(RequestResult::BecameFriends(request))
        }
        SendRequestOutcome::AlreadyFriends => Err(SocialError::AlreadyFriends),
        SendRequestOutcome::Blocked => Err(SocialError::UserNotFound),
        SendRequestOutcome::AlreadyPending(request) => Ok(RequestResult::AlreadyPending(request)),
    }
}

/// Accepts or declines a request sent to the caller, or cancels one the caller sent.
pub async fn answer_request(
    deps: &Deps,
    actor: Actor,
    id: FriendRequestId,
    answer: RequestStatus,
) -> Result<FriendRequest, SocialError> {
    let request = deps.social.friend_request(id).await?.ok_or(SocialError::RequestNotFound)?;
    let allowed = match answer {
        RequestStatus::Accepted | RequestStatus::Declined => request.to_user == actor.user_id,
        RequestStatus::Cancelled => request.from_user == actor.user_id,
        RequestStatus::Pending => false,
    };
    if !allowed {
        // Requests of others, and answers that are not the caller's to give, look absent.
        return Err(SocialError::RequestNotFound);
    }
    let answered =
        deps.social.answer_friend_request(id, answer, deps.clock.now()).await?.ok_or(SocialError::RequestNotPending)?;
    match answer {
        RequestStatus::Accepted => announce_accepted(deps, &answered, answered.to_user).await?,
        RequestStatus::Cancelled => {
            let event = Event::FriendRequestCancelled { request: answered.clone() };
            publish(
                deps,
                Delivery { recipients: vec![answered.to_user], except_session: None, only_session: None, event },
            )
            .await;
        }
        // A decline is not announced: the sender's request simply stays unanswered to them.
        RequestStatus::Declined | RequestStatus::Pending => {}
    }
    Ok(answered)
}

/// Pending requests to the caller (`incoming`) or from them, newest first.
pub async fn pending_requests(deps: &Deps, actor: Actor, incoming: bool) -> Result<Vec<FriendRequest>, SocialError> {
    Ok(deps.social.pending_requests(actor.user_id, incoming).await?)
}

/// The caller's friends with their online status and last seen, as far as each allows.
pub async fn friends(deps: &Deps, actor: Actor) -> Result<Vec<FriendView>, SocialError> {
    let friendships = deps.social.friends(actor.user_id).await?;
    let ids: Vec<UserId> = friendships.iter().map(|f| f.friend).collect();
    let users = deps.users.users(&ids).await?;
    let statuses = deps.presence.status(&ids, deps.clock.now()).await?;
    let mut views = Vec::new();
    for friendship in friendships {
        let Some(user) = users.iter().find(|u| u.id == friendship.friend) else { continue };
        let visible = deps.presence_audience.may_see(actor.user_id, user.id).await?;
        let presence = statuses.iter().find(|(id, _)| *id == user.id).map(|(_, status)| *status).filter(|_| visible);
        views.push(FriendView { profile: user.public_profile(), since: friendship.since, presence });
    }
    views.sort_by(|a, b| a.profile.display_name.as_str().cmp(b.profile.display_name.as_str()));
    Ok(views)
}

/// Ends a friendship.
pub async fn unfriend(deps: &Deps, actor: Actor, friend: UserId) -> Result<(), SocialError> {
    if deps.social.unfriend(actor.user_id, friend).await? { Ok(()) } else { Err(SocialError::NotFriends) }
}

/// Blocks a user: from now on each is hidden from the other everywhere.
pub async fn block(deps: &Deps, actor: Actor, user: UserId) -> Result<(), SocialError> {
    if user == actor.user_id {
        return Err(SocialError::CannotBlockSelf);
    }
    // Blocking someone who already blocked you is allowed (and keeps both blocks).
    deps.users.user(user).await?.ok_or(SocialError::UserNotFound)?;
    deps.social.block(actor.user_id, user, deps.clock.now()).await?;
    Ok(())
}

/// Lifts a block the caller set.
pub async fn unblock(deps: &Deps, actor: Actor, user: UserId) -> Result<(), SocialError> {
    if deps.social.unblock(actor.user_id, user).await? { Ok(()) } else { Err(SocialError::UserNotFound) }
}

/// The users the caller blocked.
pub async fn blocks(deps: &Deps, actor: Actor) -> Result<Vec<Block>, SocialError> {
    Ok(deps.social.blocks(actor.user_id).await?)
}

/// A user the caller may see: exists, and no block either way.
async fn visible_user(deps: &Deps, actor: Actor, user: UserId) -> Result<crate::domain::account::User, SocialError> {
    if deps.social.blocked_between(actor.user_id, user).await? {
        return Err(SocialError::UserNotFound);
    }
    deps.users.user(user).await?.ok_or(SocialError::UserNotFound)
}

async fn profile_of(deps: &Deps, user: UserId) -> Result<PublicProfile, SocialError> {
    Ok(deps.users.user(user).await?.ok_or(SocialError::UserNotFound)?.public_profile())
}

/// Tells both sides of an accepted request, each with the other's profile.
async fn announce_accepted(deps: &Deps, request: &FriendRequest, _accepted_by: UserId) -> Result<(), SocialError> {
    for (recipient, friend) in [(request.from_user, request.to_user), (request.to_user, request.from_user)] {
        let event = Event::FriendAccepted { request: request.clone(), friend: profile_of(deps, friend).await? };
        publish(deps, Delivery { recipients: vec![recipient], except_session: None, only_session: None, event }).await;
    }
    // The one who asked hears by push too (the one who accepted is in the app).
    super::push::enqueue(deps, PushEvent::FriendAccepted(request.id)).await;
    Ok(())
}
