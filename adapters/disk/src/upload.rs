//! `PUT /blobs/{token}`: an upload through a signed URL, streamed to disk, checked against
//! what was signed, and made visible only whole.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::domain::media::{BlobKey, MultipartId};
use chat_core::ports::ClaimKey;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;

use crate::blob_file::{BlobWriter, WriteError, WrittenBlob};
use crate::multipart::PartRefusal;
use crate::refusal::Refusal;
use crate::store::{DiskBlobStore, internal};
use crate::token::Grant;

/// Where an upload goes.
enum Target {
    /// A whole object of this content type.
    Object(String),
    /// A part of a multipart upload.
    Part(MultipartId, u32),
}

/// Receives an upload; answers 200 with its `ETag`, or the refusal.
pub(crate) async fn receive(
    State(store): State<Arc<DiskBlobStore>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    match receive_upload(&store, &token, request).await {
        Ok(etag) => (StatusCode::OK, [(header::ETAG, etag)]).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn receive_upload(store: &DiskBlobStore, token: &str, request: Request) -> Result<String, Refusal> {
    let now = Utc::now();
    let token = store.signer.verify(token, now)?;
    let (key, size, target) = match token.grant {
        Grant::Put { key, content_type, size } => {
            check_content_type(request.headers(), &content_type)?;
            (key, size, Target::Object(content_type))
        }
        Grant::Part { key, upload, number, size } => {
            (key, size, Target::Part(MultipartId::from_stored(upload), number))
        }
        Grant::Get { .. } => return Err(Refusal::wrong_use("uploading")),
    };
    let key = BlobKey::from_stored(key);
    check_content_length(request.headers(), size)?;
    if let Target::Part(upload, _) = &target
        && !store.upload_in_progress(&key, upload).await.map_err(Refusal::port)?
    {
        return Err(no_such_upload());
    }
    // Claimed before the body is read, so two uses at once cannot both write. A broken upload
    // has used its URL too; the API hands out fresh ones for what is still missing.
    let until = DateTime::<Utc>::from_timestamp(token.expires, 0).unwrap_or(now);
    let claimed = store.claims.claim(&ClaimKey::upload_token(&token.nonce), until, now).await;
    if !claimed.map_err(Refusal::port)? {
        return Err(Refusal::new(StatusCode::FORBIDDEN, "url_used", "this upload URL was already used"));
    }

    let written = stream_to_disk(store, request.into_body(), size).await?;
    match target {
        Target::Object(content_type) => {
            let object = store.commit_written(&key, written, content_type).await.map_err(Refusal::port)?;
            Ok(object.etag)
        }
        Target::Part(upload, number) => match store.commit_part(&key, &upload, number, written).await {
            Ok(part) => Ok(part.etag),
            Err(PartRefusal::NoSuchUpload) => Err(no_such_upload()),
            Err(PartRefusal::Failed(error)) => Err(Refusal::port(error)),
        },
    }
}

/// The signed content type, exactly: what was checked at signing is what is stored.
fn check_content_type(headers: &HeaderMap, signed: &str) -> Result<(), Refusal> {
    let sent = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    if sent == Some(signed) {
        return Ok(());
    }
    Err(Refusal::new(
        StatusCode::BAD_REQUEST,
        "content_type_mismatch",
        format!("this URL takes Content-Type {signed}, not {}", sent.unwrap_or("none")),
    ))
}

/// A declared length other than the signed size is refused before any byte is read.
fn check_content_length(headers: &HeaderMap, size: u64) -> Result<(), Refusal> {
    let Some(declared) = headers.get(header::CONTENT_LENGTH) else { return Ok(()) };
    match declared.to_str().ok().and_then(|text| text.parse::<u64>().ok()) {
        Some(length) if length == size => Ok(()),
        Some(length) if length > size => Err(too_large(size)),
        _ => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "size_mismatch",
            format!("this URL takes exactly {size} bytes, not Content-Length {declared:?}"),
        )),
    }
}

/// Writes the body to a new blob, counting: more than `size` bytes stops the upload at the
/// first chunk past it, fewer is refused at the end. Either way the partial file is removed
/// (by the writer's drop), as it is when the client goes away mid-body.
async fn stream_to_disk(store: &DiskBlobStore, body: Body, size: u64) -> Result<WrittenBlob, Refusal> {
    let mut writer = BlobWriter::create(&store.layout, size).await.map_err(|error| Refusal::port(internal(error)))?;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| {
            tracing::debug!(%error, "an upload broke off");
            Refusal::new(StatusCode::BAD_REQUEST, "body_incomplete", "the upload broke off before its end")
        })?;
        writer.write(&chunk).await.map_err(|error| match error {
            WriteError::TooLarge => too_large(size),
            WriteError::Io(error) => Refusal::port(internal(error)),
        })?;
    }
    if writer.written() != size {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "size_mismatch",
            format!("the body has {} bytes; this URL takes exactly {size}", writer.written()),
        ));
    }
    writer.finish(&store.layout).await.map_err(|error| Refusal::port(internal(error)))
}

fn too_large(size: u64) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("this URL takes exactly {size} bytes; the body is longer"),
    )
}

fn no_such_upload() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "no_such_upload", "the upload was completed or abandoned")
}
