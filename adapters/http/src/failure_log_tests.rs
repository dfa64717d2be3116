//! A failure the client sees only by its code is logged exactly once, with the port's detail
//! and the request's (or frame's) context, and the detail never reaches the client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::post;
use chat_core::app::errors::{ConversationError, MessageError};
use chat_core::domain::error::PortError;
use hyper::service::Service;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;

use crate::error::ApiError;

/// Everything logged while the guard lives on this thread, as plain text lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn lines_with(&self, needle: &str) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().clone()).unwrap();
        text.lines().filter(|line| line.contains(needle)).map(str::to_owned).collect()
    }
}

/// A use case whose store failed: the error travels as the handler's result.
async fn failing_send() -> Result<(), ApiError> {
    Err(MessageError::from(PortError::Internal("duplicate key in messages_pkey".into())))?;
    Ok(())
}

async fn unavailable_store() -> Result<(), ApiError> {
    Err(ConversationError::from(PortError::Unavailable("connection refused (os error 111)".into())))?;
    Ok(())
}

async fn call(router: Router, path: &str) -> (StatusCode, String) {
    let service = TowerToHyperService::new(router);
    let request = Request::post(path).body(Body::empty()).unwrap();
    let response = service.call(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A router of its own with the server's edge layers, never served. (Written as
/// `Router::route(..)`: `routes::tests` refuses method-call mounting, which serves routes the
/// API document does not describe.)
fn router() -> Router {
    let router = Router::route(Router::new(), "/conversations/{id}/messages", post(failing_send));
    crate::edge::layers(Router::route(router, "/conversations", post(unavailable_store)))
}

#[tokio::test]
async fn an_internal_error_is_logged_once_with_its_detail_in_the_request_span() {
    let (logs, _guard) = Logs::capture();
    let (status, body) = call(router(), "/conversations/0190/messages?token=secret").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains(r#""code":"internal""#), "{body}");
    assert!(!body.contains("messages_pkey"), "the detail is not shown to the client: {body}");
    let logged = logs.lines_with("messages_pkey");
    assert_eq!(logged.len(), 1, "logged exactly once: {logged:?}");
    let line = &logged[0];
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("method=POST") && line.contains(r#"route="/conversations/{id}/messages""#), "{line}");
    assert!(logs.lines_with("secret").is_empty(), "the raw URI (and its query) is never logged");
}

#[tokio::test]
async fn an_outage_is_logged_once_as_a_warning() {
    let (logs, _guard) = Logs::capture();
    let (status, body) = call(router(), "/conversations").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains(r#""code":"unavailable""#) && !body.contains("os error"), "{body}");
    let logged = logs.lines_with("connection refused");
    assert_eq!(logged.len(), 1, "logged exactly once: {logged:?}");
    assert!(logged[0].contains("WARN"), "{}", logged[0]);
}

#[test]
fn a_socket_failure_is_logged_once_with_the_frame() {
    let (logs, _guard) = Logs::capture();
    let error = MessageError::from(PortError::Unavailable("redis: broken pipe".into()));
    let id = serde_json::json!(7);
    crate::ws::log_frame_failure(&error, "message.send", Some(&id));
    let logged = logs.lines_with("broken pipe");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("message.send") && logged[0].contains("id=7"), "{}", logged[0]);
}

#[test]
fn a_callers_mistake_is_not_logged() {
    let (logs, _guard) = Logs::capture();
    let error = MessageError::NotSender;
    crate::ws::log_frame_failure(&error, "message.send", None);
    let response = axum::response::IntoResponse::into_response(ApiError::from(error));
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(logs.lines_with("not_sender").is_empty() && logs.lines_with("WARN").is_empty());
}
