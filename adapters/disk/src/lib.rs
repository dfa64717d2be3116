//! The embedded-mode blob store: media bytes in a local directory (under `CHAT_DATA_DIR`)
//! behind the same `BlobStore` port as S3, for a server that runs without object storage.
//!
//! S3 takes uploads and serves downloads itself; here the server does, through its own
//! signed URLs: [`DiskBlobStore`] signs them (the port's `presign_*`) and [`router`] answers
//! them at `{public_base_url}/blobs/{token}`:
//!
//! - `PUT` streams the body to a temporary file (never whole in memory), counting and
//!   hashing as it goes, and refuses another `Content-Type` than the signed one (400
//!   `content_type_mismatch`), a `Content-Length` or body longer than the signed size (413
//!   `too_large`, stopped at the first chunk past it) or shorter (400 `size_mismatch`). Only a
//!   whole, matching body is renamed into place; a refused or broken one leaves nothing. Each
//!   upload URL works once (403 `url_used`): its nonce is claimed in the `ClaimStore`.
//! - `GET` serves the file through tower-http (`Range` → 206, `HEAD`, conditional requests)
//!   with the signed `Content-Type` and `Content-Disposition` (`inline` or `attachment`,
//!   RFC 6266 `filename*` for non-ASCII names), `X-Content-Type-Options: nosniff` and
//!   `Cache-Control: private, max-age=300`.
//! - A token that was changed is 403 `invalid_signature`, one past its time 403 `url_expired`,
//!   all in the API's `{"error": {"code", "message"}}` shape.
//!
//! # Token format
//!
//! `{payload}.{signature}`, both base64url without padding. The payload is JSON:
//!
//! ```text
//! {"op":"put","key":"incoming/{user}/{media}","content_type":"image/jpeg","size":123456,"expires":1767225600,"nonce":"…"}
//! {"op":"part","key":"…","upload":"{upload id}","number":2,"size":8388608,"expires":…,"nonce":"…"}
//! {"op":"get","key":"originals/…","content_type":"image/jpeg","filename":"Ảnh.jpg","attachment":false,"expires":…,"nonce":"…"}
//! ```
//!
//! `expires` is in Unix seconds and the nonce 128 random bits (hex). The signature is
//! HMAC-SHA256 under the store's key of `chat-disk-v1.` followed by the payload's base64 text.
//! Tokens are not encrypted: they say nothing the holder of the URL may not know.
//!
//! # On disk
//!
//! Objects are metadata files at their key's path under `objects/` (size, ETag, content
//! type, time, and the blob holding the bytes); blobs are written once under fresh names in
//! `blobs/`, so renaming a metadata file into place is the single step that makes a write
//! visible, and a server-side copy is a hard link. ETags are the quoted SHA-256 of the bytes.
//! Multipart uploads are directories under `uploads/` with a metadata file per part;
//! completion streams the parts into a new blob. See `layout.rs`.

mod blob_file;
mod download;
mod layout;
mod meta;
mod multipart;
mod objects;
mod refusal;
mod store;
mod token;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::routing::put;

pub use store::{DiskBlobConfig, DiskBlobStore};

/// The blob endpoint, `PUT` and `GET /blobs/{token}`, to mount at the root of the server
/// whose address is the store's `public_base_url`. It reads bodies itself, streaming: do not
/// put a request-body size limit in front of it (the signed size is its limit).
pub fn router(store: Arc<DiskBlobStore>) -> Router {
    Router::new().route("/blobs/{token}", put(upload::receive).get(download::serve)).with_state(store)
}
