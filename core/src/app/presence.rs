//! Presence: connections (sockets) come and go, heartbeats keep them alive, and the people allowed to see
//! a user are told when they come online or go offline.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::account::Audience;
use crate::domain::error::PortError;
use crate::domain::event::{Delivery, Event};
use crate::domain::ids::{ConnectionId, UserId};
use crate::ports::{ConversationRepo, PresenceAudience, PresenceStatus};

use super::access::publish;
use super::errors::ConversationError;
use super::{Actor, Deps};

/// The most users one presence query may ask about.
pub const MAX_PRESENCE_QUERY: usize = 200;

/// A connection of `user` opened.
pub async fn connected(deps: &Deps, user: UserId, connection: ConnectionId) -> Result<(), PortError> {
    heartbeat(deps, user, connection).await
}

/// A heartbeat renewed the connection; announces the user if this brought them online.
pub async fn heartbeat(deps: &Deps, user: UserId, connection: ConnectionId) -> Result<(), PortError> {
    let now = deps.clock.now();
    let came_online = deps.presence.connection_alive(user, connection, now, deps.limits.presence_ttl).await?;
    if came_online {
        announce(deps, user, PresenceStatus { online: true, last_seen: None }).await?;
    }
    Ok(())
}

/// Heartbeats of many sockets, gathered by the gateway for a moment: one store call for all
/// (a node with 20,000 sockets gets ~650 heartbeats a second), then the users who came
/// online are announced.
pub async fn heartbeats(deps: &Deps, sockets: &[(UserId, ConnectionId)]) -> Result<(), PortError> {
    if sockets.is_empty() {
        return Ok(());
    }
    let now = deps.clock.now();
    let came_online = deps.presence.connections_alive(sockets, now, deps.limits.presence_ttl).await?;
    for user in came_online {
        announce(deps, user, PresenceStatus { online: true, last_seen: None }).await?;
    }
    Ok(())
}

/// A connection of `user` closed; announces the user as offline if it was their last.
pub async fn disconnected(deps: &Deps, user: UserId, connection: ConnectionId) -> Result<(), PortError> {
    let now = deps.clock.now();
    if deps.presence.connection_ended(user, connection, now).await? {
        announce(deps, user, PresenceStatus { online: false, last_seen: Some(now) }).await?;
    }
    Ok(())
}

/// Announces users whose sessions expired without closing (their node died). Every node
/// runs this every few seconds; each expired user is handed to exactly one of them.
pub async fn sweep(deps: &Deps) -> Result<usize, PortError> {
    let expired = deps.presence.take_expired(deps.clock.now()).await?;
    for (user, last_seen) in &expired {
        announce(deps, *user, PresenceStatus { online: false, last_seen: Some(*last_seen) }).await?;
    }
    Ok(expired.len())
}

/// The presence of `users` that the caller may see; others are left out, exactly as if
/// they did not exist.
pub async fn status(
    deps: &Deps,
    actor: Actor,
    users: &[UserId],
) -> Result<Vec<(UserId, PresenceStatus)>, ConversationError> {
    if users.len() > MAX_PRESENCE_QUERY {
        return Err(crate::domain::error::Invalid::new("too_many_users", "ask for at most 200 users at once").into());
    }
    let mut visible = Vec::new();
    for user in users {
        if *user == actor.user_id || deps.presence_audience.may_see(actor.user_id, *user).await? {
            visible.push(*user);
        }
    }
    Ok(deps.presence.status(&visible, deps.clock.now()).await?)
}

async fn announce(deps: &Deps, user: UserId, status: PresenceStatus) -> Result<(), PortError> {
    let recipients = deps.presence_audience.audience(user).await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let event = Event::Presence { user_id: user, online: status.online, last_seen: status.last_seen };
    publish(deps, Delivery { recipients, except_session: None, only_session: None, event }).await;
    Ok(())
}

/// The default visibility rule: people who share a conversation see each other. (The social
/// graph replaces it with friends and privacy settings.)
pub struct ConversationContacts {
    /// Where shared conversations are looked up.
    pub conversations: Arc<dyn ConversationRepo>,
}

#[async_trait]
impl PresenceAudience for ConversationContacts {
    async fn audience(&self, user: UserId) -> Result<Vec<UserId>, PortError> {
        self.conversations.contacts(user).await
    }

    async fn may_see(&self, viewer: UserId, user: UserId) -> Result<bool, PortError> {
        self.conversations.share_conversation(viewer, user).await
    }
}

/// The social rule: a user's presence goes to their friends, or also to everyone they share
/// a conversation with, or to nobody, per their `who_sees_presence`; never across a block.
pub struct SocialPresence {
    /// Where each user's `who_sees_presence` setting is read.
    pub users: Arc<dyn crate::ports::UserRepo>,
    /// Where friendships and blocks are read.
    pub social: Arc<dyn crate::ports::SocialRepo>,
    /// Where shared conversations are looked up.
    pub conversations: Arc<dyn ConversationRepo>,
}

#[async_trait]
impl PresenceAudience for SocialPresence {
    async fn audience(&self, user: UserId) -> Result<Vec<UserId>, PortError> {
        let Some(owner) = self.users.user(user).await? else { return Ok(Vec::new()) };
        let mut audience: Vec<UserId> = match owner.settings.who_sees_presence {
            Audience::Nobody => return Ok(Vec::new()),
            Audience::Friends => self.social.friends(user).await?.into_iter().map(|f| f.friend).collect(),
            Audience::Everyone => {
                let mut everyone: Vec<UserId> =
                    self.social.friends(user).await?.into_iter().map(|f| f.friend).collect();
                everyone.extend(self.conversations.contacts(user).await?);
                everyone
            }
        };
        let hidden = self.social.hidden_from(user).await?;
        audience.retain(|viewer| !hidden.contains(viewer));
        audience.sort();
        audience.dedup();
        Ok(audience)
    }

    async fn may_see(&self, viewer: UserId, user: UserId) -> Result<bool, PortError> {
        if self.social.blocked_between(viewer, user).await? {
            return Ok(false);
        }
        let Some(owner) = self.users.user(user).await? else { return Ok(false) };
        let friends = self.social.are_friends(viewer, user).await?;
        Ok(match owner.settings.who_sees_presence {
            Audience::Everyone => true,
            Audience::Friends => friends,
            Audience::Nobody => false,
        })
    }
}
