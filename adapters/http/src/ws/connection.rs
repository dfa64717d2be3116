//! One WebSocket connection: authenticate, then serve requests and push events until it
//! closes. A single task per socket: it reads frames, writes replies and drains the
//! socket's bounded event queue, so an idle connection costs one task and its buffers.
//!
//! A task's future is allocated at its largest state for the socket's whole life. The
//! request handlers (a send, a sync), the presence calls and every write but the event
//! writes of the loop are boxed, so that size is only what waiting needs: the handlers'
//! state exists only while one runs. Without the boxes an idle socket's future took
//! 4.5 KiB; `-Zprint-type-sizes` (with `RUSTC_BOOTSTRAP=1`) shows what each state holds.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chat_core::app::errors as signaling_error;
use chat_core::app::{Actor, auth, messages, presence, receipts, signaling, sync};
use chat_core::domain::error::DomainError;
use chat_core::domain::event::{Event, ReceiptKind};
use chat_core::domain::ids::ConnectionId;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tracing::Instrument;

use super::frames::{AckBody, ClientFrame, FrameError, ServerFrame, parse};
use super::registry::close_code;
use crate::error::{failure_detail, log_failure};
use crate::state::AppState;

/// The writing half of the socket, with a bound on how long one write may take: a peer that
/// stops reading must not pin its socket task in a write forever.
struct Sink {
    inner: SplitSink<WebSocket, Message>,
    write_timeout: std::time::Duration,
}
type Stream = SplitStream<WebSocket>;

/// The socket is gone (or closing); stop serving it.
struct Closed;

/// The socket's task, in a span with the connection's id and (once known) the user's. Its
/// body is an async block, not an `async fn`: an `async fn` keeps its arguments in the future
/// beside the locals it moves them into, and the unsplit socket (368 bytes) would stay there
/// unused for the socket's whole life.
pub fn run(
    socket: WebSocket,
    state: AppState,
    authenticated: Option<Actor>,
    connection: ConnectionId,
) -> impl Future<Output = ()> {
    let (inner, mut stream) = socket.split();
    let mut sink = Sink { inner, write_timeout: state.config.write_timeout };
    // A debug span: at the default `info` level it is disabled and costs a socket nothing
    // (an enabled span keeps its formatted fields for the socket's life: a few hundred bytes
    // each across tens of thousands of idle sockets).
    let span = tracing::debug_span!("socket", connection_id = %connection, user_id = tracing::field::Empty);
    async move {
        let actor = match authenticated {
            Some(actor) => actor,
            None => match Box::pin(authenticate(&mut sink, &mut stream, &state)).await {
                Some(actor) => actor,
                None => return,
            },
        };
        tracing::Span::current().record("user_id", tracing::field::display(actor.user_id));
        let registration = state.gateway.register(actor.user_id, actor.session_id);
        let id = registration.id;
        // Presence counts connections, not sessions: one session may hold several sockets,
        // and the user stays online until the last closes.
        if let Err(error) = Box::pin(presence::connected(&state.deps, actor.user_id, connection)).await {
            tracing::warn!(%error, "presence not recorded");
        }
        // A device back in its call resumes it; a callee's device rings.
        if let Err(error) = Box::pin(signaling::device_connected(&state.deps, actor)).await {
            tracing::warn!(%error, "call not told of the connection");
        }
        let _ = serve(&mut sink, &mut stream, &state, actor, connection, registration).await;
        let device_gone = state.gateway.unregister(actor.user_id, id);
        if let Err(error) = Box::pin(presence::disconnected(&state.deps, actor.user_id, connection)).await {
            tracing::warn!(%error, "presence not cleared; it expires by itself");
        }
        if device_gone && let Err(error) = Box::pin(signaling::device_disconnected(&state.deps, actor)).await {
            tracing::warn!(%error, "call not told of the disconnection");
        }
    }
    .instrument(span)
}

/// Waits for the `auth` frame (unless the token came with the upgrade).
async fn authenticate(sink: &mut Sink, stream: &mut Stream, state: &AppState) -> Option<Actor> {
    let shutdown = state.gateway.shutdown.clone();
    let first = tokio::select! {
        () = shutdown.cancelled() => {
            let _ = close(sink, close_code::GOING_AWAY, "server shutting down").await;
            return None;
        }
        first = tokio::time::timeout(state.config.auth_timeout, stream.next()) => first,
    };
    let text = match first {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(Message::Close(_))) | None) => {
            answer_close(sink).await;
            return None;
        }
        // Anything else first (binary, ping) is not an auth frame: fall through to the refusal.
        Ok(Some(Ok(_))) => Utf8Bytes::from_static("{}"),
        Ok(Some(Err(error))) => {
            if is_too_big(error) {
                let _ = close(sink, close_code::MESSAGE_TOO_BIG, "frame too large").await;
            }
            return None;
        }
        Err(_) => {
            let _ = close(sink, close_code::UNAUTHORIZED, "authentication timed out").await;
            return None;
        }
    };
    let (id, frame) = parse(&text);
    let result = match frame {
        Ok(ClientFrame::Auth { token }) => auth::authenticate(&state.deps, &token).await.map_err(|error| {
            log_frame_failure(&error, "auth", id.as_ref());
            (error.code(), error.to_string())
        }),
        _ => Err(("auth_required", "the first frame must be {\"type\":\"auth\",\"token\":...}".to_owned())),
    };
    match result {
        Ok(actor) => Some(actor),
        Err((code, message)) => {
            let frame = ServerFrame::Error { id: id.as_ref(), code, message: &message, retry_after_ms: None };
            let _ = send(sink, &frame).await;
            // An outage is not a bad token: tell the client to retry, not to log in again.
            let close_with = if code == "unavailable" { close_code::TRY_AGAIN_LATER } else { close_code::UNAUTHORIZED };
            let _ = close(sink, close_with, code).await;
            None
        }
    }
}

/// Serves an authenticated socket until it closes. An async block, as `run` is, so that its
/// arguments are not kept twice in the future.
#[expect(clippy::manual_async_fn, reason = "an `async fn` keeps its arguments twice in its future")]
fn serve<'a>(
    sink: &'a mut Sink,
    stream: &'a mut Stream,
    state: &'a AppState,
    actor: Actor,
    connection: ConnectionId,
    mut registration: super::registry::Registration,
) -> impl Future<Output = Result<(), Closed>> + 'a {
    async move {
        {
            // A frame is 248 bytes: boxed, so that it is not kept in the future all along.
            let interval = u64::try_from(state.config.heartbeat_interval.as_millis()).unwrap_or(u64::MAX);
            let ready = ServerFrame::Ready {
                user_id: actor.user_id,
                session_id: actor.session_id,
                heartbeat_interval_ms: interval,
            };
            Box::pin(send(sink, &ready)).await?;
        }
        let idle_timeout = state.config.idle_timeout;
        let idle = tokio::time::sleep(idle_timeout);
        tokio::pin!(idle);
        let shutdown = state.gateway.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    return Box::pin(drain_and_close(sink, &mut registration)).await;
                }
                () = registration.kill.token.cancelled() => {
                    let code = registration.kill.code.load(std::sync::atomic::Ordering::Relaxed);
                    let reason = if code == close_code::SLOW_CONSUMER { "slow consumer: reconnect and sync" } else { "session revoked" };
                    return Box::pin(close(sink, code, reason)).await;
                }
                frame = registration.events.next() => {
                    Box::pin(write_queued(sink, frame, &registration.events)).await?;
                }
                () = &mut idle => {
                    return Box::pin(close(sink, close_code::IDLE, "no heartbeat")).await;
                }
                inbound = stream.next() => {
                    idle.as_mut().reset(Instant::now() + idle_timeout);
                    match inbound {
                        Some(Ok(Message::Text(text))) => {
                            Box::pin(handle_text(sink, state, actor, connection, &text)).await?;
                        }
                        Some(Ok(Message::Binary(_))) => {
                            let frame = ServerFrame::Error { id: None, code: "binary_not_supported", message: "frames are JSON text", retry_after_ms: None };
                            Box::pin(send(sink, &frame)).await?;
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) => {
                            Box::pin(answer_close(sink)).await;
                            return Err(Closed);
                        }
                        None => return Err(Closed),
                        Some(Err(error)) => {
                            if is_too_big(error) {
                                return Box::pin(close(sink, close_code::MESSAGE_TOO_BIG, "frame too large")).await;
                            }
                            return Err(Closed);
                        }
                    }
                }
            }
        }
    }
}

/// At shutdown, what was already queued for this client still goes out, then 1001.
async fn drain_and_close(sink: &mut Sink, registration: &mut super::registry::Registration) -> Result<(), Closed> {
    while let Some(frame) = registration.events.try_next() {
        write(sink, Message::Text(frame)).await?;
    }
    close(sink, close_code::GOING_AWAY, "server shutting down").await
}

async fn handle_text(
    sink: &mut Sink,
    state: &AppState,
    actor: Actor,
    connection: ConnectionId,
    text: &str,
) -> Result<(), Closed> {
    let (id, frame) = parse(text);
    let id = id.as_ref();
    let frame = match frame {
        Ok(frame) => frame,
        Err(error) => {
            let (code, message) = match error {
                FrameError::InvalidJson(detail) => ("invalid_json", detail),
                FrameError::UnknownType(kind) => ("unknown_type", format!("unknown frame type {kind:?}")),
                FrameError::InvalidFrame(detail) => ("invalid_frame", detail),
            };
            return send(sink, &ServerFrame::Error { id, code, message: &message, retry_after_ms: None }).await;
        }
    };
    let deps = &state.deps;
    let kind = frame.kind();
    match frame {
        ClientFrame::Auth { .. } => {
            send_error_code(sink, id, "already_authenticated", "this socket is already authenticated").await
        }
        ClientFrame::Heartbeat => {
            state.heartbeats.beat(deps, actor.user_id, connection).await;
            send(sink, &ServerFrame::HeartbeatAck { id }).await
        }
        ClientFrame::MessageSend { conversation_id, client_msg_id, kind: message_kind, body, media_ids, reply_to } => {
            let command = messages::SendMessage { client_msg_id, kind: message_kind, body, media_ids, reply_to };
            match messages::send(deps, actor, conversation_id, command).await {
                Ok(sent) => {
                    let body = AckBody::Message { duplicate: !sent.created, message: sent.message };
                    send(sink, &ServerFrame::Ack { id, body }).await
                }
                Err(error) => send_error(sink, id, kind, &error).await,
            }
        }
        ClientFrame::Typing { conversation_id, state: typing } => {
            match receipts::typing(deps, actor, conversation_id, typing).await {
                Ok(()) if id.is_some() => send(sink, &ServerFrame::Ack { id, body: AckBody::Empty {} }).await,
                Ok(()) => Ok(()),
                Err(error) => send_error(sink, id, kind, &error).await,
            }
        }
        ClientFrame::ReceiptRead { conversation_id, seq } => {
            mark(sink, state, actor, id, conversation_id, ReceiptKind::Read, seq).await
        }
        ClientFrame::ReceiptDelivered { conversation_id, seq } => {
            mark(sink, state, actor, id, conversation_id, ReceiptKind::Delivered, seq).await
        }
        ClientFrame::CallInvite { user_id, media, sdp } => {
            match signaling::invite(deps, actor, user_id, media, sdp).await {
                Ok(call_id) => send(sink, &ServerFrame::Ack { id, body: AckBody::Call { call_id } }).await,
                Err(error) => send_error(sink, id, kind, &error).await,
            }
        }
        ClientFrame::CallAccept { call_id, sdp } => {
            let result = signaling::accept(deps, actor, call_id, sdp).await;
            call_reply(sink, id, kind, result).await
        }
        ClientFrame::CallReject { call_id }
        | ClientFrame::CallCancel { call_id }
        | ClientFrame::CallHangup { call_id } => {
            let result = signaling::hang_up(deps, actor, call_id).await;
            call_reply(sink, id, kind, result).await
        }
        ClientFrame::CallIce { call_id, candidate } => {
            let result = signaling::ice(deps, actor, call_id, candidate.to_string()).await;
            call_reply(sink, id, kind, result).await
        }
        ClientFrame::Sync { since, changes_since } => match sync::sync(deps, actor, &since, &changes_since).await {
            Ok(result) => {
                for message in result.messages {
                    send(sink, &Event::MessageNew { message }).await?;
                }
                for (change, message) in result.changes {
                    send(sink, &Event::MessageUpdated { change, message }).await?;
                }
                send(sink, &ServerFrame::Ack { id, body: AckBody::Sync { conversations: result.conversations } }).await
            }
            Err(error) => send_error(sink, id, kind, &error).await,
        },
    }
}

/// The ack of a call frame that returns nothing (when the client asked with an `id`), or
/// its error.
async fn call_reply(
    sink: &mut Sink,
    id: Option<&Value>,
    kind: &'static str,
    result: Result<(), signaling_error::CallingError>,
) -> Result<(), Closed> {
    match result {
        Ok(()) if id.is_some() => send(sink, &ServerFrame::Ack { id, body: AckBody::Empty {} }).await,
        Ok(()) => Ok(()),
        Err(error) => send_error(sink, id, kind, &error).await,
    }
}

async fn mark(
    sink: &mut Sink,
    state: &AppState,
    actor: Actor,
    id: Option<&Value>,
    conversation_id: chat_core::domain::ids::ConversationId,
    kind: ReceiptKind,
    seq: u64,
) -> Result<(), Closed> {
    match receipts::mark(&state.deps, actor, conversation_id, kind, seq).await {
        Ok(seq) => send(sink, &ServerFrame::Ack { id, body: AckBody::Receipt { conversation_id, seq } }).await,
        Err(error) => {
            let frame = if kind == ReceiptKind::Read { "receipt.read" } else { "receipt.delivered" };
            send_error(sink, id, frame, &error).await
        }
    }
}

/// Answers a frame with the error; a failure that is not the client's doing is logged here,
/// once, with the frame's type and id, in the socket's span.
async fn send_error(
    sink: &mut Sink,
    id: Option<&Value>,
    kind: &str,
    error: &(impl DomainError + ?Sized),
) -> Result<(), Closed> {
    log_frame_failure(error, kind, id);
    let message = error.to_string();
    let frame =
        ServerFrame::Error { id, code: error.code(), message: &message, retry_after_ms: error.retry_after_ms() };
    send(sink, &frame).await
}

pub(crate) fn log_frame_failure(error: &(impl DomainError + ?Sized), kind: &str, id: Option<&Value>) {
    if let Some(detail) = failure_detail(error) {
        let id = id.map_or_else(String::new, Value::to_string);
        let _frame = tracing::info_span!("frame", r#type = kind, id = %id).entered();
        log_failure(error.kind(), error.code(), &detail);
    }
}

async fn send_error_code(sink: &mut Sink, id: Option<&Value>, code: &str, message: &str) -> Result<(), Closed> {
    send(sink, &ServerFrame::Error { id, code, message, retry_after_ms: None }).await
}

async fn send(sink: &mut Sink, frame: &impl Serialize) -> Result<(), Closed> {
    let json = serde_json::to_string(frame).map_err(|_| Closed)?;
    write(sink, Message::Text(Utf8Bytes::from(json))).await
}

/// Writes an event and whatever else is already queued for the socket, then flushes once:
/// under load (a busy group, or events that queued while a request ran) several frames go
/// out in one system call instead of one each.
async fn write_queued(sink: &mut Sink, first: Utf8Bytes, events: &super::registry::Outbox) -> Result<(), Closed> {
    /// Frames written before the flush; the write buffer (`COALESCE_BYTES`) writes out
    /// sooner when they are large.
    const MOST: usize = 16;
    let written = async {
        sink.inner.feed(Message::Text(first)).await?;
        for _ in 1..MOST {
            let Some(frame) = events.try_next() else { break };
            sink.inner.feed(Message::Text(frame)).await?;
        }
        sink.inner.flush().await
    };
    match tokio::time::timeout(sink.write_timeout, written).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(Closed),
    }
}

/// Sends a close frame; the connection is over either way.
async fn close(sink: &mut Sink, code: u16, reason: &str) -> Result<(), Closed> {
    let frame = CloseFrame { code, reason: Utf8Bytes::from(reason) };
    let _ = write(sink, Message::Close(Some(frame))).await;
    Err(Closed)
}

async fn write(sink: &mut Sink, message: Message) -> Result<(), Closed> {
    match tokio::time::timeout(sink.write_timeout, sink.inner.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(Closed),
    }
}

/// Completes a close the client started: tungstenite queued the reply when it read the
/// client's Close frame, and a flush sends it.
async fn answer_close(sink: &mut Sink) {
    let _ = tokio::time::timeout(sink.write_timeout, sink.inner.flush()).await;
}

/// Whether a read failed because the client sent more than the size limit.
fn is_too_big(error: axum::Error) -> bool {
    let inner = error.into_inner();
    matches!(inner.downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}
