//! The store itself: its configuration, the signing of URLs, and the `BlobStore` port, whose
//! object and multipart calls live in `objects.rs` and `multipart.rs`.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::media::{BlobKey, LocalFile, MultipartId};
use chat_core::domain::{Duration, Timestamp};
use chat_core::ports::{
    BlobInfo, BlobStore, ClaimStore, CompleteOutcome, CopyOutcome, DownloadAs, ListedBlob, PartEtag, SignedMethod,
    SignedRequest, StoredPart,
};
use uuid::Uuid;

use crate::layout::{Layout, relative_path};
use crate::token::{Grant, Signer, Token};

/// Part numbers S3 accepts; the same here, so both stores refuse the same plans.
pub(crate) const PART_NUMBERS: std::ops::RangeInclusive<u32> = 1..=10_000;

/// What a [`DiskBlobStore`] needs to know.
#[derive(Clone)]
pub struct DiskBlobConfig {
    /// The directory that holds everything (`CHAT_DATA_DIR/blobs`, say); created if missing.
    pub root: PathBuf,
    /// The server's address as clients reach it, e.g. `http://127.0.0.1:8080`: URLs are
    /// `{public_base_url}/blobs/{token}`.
    pub public_base_url: String,
    /// The HMAC key the tokens are signed with; at least 32 random bytes. Tokens signed with
    /// another key (an earlier run's, if the key is made at start) are refused.
    pub signing_key: Vec<u8>,
}

impl std::fmt::Debug for DiskBlobConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskBlobConfig")
            .field("root", &self.root)
            .field("public_base_url", &self.public_base_url)
            .field("signing_key", &"<redacted>")
            .finish()
    }
}

/// The embedded-mode `BlobStore`: objects in a local directory, uploaded and downloaded
/// through the signed URLs that [`router`](crate::router) serves.
pub struct DiskBlobStore {
    pub(crate) layout: Layout,
    pub(crate) signer: Signer,
    pub(crate) claims: Arc<dyn ClaimStore>,
    base_url: String,
    /// Held while metadata is read and replaced, so that two writers of one key cannot both
    /// think they replaced the same old blob (one would leak), and completion, abort and part
    /// writes of one upload do not interleave. Only renames and small files happen under it.
    pub(crate) commits: tokio::sync::Mutex<()>,
}

impl DiskBlobStore {
    /// A store under `config.root`, creating its directories. Upload tokens are claimed in
    /// `claims`, so each works once.
    pub fn open(config: DiskBlobConfig, claims: Arc<dyn ClaimStore>) -> io::Result<DiskBlobStore> {
        Ok(DiskBlobStore {
            layout: Layout::create(config.root)?,
            signer: Signer::new(config.signing_key),
            claims,
            base_url: config.public_base_url.trim_end_matches('/').to_owned(),
            commits: tokio::sync::Mutex::new(()),
        })
    }

    /// Deletes what a crash left half-written in `tmp/`. Call it once when the server that
    /// serves this directory starts, before it serves (never from a tool while a server runs:
    /// its uploads in progress are there).
    pub fn clear_leftovers(&self) -> io::Result<()> {
        self.layout.clear_tmp()
    }

    /// Where bodies being received are written; empty when no upload is under way.
    pub fn temp_dir(&self) -> PathBuf {
        self.layout.tmp()
    }

    fn signed(
        &self,
        method: SignedMethod,
        grant: Grant,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError> {
        let expires_at = now + ttl;
        let token = Token { grant, expires: expires_at.timestamp(), nonce: Uuid::new_v4().simple().to_string() };
        let token = self.signer.sign(&token).map_err(|error| PortError::Internal(error.to_string()))?;
        Ok(SignedRequest { method, url: format!("{}/blobs/{token}", self.base_url), headers: Vec::new(), expires_at })
    }
}

/// Refuses what could not be served as a header value or mapped to a path, before it is
/// signed into a URL that could never work.
fn check_key(key: &BlobKey) -> Result<(), PortError> {
    relative_path(key.as_str()).map(drop).map_err(internal)
}

fn check_header_value(name: &str, value: &str) -> Result<(), PortError> {
    axum::http::HeaderValue::from_str(value)
        .map(drop)
        .map_err(|_| PortError::Internal(format!("{name} {value:?} is not a valid header value")))
}

/// An IO failure of the store's own directory: not the caller's fault.
pub(crate) fn internal(error: io::Error) -> PortError {
    PortError::Internal(format!("blob store: {error}"))
}

#[async_trait]
impl BlobStore for DiskBlobStore {
    fn presign_put(
        &self,
        key: &BlobKey,
        content_type: &str,
        size: u64,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError> {
        check_key(key)?;
        check_header_value("content type", content_type)?;
        let grant = Grant::Put { key: key.as_str().to_owned(), content_type: content_type.to_owned(), size };
        let mut request = self.signed(SignedMethod::Put, grant, now, ttl)?;
        request.headers.push(("content-type".to_owned(), content_type.to_owned()));
        Ok(request)
    }

    fn presign_part(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        number: u32,
        size: u64,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError> {
        check_key(key)?;
        if !PART_NUMBERS.contains(&number) {
            return Err(PortError::Internal(format!("part number {number} is outside 1..=10000")));
        }
        let grant = Grant::Part { key: key.as_str().to_owned(), upload: upload.as_str().to_owned(), number, size };
        self.signed(SignedMethod::Put, grant, now, ttl)
    }

    fn presign_get(
        &self,
        key: &BlobKey,
        download: &DownloadAs,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError> {
        check_key(key)?;
        check_header_value("content type", &download.content_type)?;
        let grant = Grant::Get {
            key: key.as_str().to_owned(),
            content_type: download.content_type.clone(),
            filename: download.filename.clone(),
            attachment: download.attachment,
        };
        self.signed(SignedMethod::Get, grant, now, ttl)
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, PortError> {
        Ok(self.object(key).await?.map(|meta| meta.info()))
    }

    async fn read_prefix(&self, key: &BlobKey, len: usize) -> Result<Option<Vec<u8>>, PortError> {
        self.read_prefix_of(key, len).await
    }

    async fn copy_if_match(&self, from: &BlobKey, to: &BlobKey, etag: &str) -> Result<CopyOutcome, PortError> {
        self.copy_object(from, to, etag).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), PortError> {
        self.delete_object(key).await
    }

    async fn list_older_than(
        &self,
        prefix: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ListedBlob>, PortError> {
        self.list_objects(prefix, before, limit).await
    }

    async fn download_to(&self, key: &BlobKey, to: &LocalFile) -> Result<bool, PortError> {
        self.download_object(key, to).await
    }

    async fn upload_from(&self, from: &LocalFile, key: &BlobKey, content_type: &str) -> Result<BlobInfo, PortError> {
        check_key(key)?;
        Ok(self.upload_file(from, key, content_type).await?.info())
    }

    async fn create_multipart(&self, key: &BlobKey, content_type: &str) -> Result<MultipartId, PortError> {
        check_key(key)?;
        self.create_upload(key, content_type).await
    }

    async fn list_parts(&self, key: &BlobKey, upload: &MultipartId) -> Result<Option<Vec<StoredPart>>, PortError> {
        self.parts_of(key, upload).await
    }

    async fn complete_multipart(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        parts: &[PartEtag],
    ) -> Result<CompleteOutcome, PortError> {
        self.complete_upload(key, upload, parts).await
    }

    async fn abort_multipart(&self, key: &BlobKey, upload: &MultipartId) -> Result<(), PortError> {
        self.abort_upload(key, upload).await
    }
}
