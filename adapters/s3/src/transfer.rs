//! Whole objects to and from local files, for the media worker: streamed both ways, never
//! held in memory.

use chat_core::domain::error::PortError;
use chat_core::domain::media::{BlobKey, LocalFile};
use chat_core::ports::BlobInfo;
use reqwest::StatusCode;
use rusty_s3::S3Action;
use tokio::io::AsyncWriteExt as _;
use tokio_util::io::ReaderStream;

use crate::request::OWN_REQUEST_VALIDITY;
use crate::{S3BlobStore, error, objects};

/// GetObject into `to`; `false` on 404.
pub(crate) async fn download_to(store: &S3BlobStore, key: &BlobKey, to: &LocalFile) -> Result<bool, PortError> {
    let action = store.bucket.get_object(Some(&store.credentials), key.as_str());
    let url = action.sign(OWN_REQUEST_VALIDITY);
    let mut response = store.http.get(url.as_str()).send().await.map_err(|e| error::transport("GET", &e))?;
    match response.status() {
        StatusCode::NOT_FOUND => return Ok(false),
        status if status.is_success() => {}
        status => {
            let body = response.text().await.unwrap_or_default();
            return Err(error::unexpected("GET", status, &body));
        }
    }
    let local = |e: std::io::Error| PortError::Internal(format!("writing {}: {e}", to.path().display()));
    let mut file = tokio::fs::File::create(to.path()).await.map_err(local)?;
    while let Some(chunk) = response.chunk().await.map_err(|e| error::transport("GET", &e))? {
        file.write_all(&chunk).await.map_err(local)?;
    }
    file.sync_all().await.map_err(local)?;
    Ok(true)
}

/// PutObject of `from` with its length and `content_type` signed; the stored object's HEAD.
pub(crate) async fn upload_from(
    store: &S3BlobStore,
    from: &LocalFile,
    key: &BlobKey,
    content_type: &str,
) -> Result<BlobInfo, PortError> {
    let local = |e: std::io::Error| PortError::Internal(format!("reading {}: {e}", from.path().display()));
    let file = tokio::fs::File::open(from.path()).await.map_err(local)?;
    let length = file.metadata().await.map_err(local)?.len().to_string();
    let mut action = store.bucket.put_object(Some(&store.credentials), key.as_str());
    action.headers_mut().insert("content-type", content_type);
    action.headers_mut().insert("content-length", length.as_str());
    let url = action.sign(OWN_REQUEST_VALIDITY);
    let body = reqwest::Body::wrap_stream(ReaderStream::new(file));
    let response = store
        .http
        .put(url.as_str())
        .header("content-type", content_type)
        .header("content-length", length.as_str())
        .body(body)
        .send()
        .await
        .map_err(|e| error::transport("PUT", &e))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(error::unexpected("PUT", status, &body));
    }
    objects::head(store, key).await?.ok_or_else(|| PortError::Internal(format!("{key} vanished after its PUT")))
}
