//! The accept loop: hyper's HTTP/1 server under the router, in place of `axum::serve`, whose
//! hyper settings cannot be changed. It is the same loop (a task per connection, upgrades for
//! the WebSocket gateway, graceful shutdown) with our own limits:
//!
//! - hyper answers a request head it will not parse with a bare status and no body. Its caps
//!   are set above ours (`edge::MAX_HEADER_COUNT`, `edge::MAX_HEADER_BYTES`), so a request
//!   over our limit reaches the router and gets `431` in the error envelope. Only a head over
//!   hyper's read buffer (`READ_BUFFER_BYTES`) or with more than `HYPER_MAX_HEADERS` fields
//!   still gets hyper's bare `431`; no client of ours sends one.
//! - The read buffer is capped at `READ_BUFFER_BYTES` rather than hyper's ~400 KiB: an upload
//!   streamed to the embedded blob endpoint is read through it, and twenty concurrent 50 MiB
//!   uploads held about 40 MiB with the default and about half that with 64 KiB (docs/performance.md).
//! - A client must send its whole request head within `HEADER_READ_TIMEOUT`, or the
//!   connection is closed (a slow-loris client holds no task for long).

use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How many header fields hyper parses before refusing on its own; above ours, so that a
/// request with too many reaches `edge::limit_headers` and is refused in the envelope.
const HYPER_MAX_HEADERS: usize = 4 * crate::edge::MAX_HEADER_COUNT;

/// The most a connection's read buffer grows to; twice `edge::MAX_HEADER_BYTES`, so an
/// oversized head still reaches the router's own 431.
const READ_BUFFER_BYTES: usize = 2 * crate::edge::MAX_HEADER_BYTES;

/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` is cancelled, then asks each open connection to finish
/// its request in flight and close, and waits for them. Upgraded sockets are not waited for:
/// the gateway drains those.
pub async fn accept_until(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(READ_BUFFER_BYTES);
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning,
                    // as `axum::serve` does.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        // Frames go out as soon as they are written: with Nagle's algorithm a small frame
        // written right after another (a relayed ICE candidate after an ack) waited for the
        // peer's delayed ACK, up to 40 ms on Linux (benches/calls.rs measured it).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        // The peer's address goes with each request, for `ClientIp`.
        let router = TowerToHyperService::new(router.clone());
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.call(request)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_connection_end(result),
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    log_connection_end(connection.await);
                }
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// A connection that ended in an error (a reset, a malformed request hyper answered itself)
/// is the client's business: worth a debug line, not a warning.
fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
