//! The fake's HTTP/2 server: accepts h2c connections (counting them) and routes the two
//! endpoints.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::{PROJECT_ID, State, send, token};

pub(super) type Answer = Response<Full<Bytes>>;

/// Serves until aborted; aborting drops every connection with it.
pub(super) async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        state.connections.fetch_add(1, Ordering::Relaxed);
        let state = state.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| route(state.clone(), request));
            // HTTP/2 only, as FCM; a client that does not speak it is dropped.
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .max_concurrent_streams(1000)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn route(state: Arc<State>, request: Request<Incoming>) -> Result<Answer, Infallible> {
    let (head, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": "the body broke off"})));
    };
    let path = head.uri.path();
    if head.method != Method::POST {
        return Ok(json(StatusCode::METHOD_NOT_ALLOWED, &serde_json::json!({"error": "POST only"})));
    }
    let answer = if path == "/token" {
        token::grant(&state, &head.headers, &body)
    } else if path == format!("/v1/projects/{PROJECT_ID}/messages:send") {
        send::answer(&state, &head.headers, &body).await
    } else if path.starts_with("/v1/projects/") && path.ends_with("/messages:send") {
        // Another project: the service account has no permission there.
        send::google_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", "The caller does not have permission", None)
    } else {
        json(StatusCode::NOT_FOUND, &serde_json::json!({"error": "no such endpoint"}))
    };
    Ok(answer)
}

/// A JSON answer.
pub(super) fn json(status: StatusCode, body: &serde_json::Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a well-formed answer")
}
