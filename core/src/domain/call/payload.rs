//! What a call is made of: the media asked for, the two kinds of opaque WebRTC text the server
//! relays (SDP and ICE candidates, bounded so a client cannot park megabytes in the call
//! state), and the devices taking part.

use serde::{Deserialize, Serialize};

use crate::domain::error::Invalid;
use crate::domain::ids::{SessionId, UserId};

/// The longest SDP offer or answer, in bytes. A browser's audio + video + data channel offer is
/// 5 to 10 KiB; this leaves room for simulcast and many codecs, and stays well inside a 64 KiB
/// WebSocket frame.
pub const MAX_SDP_BYTES: usize = 32 * 1024;

/// The longest ICE candidate, in bytes: one `candidate:` line with its `sdpMid`,
/// `sdpMLineIndex` and `usernameFragment` is about 200 bytes.
pub const MAX_ICE_CANDIDATE_BYTES: usize = 2 * 1024;

/// How many of the caller's candidates are kept while the call rings. A browser gathers a few
/// per network interface and transport; far more than this is a misbehaving client, refused
/// so the stored state stays small.
pub const MAX_BUFFERED_ICE: usize = 32;

/// Voice only, or voice and video; the callee's phone shows which before answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallMedia {
    /// A voice call.
    Audio,
    /// A video call.
    Video,
}

impl CallMedia {
    /// The media named by its wire name (`audio` or `video`), `None` for anything else.
    pub fn parse(name: &str) -> Option<CallMedia> {
        [CallMedia::Audio, CallMedia::Video].into_iter().find(|media| media.as_str() == name)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallMedia::Audio => "audio",
            CallMedia::Video => "video",
        }
    }
}

/// A session description (an offer or an answer), relayed as the browser wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sdp(String);

impl Sdp {
    /// Checks the size only (`invalid_sdp` otherwise): the peers, not the server, read it.
    pub fn parse(raw: String) -> Result<Sdp, Invalid> {
        if raw.trim().is_empty() || raw.len() > MAX_SDP_BYTES {
            return Err(Invalid::new("invalid_sdp", format!("an SDP is 1 to {MAX_SDP_BYTES} bytes")));
        }
        Ok(Sdp(raw))
    }

    /// The text as the browser wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One ICE candidate, opaque to the server (the gateway keeps the client's candidate object
/// as text), relayed to the other device of the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IceCandidate(String);

impl IceCandidate {
    /// Checks the size only (`invalid_ice_candidate` otherwise). Not blank: the browser's
    /// end-of-candidates marker is still an object with an empty `candidate` field.
    pub fn parse(raw: String) -> Result<IceCandidate, Invalid> {
        if raw.trim().is_empty() || raw.len() > MAX_ICE_CANDIDATE_BYTES {
            return Err(Invalid::new(
                "invalid_ice_candidate",
                format!("an ICE candidate is 1 to {MAX_ICE_CANDIDATE_BYTES} bytes"),
            ));
        }
        Ok(IceCandidate(raw))
    }

    /// The text as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One device of a user: a logged-in session. A reconnect opens a new connection on the same
/// session, which is how a call knows the device came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallDevice {
    /// Whose device it is.
    pub user_id: UserId,
    /// The session the device is logged in with.
    pub session_id: SessionId,
}

/// The two sides of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// Who placed the call.
    Caller,
    /// Who was called.
    Callee,
}
