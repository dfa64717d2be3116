//! `GET /blobs/{token}`: a download through a signed URL, served by tower-http's file
//! service (Range, HEAD, conditional requests) with the presentation that was signed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::domain::media::BlobKey;
use chat_core::ports::content_disposition;
use chrono::Utc;

use tower_http::services::ServeFile;

use crate::refusal::Refusal;
use crate::store::{DiskBlobStore, internal};
use crate::token::Grant;

/// How often a download looks again when the object was replaced under it.
const REPLACED_RETRIES: usize = 3;

/// Serves a download, or the refusal.
pub(crate) async fn serve(
    State(store): State<Arc<DiskBlobStore>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    match serve_blob(&store, &token, request).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

async fn serve_blob(store: &DiskBlobStore, token: &str, request: Request) -> Result<Response, Refusal> {
    let token = store.signer.verify(token, Utc::now())?;
    let Grant::Get { key, content_type, filename, attachment } = token.grant else {
        return Err(Refusal::wrong_use("downloading"));
    };
    let key = BlobKey::from_stored(key);
    let (parts, _) = request.into_parts();
    for _ in 0..REPLACED_RETRIES {
        let Some(object) = store.object(&key).await.map_err(Refusal::port)? else { break };
        let request = Request::from_parts(parts.clone(), Body::empty());
        let response = ServeFile::new(store.layout.blob(object.blob))
            .try_call(request)
            .await
            .map_err(|error| Refusal::port(internal(error)))?;
        // The blob went between reading the metadata and opening it: replaced, so look again.
        if response.status() == StatusCode::NOT_FOUND {
            continue;
        }
        let mut response = response.map(Body::new);
        if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
            present(&mut response, &content_type, &filename, attachment)?;
        }
        return Ok(response);
    }
    Err(Refusal::new(StatusCode::NOT_FOUND, "not_found", "there is no such file"))
}

/// The signed presentation: type, name, no sniffing, and a short private cache life (the URL
/// itself expires within minutes).
fn present(response: &mut Response, content_type: &str, filename: &str, attachment: bool) -> Result<(), Refusal> {
    let content_type = HeaderValue::from_str(content_type).map_err(|_| {
        Refusal::port(chat_core::domain::error::PortError::Internal(format!("content type {content_type:?}")))
    })?;
    let disposition = HeaderValue::from_str(&content_disposition(filename, attachment))
        .map_err(|_| Refusal::port(chat_core::domain::error::PortError::Internal(format!("file name {filename:?}"))))?;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    Ok(())
}
