//! The two wire protocols the load generator speaks: ours (docs/protocol.md) and the
//! Socket.IO v5 / Engine.IO v4 protocol over a plain WebSocket, for the reference server.

use std::borrow::Cow;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    /// This project's gateway at `/ws`.
    Chat,
    /// A Socket.IO server (the reference in bench/socketio-ref).
    SocketIo,
}

/// What a text frame from the server means to the load generator.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// Authenticated and subscribed; ours says how often to heartbeat.
    Ready {
        heartbeat_interval_ms: Option<u64>,
    },
    /// Socket.IO's handshake packet: answer with the namespace connect.
    Open,
    Ack {
        id: u64,
        seq: u64,
    },
    Refused {
        id: Option<u64>,
        code: Cow<'a, str>,
    },
    Delivered {
        conversation_id: Cow<'a, str>,
        seq: u64,
        body: Cow<'a, str>,
    },
    /// Socket.IO's ping: answer with a pong.
    Ping,
    Other,
}

impl Protocol {
    /// The path and query to open.
    pub fn path(self) -> &'static str {
        match self {
            Protocol::Chat => "/ws",
            Protocol::SocketIo => "/socket.io/?EIO=4&transport=websocket",
        }
    }

    /// The frame that completes the handshake once the socket is open (Socket.IO connects to
    /// its namespace with the user's name and rooms; ours authenticates at the upgrade).
    pub fn connect_frame(self, user: &str, conversations: &[&str]) -> Option<String> {
        match self {
            Protocol::Chat => None,
            Protocol::SocketIo => {
                let auth = serde_json::json!({ "user": user, "rooms": conversations });
                Some(format!("40{auth}"))
            }
        }
    }

    pub fn heartbeat_frame(self) -> Option<&'static str> {
        match self {
            Protocol::Chat => Some(r#"{"type":"heartbeat"}"#),
            // The server pings; the client only answers.
            Protocol::SocketIo => None,
        }
    }

    pub fn pong_frame(self) -> &'static str {
        "3"
    }

    /// A message send with request id `id`. `body` must not need JSON escaping.
    pub fn send_frame(self, id: u64, conversation_id: &str, client_msg_id: &str, body: &str) -> String {
        match self {
            Protocol::Chat => format!(
                r#"{{"type":"message.send","id":{id},"conversation_id":"{conversation_id}","client_msg_id":"{client_msg_id}","body":"{body}"}}"#
            ),
            Protocol::SocketIo => format!(
                r#"42{id}["message.send",{{"conversation_id":"{conversation_id}","client_msg_id":"{client_msg_id}","body":"{body}"}}]"#
            ),
        }
    }

    pub fn decode(self, text: &str) -> Inbound<'_> {
        match self {
            Protocol::Chat => decode_chat(text),
            Protocol::SocketIo => decode_socket_io(text),
        }
    }
}

#[derive(Deserialize)]
struct ChatFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    id: Option<u64>,
    #[serde(borrow)]
    message: Option<MessageField<'a>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    heartbeat_interval_ms: Option<u64>,
}

/// `message` is the message object in acks and events, but the text of an `error`.
#[derive(Deserialize)]
#[serde(untagged)]
enum MessageField<'a> {
    Message(#[serde(borrow)] MessageRef<'a>),
    #[allow(dead_code)] // matched only to tell it apart
    Text(Cow<'a, str>),
}

#[derive(Deserialize)]
struct MessageRef<'a> {
    #[serde(borrow)]
    conversation_id: Cow<'a, str>,
    seq: u64,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
}

fn decode_chat(text: &str) -> Inbound<'_> {
    let Ok(frame) = serde_json::from_str::<ChatFrame<'_>>(text) else { return Inbound::Other };
    let message = match frame.message {
        Some(MessageField::Message(message)) => Some(message),
        _ => None,
    };
    match (frame.kind.as_ref(), frame.id, message) {
        ("ready", ..) => Inbound::Ready { heartbeat_interval_ms: frame.heartbeat_interval_ms },
        ("ack", Some(id), Some(message)) => Inbound::Ack { id, seq: message.seq },
        ("error", id, _) => Inbound::Refused { id, code: frame.code.unwrap_or(Cow::Borrowed("unknown")) },
        ("message.new", _, Some(message)) => Inbound::Delivered {
            conversation_id: message.conversation_id,
            seq: message.seq,
            body: message.body.unwrap_or_default(),
        },
        _ => Inbound::Other,
    }
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

/// Engine.IO packet types are one digit: 0 open, 2 ping, 4 message; a Socket.IO packet inside
/// a message starts with its own digit: 0 connect, 2 event, 3 ack, 4 connect error.
fn decode_socket_io(text: &str) -> Inbound<'_> {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'0') => return Inbound::Open,
        Some(b'2') => return Inbound::Ping,
        Some(b'4') => {}
        _ => return Inbound::Other,
    }
    let packet = &text[1..];
    match packet.as_bytes().first() {
        Some(b'0') => Inbound::Ready { heartbeat_interval_ms: None },
        Some(b'4') => Inbound::Refused { id: None, code: Cow::Borrowed("connect_error") },
        Some(b'3') => {
            let rest = &packet[1..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (Ok(id), Ok([ack])) =
                (rest[..digits].parse::<u64>(), serde_json::from_str::<[SeqOnly; 1]>(&rest[digits..]))
            else {
                return Inbound::Other;
            };
            Inbound::Ack { id, seq: ack.seq }
        }
        Some(b'2') => match serde_json::from_str::<(Cow<'_, str>, MessageRef<'_>)>(&packet[1..]) {
            Ok((name, message)) if name == "message.new" => Inbound::Delivered {
                conversation_id: message.conversation_id,
                seq: message.seq,
                body: message.body.unwrap_or_default(),
            },
            _ => Inbound::Other,
        },
        _ => Inbound::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_frames() {
        let chat = Protocol::Chat;
        assert_eq!(
            chat.decode(r#"{"type":"ready","user_id":"u","session_id":"s","heartbeat_interval_ms":30000}"#),
            Inbound::Ready { heartbeat_interval_ms: Some(30000) }
        );
        let ack = r#"{"type":"ack","id":7,"message":{"id":"m","conversation_id":"c1","seq":42,"body":"1 x","reactions":[]},"duplicate":false}"#;
        assert_eq!(chat.decode(ack), Inbound::Ack { id: 7, seq: 42 });
        let new = r#"{"type":"message.new","message":{"conversation_id":"c1","seq":43,"body":"123 pad","reactions":[{"user_id":"u","emoji":"👍"}]}}"#;
        assert_eq!(
            chat.decode(new),
            Inbound::Delivered { conversation_id: "c1".into(), seq: 43, body: "123 pad".into() }
        );
        assert_eq!(
            chat.decode(r#"{"type":"error","id":3,"code":"rate_limited","message":"slow down"}"#),
            Inbound::Refused { id: Some(3), code: "rate_limited".into() }
        );
        assert_eq!(chat.decode(r#"{"type":"heartbeat.ack"}"#), Inbound::Other);
        assert_eq!(chat.decode("not json"), Inbound::Other);
    }

    #[test]
    fn reads_socket_io_packets() {
        let io = Protocol::SocketIo;
        assert_eq!(io.decode(r#"0{"sid":"x","pingInterval":25000}"#), Inbound::Open);
        assert_eq!(io.decode(r#"40{"sid":"y"}"#), Inbound::Ready { heartbeat_interval_ms: None });
        assert_eq!(io.decode("2"), Inbound::Ping);
        assert_eq!(io.decode(r#"4312[{"seq":5}]"#), Inbound::Ack { id: 12, seq: 5 });
        assert_eq!(
            io.decode(r#"42["message.new",{"conversation_id":"g1","seq":9,"body":"5 pad"}]"#),
            Inbound::Delivered { conversation_id: "g1".into(), seq: 9, body: "5 pad".into() }
        );
        assert_eq!(io.decode(r#"42["other",{}]"#), Inbound::Other);
    }

    #[test]
    fn writes_frames_both_read_back() {
        let frame = Protocol::Chat.send_frame(3, "c", "m", "1 b");
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["type"], "message.send");
        assert_eq!(value["id"], 3);
        let frame = Protocol::SocketIo.send_frame(4, "g1", "m", "1 b");
        assert!(frame.starts_with("424["));
        let value: serde_json::Value = serde_json::from_str(&frame[3..]).unwrap();
        assert_eq!(value[1]["conversation_id"], "g1");
        assert_eq!(Protocol::SocketIo.connect_frame("u1", &["g1"]).unwrap(), r#"40{"rooms":["g1"],"user":"u1"}"#);
    }
}
