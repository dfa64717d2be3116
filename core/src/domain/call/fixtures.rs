//! Test fixtures shared by the unit tests and the property tests: a cast of devices, instants
//! counted from the call's start, and a ringing call.

use uuid::Uuid;

use super::*;
use crate::domain::Timestamp;
use crate::domain::ids::{CallId, ConversationId, NodeId, SessionId, UserId};

/// The cast: the caller's phone, the callee's phone and laptop, the caller's own tablet (not
/// part of the call) and a stranger.
pub struct Cast {
    pub caller: CallDevice,
    pub caller_tablet: CallDevice,
    pub callee: UserId,
    pub phone: CallDevice,
    pub laptop: CallDevice,
    pub stranger: CallDevice,
}

pub fn device(user: u128, session: u128) -> CallDevice {
    CallDevice { user_id: UserId(Uuid::from_u128(user)), session_id: SessionId(Uuid::from_u128(session)) }
}

pub fn cast() -> Cast {
    Cast {
        caller: device(1, 10),
        caller_tablet: device(1, 11),
        callee: UserId(Uuid::from_u128(2)),
        phone: device(2, 20),
        laptop: device(2, 21),
        stranger: device(3, 30),
    }
}

/// A node of the deployment; the cast starts on node 1.
pub fn node(n: u128) -> NodeId {
    NodeId(Uuid::from_u128(1_000 + n))
}

/// The node every device of the cast is on unless a test moves it.
pub const HOME: u128 = 1;

/// `ms` milliseconds after the call was placed.
pub fn at(ms: i64) -> Timestamp {
    Timestamp::UNIX_EPOCH + chrono::Duration::days(20_000) + chrono::Duration::milliseconds(ms)
}

pub fn sdp(text: &str) -> Sdp {
    Sdp::parse(text.to_owned()).unwrap_or_else(|invalid| unreachable!("{invalid}"))
}

pub fn ice(text: &str) -> IceCandidate {
    IceCandidate::parse(text.to_owned()).unwrap_or_else(|invalid| unreachable!("{invalid}"))
}

pub fn invite(cast: &Cast) -> Invite {
    Invite {
        id: CallId(Uuid::from_u128(100)),
        conversation_id: ConversationId(Uuid::from_u128(200)),
        caller: cast.caller,
        caller_node: node(HOME),
        callee: cast.callee,
        media: CallMedia::Video,
        offer: sdp("v=0 offer"),
    }
}

pub fn ringing(cast: &Cast) -> Call {
    let (call, _) = Call::ring(invite(cast), CallPolicy::production(), at(0)).unwrap_or_else(|e| unreachable!("{e:?}"));
    call
}
