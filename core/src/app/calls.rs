//! Calls: what a client needs before it places or answers one. The signaling itself (invite,
//! accept, ICE relay, hang up) goes over the WebSocket.

use crate::domain::turn::{self, IceServers};

use super::{Actor, Deps};

/// The STUN and TURN servers for the caller's `RTCPeerConnection`, with TURN credentials of
/// their own that expire after the configured TTL. With none configured the list is empty,
/// which is enough for two browsers on one machine or one network.
///
/// It makes no store call and cannot fail: one HMAC per request, behind authentication, so it
/// has no rate limit of its own. The credential names the user, so a TURN server's logs tie
/// relayed traffic to an account.
pub fn ice_servers(deps: &Deps, actor: Actor) -> IceServers {
    turn::ice_servers(&deps.limits.ice, actor.user_id, deps.clock.now())
}
