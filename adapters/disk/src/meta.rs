//! The small JSON files that say what an object, an upload or a part is, read whole and
//! written by renaming a complete temporary file into place.

use std::io;
use std::path::Path;

use chat_core::domain::Timestamp;
use chat_core::ports::BlobInfo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::layout::Layout;

/// An object: the blob holding its bytes and what HEAD reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ObjectMeta {
    /// The blob file with the bytes.
    pub blob: Uuid,
    /// Its size in bytes.
    pub size: u64,
    /// `"{sha256 hex}"`, quoted as S3 quotes ETags.
    pub etag: String,
    /// The type it was uploaded as.
    pub content_type: String,
    /// When it was written.
    pub written_at: Timestamp,
}

impl ObjectMeta {
    /// What HEAD reports.
    pub(crate) fn info(&self) -> BlobInfo {
        BlobInfo { size: self.size, etag: self.etag.clone(), last_modified: self.written_at }
    }
}

/// A multipart upload in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct UploadMeta {
    /// The key the upload completes to.
    pub key: String,
    /// The type of the object it makes.
    pub content_type: String,
}

/// One received part of a multipart upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PartMeta {
    /// The blob file with the part's bytes.
    pub blob: Uuid,
    /// Its size in bytes.
    pub size: u64,
    /// `"{sha256 hex}"`.
    pub etag: String,
}

/// Reads a metadata file; `None` if there is none.
pub(crate) async fn read<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) if is_absent(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {error}", path.display())))
}

/// Writes a metadata file whole: readers see the old one or the new one, never a part.
pub(crate) async fn write<T: Serialize>(layout: &Layout, path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    let temp = layout.temp_path();
    tokio::fs::write(&temp, bytes).await?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    if let Err(error) = tokio::fs::rename(&temp, path).await {
        remove_quietly(&temp).await;
        return Err(error);
    }
    Ok(())
}

/// Removes a file; one already gone is fine.
pub(crate) async fn remove(path: &Path) -> io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(error) if !is_absent(&error) => Err(error),
        _ => Ok(()),
    }
}

/// Removes a file that is no longer referenced; a failure only leaks space, so it is logged.
pub(crate) async fn remove_quietly(path: &Path) {
    if let Err(error) = remove(path).await {
        tracing::warn!(path = %path.display(), %error, "could not remove an unreferenced blob-store file");
    }
}

/// Whether the error says the file (or a directory on its path) is not there. A key whose
/// path runs through another key's file (`a` and `a/b`) reads as absent too.
pub(crate) fn is_absent(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}
