//! Object storage for media bytes: presigned requests the client uses directly, and the few
//! calls the server makes itself (check, pin, clean up). Bytes never cross this port whole:
//! only keys, sizes, ETags and a few leading bytes for the type check.

use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::domain::error::PortError;
use crate::domain::media::{BlobKey, LocalFile, MultipartId};
use crate::domain::{Duration, Timestamp};

/// The HTTP method of a presigned request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedMethod {
    /// Upload (a whole object or one part).
    Put,
    /// Download.
    Get,
}

/// A request the client makes straight to the object store (or the embedded blob endpoint),
/// signed so that it works only as given until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest {
    /// The method to use.
    pub method: SignedMethod,
    /// The full URL, signature included.
    pub url: String,
    /// Headers the client must send exactly so (they are covered by the signature), e.g.
    /// `content-type`.
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: Timestamp,
}

/// How a download presents itself to the browser or app that fetches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadAs {
    /// The `Content-Type` to serve.
    pub content_type: String,
    /// The file name to suggest.
    pub filename: String,
    /// `Content-Disposition: attachment` (files) rather than `inline` (images, video, audio).
    pub attachment: bool,
}

impl DownloadAs {
    /// The `Content-Disposition` a download is served with (see [`content_disposition`]).
    pub fn content_disposition(&self) -> String {
        content_disposition(&self.filename, self.attachment)
    }
}

/// RFC 5987's `attr-char`: what `filename*=UTF-8''...` may carry as is.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `inline` or `attachment` with the name twice (RFC 6266): `filename*` in UTF-8 for clients
/// that read it (every current browser), and an ASCII `filename` for those that do not, with
/// what ASCII cannot say (and `"`, `\`, `%`) replaced by `_`. Both blob stores serve it, so a
/// Vietnamese file name reads the same from S3 as from the embedded endpoint.
pub fn content_disposition(filename: &str, attachment: bool) -> String {
    let kind = if attachment { "attachment" } else { "inline" };
    let ascii: String = filename
        .chars()
        .map(|c| if c == ' ' || (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')) { c } else { '_' })
        .collect();
    let exact = utf8_percent_encode(filename, ATTR_CHAR);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

/// What the store knows of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its size in bytes.
    pub size: u64,
    /// Its entity tag: changes whenever its bytes are written again.
    pub etag: String,
    /// When it was last written.
    pub last_modified: Timestamp,
}

/// One object found by a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedBlob {
    /// Its key.
    pub key: BlobKey,
    /// Its size, ETag and time.
    pub info: BlobInfo,
}

/// A part of a multipart upload, as the client reports it at completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartEtag {
    /// The part number, from 1.
    pub number: u32,
    /// The ETag the store answered the part's PUT with.
    pub etag: String,
}

/// A part the store holds for an upload in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPart {
    /// The part number, from 1.
    pub number: u32,
    /// Its ETag.
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What a conditional server-side copy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyOutcome {
    /// Copied; the new object's information.
    Copied(BlobInfo),
    /// The source's ETag is no longer the one given: it was written again since it was checked.
    SourceChanged,
    /// There is no source object.
    SourceMissing,
}

/// What completing a multipart upload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// The parts are one object now.
    Completed,
    /// The store refused the part list (a missing part, a wrong ETag, a part too small) or
    /// knows no such upload; the words say which, for the client.
    Refused(String),
}

/// Object storage: S3 (or compatible) in production, a local directory in embedded mode.
///
/// `presign_*` calls only sign; they make no request. `now` is the signing time: S3 checks it
/// against its own clock, so production passes the wall clock.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// A PUT of exactly `size` bytes of `content_type` to `key`, valid for `ttl`.
    fn presign_put(
        &self,
        key: &BlobKey,
        content_type: &str,
        size: u64,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError>;
    /// A PUT of part `number` (exactly `size` bytes) of a multipart upload, valid for `ttl`.
    fn presign_part(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        number: u32,
        size: u64,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError>;
    /// A GET of `key`, presented as `download`, valid for `ttl` (signed CDN URL when one is
    /// configured).
    fn presign_get(
        &self,
        key: &BlobKey,
        download: &DownloadAs,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError>;
    /// The object's size and ETag, `None` if there is none.
    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, PortError>;
    /// Up to `len` leading bytes of the object (fewer if it is shorter), `None` if there is none.
    async fn read_prefix(&self, key: &BlobKey, len: usize) -> Result<Option<Vec<u8>>, PortError>;
    /// Copies `from` to `to` inside the store, only if `from` still has `etag`.
    async fn copy_if_match(&self, from: &BlobKey, to: &BlobKey, etag: &str) -> Result<CopyOutcome, PortError>;
    /// Deletes an object; deleting one that is not there succeeds.
    async fn delete(&self, key: &BlobKey) -> Result<(), PortError>;
    /// Up to `limit` objects under `prefix` last written before `before`, in key order.
    async fn list_older_than(
        &self,
        prefix: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ListedBlob>, PortError>;
    /// Copies the object into `to`, a local file the caller owns (streamed, never whole in
    /// memory): how the media worker gets an original. `false` if there is no object.
    async fn download_to(&self, key: &BlobKey, to: &LocalFile) -> Result<bool, PortError>;
    /// Stores the local file `from` as the object `key` with `content_type` (streamed),
    /// replacing what was there: how the media worker stores what it made.
    async fn upload_from(&self, from: &LocalFile, key: &BlobKey, content_type: &str) -> Result<BlobInfo, PortError>;
    /// Starts a multipart upload to `key`.
    async fn create_multipart(&self, key: &BlobKey, content_type: &str) -> Result<MultipartId, PortError>;
    /// The parts uploaded so far, in number order; `None` if the store knows no such upload
    /// (completed, aborted or never made).
    async fn list_parts(&self, key: &BlobKey, upload: &MultipartId) -> Result<Option<Vec<StoredPart>>, PortError>;
    /// Joins the parts into the object at `key`.
    async fn complete_multipart(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        parts: &[PartEtag],
    ) -> Result<CompleteOutcome, PortError>;
    /// Abandons a multipart upload and frees its parts; an unknown upload succeeds.
    async fn abort_multipart(&self, key: &BlobKey, upload: &MultipartId) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn vietnamese_names_are_carried_in_utf8_with_an_ascii_fallback() {
        assert_eq!(
            content_disposition("Hợp đồng \"mới\".pdf", true),
            "attachment; filename=\"H_p __ng _m_i_.pdf\"; filename*=UTF-8''H%E1%BB%A3p%20%C4%91%E1%BB%93ng%20%22m%E1%BB%9Bi%22.pdf"
        );
        assert_eq!(content_disposition("a.jpg", false), "inline; filename=\"a.jpg\"; filename*=UTF-8''a.jpg");
        assert_eq!(
            content_disposition("a;b 100%.pdf", true),
            "attachment; filename=\"a;b 100_.pdf\"; filename*=UTF-8''a%3Bb%20100%25.pdf"
        );
    }
}
