//! The server's own calls on whole objects: HEAD, the leading bytes, the pinning copy,
//! delete and the listing the sweeper walks.

use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::media::BlobKey;
use chat_core::ports::{BlobInfo, CopyOutcome, ListedBlob};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use rusty_s3::S3Action;
use rusty_s3::actions::ListObjectsV2;

use crate::request::{Answer, XML_LIMIT, bare_etag, parse_http_time, parse_xml_time};
use crate::{S3BlobStore, error, xml};

/// What `x-amz-copy-source` leaves unencoded: the key's `/` separators and unreserved bytes.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// HeadObject: `None` on 404.
pub(crate) async fn head(store: &S3BlobStore, key: &BlobKey) -> Result<Option<BlobInfo>, PortError> {
    let mut action = store.bucket.head_object(Some(&store.credentials), key.as_str());
    let answer = store.send("HEAD", &mut action, &[], None, 0).await?;
    match answer.status {
        StatusCode::NOT_FOUND => Ok(None),
        status if status.is_success() => info_from_headers(&answer).map(Some),
        status => Err(error::unexpected("HEAD", status, &answer.text())),
    }
}

/// GetObject of the first `len` bytes. A range past the end of an empty object is answered
/// 416, which means "there, but empty".
pub(crate) async fn read_prefix(store: &S3BlobStore, key: &BlobKey, len: usize) -> Result<Option<Vec<u8>>, PortError> {
    if len == 0 {
        // `bytes=0--1` is no range; whether the object is there is all there is to say.
        return Ok(head(store, key).await?.map(|_| Vec::new()));
    }
    let mut action = store.bucket.get_object(Some(&store.credentials), key.as_str());
    let range = format!("bytes=0-{}", len - 1);
    let answer = store.send("GET", &mut action, &[("range", &range)], None, len).await?;
    match answer.status {
        StatusCode::NOT_FOUND => Ok(None),
        StatusCode::RANGE_NOT_SATISFIABLE => Ok(Some(Vec::new())),
        // A server that ignores the range answers 200 with everything; `send` read `len` of it.
        status if status.is_success() => Ok(Some(answer.body)),
        status => Err(error::unexpected("GET", status, &answer.text())),
    }
}

/// CopyObject `from` -> `to` under `x-amz-copy-source-if-match`: S3 answers 412 when the
/// source was written again since its ETag was read, so what was checked is what is pinned.
pub(crate) async fn copy_if_match(
    store: &S3BlobStore,
    from: &BlobKey,
    to: &BlobKey,
    etag: &str,
) -> Result<CopyOutcome, PortError> {
    let source = format!("/{}/{}", store.bucket.name(), utf8_percent_encode(from.as_str(), COPY_SOURCE));
    let if_match = format!("\"{}\"", bare_etag(etag));
    let mut action = store.bucket.put_object(Some(&store.credentials), to.as_str());
    // Signed, as AWS requires of every `x-amz-*` header.
    action.headers_mut().insert("x-amz-copy-source", source.as_str());
    action.headers_mut().insert("x-amz-copy-source-if-match", if_match.as_str());
    let answer = store.send("copy", &mut action, &[], None, XML_LIMIT).await?;
    let body = answer.text();
    match answer.status {
        StatusCode::PRECONDITION_FAILED => Ok(CopyOutcome::SourceChanged),
        StatusCode::NOT_FOUND if xml::error_code(&body).as_deref() != Some("NoSuchBucket") => {
            Ok(CopyOutcome::SourceMissing)
        }
        // S3 can answer 200 and put the error in the body when a long copy fails midway.
        status if status.is_success() && xml::error_code(&body).is_none() => {
            let new_etag = xml::first_element(&body, "ETag").ok_or_else(|| error::malformed("copy", "no ETag"))?;
            // The copy answer has no size; the copy has the source's, which HEAD tells.
            let copied = head(store, to).await?.ok_or_else(|| error::malformed("copy", "the copy is not there"))?;
            if copied.etag != bare_etag(&new_etag) {
                // Only the server writes pinned keys; another copy raced this one.
                return Err(PortError::Internal(format!("object store copy: {to} changed right after the copy")));
            }
            Ok(CopyOutcome::Copied(copied))
        }
        status => Err(error::unexpected("copy", status, &body)),
    }
}

/// DeleteObject; S3 answers 204 whether or not the key was there (some servers 404).
pub(crate) async fn delete(store: &S3BlobStore, key: &BlobKey) -> Result<(), PortError> {
    let mut action = store.bucket.delete_object(Some(&store.credentials), key.as_str());
    let answer = store.send("DELETE", &mut action, &[], None, XML_LIMIT).await?;
    match answer.status {
        StatusCode::NOT_FOUND => Ok(()),
        status if status.is_success() => Ok(()),
        status => Err(error::unexpected("DELETE", status, &answer.text())),
    }
}

/// ListObjectsV2 under `prefix`, page after page, keeping those last written before
/// `before` until `limit` are found. S3 lists in key order, so the result is too.
pub(crate) async fn list_older_than(
    store: &S3BlobStore,
    prefix: &str,
    before: Timestamp,
    limit: usize,
) -> Result<Vec<ListedBlob>, PortError> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    while found.len() < limit {
        let mut action = store.bucket.list_objects_v2(Some(&store.credentials));
        action.with_prefix(prefix);
        action.with_max_keys(1000);
        if let Some(token) = &token {
            action.with_continuation_token(token.as_str());
        }
        let answer = store.send("list", &mut action, &[], None, XML_LIMIT).await?;
        let body = answer.text();
        if !answer.status.is_success() {
            return Err(error::unexpected("list", answer.status, &body));
        }
        let page = ListObjectsV2::parse_response(&body).map_err(|e| error::malformed("list", e))?;
        for object in page.contents {
            let modified = object.last_modified.as_deref().and_then(parse_xml_time);
            let (Some(last_modified), Some(size)) = (modified, object.size) else {
                return Err(error::malformed("list", format!("{} has no time or size", object.key)));
            };
            if last_modified < before && found.len() < limit {
                let key = BlobKey::from_stored(object.key);
                let info = match object.etag {
                    Some(etag) => BlobInfo { size, etag: bare_etag(&etag), last_modified },
                    // S3 always lists ETags; compatible servers (s3s-fs) may not, and HEAD
                    // has it. A key deleted in between is no longer there to list.
                    None => match head(store, &key).await? {
                        Some(info) => info,
                        None => continue,
                    },
                };
                found.push(ListedBlob { key, info });
            }
        }
        match page.next_continuation_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    Ok(found)
}

/// HeadBucket, for readiness.
pub(crate) async fn head_bucket(store: &S3BlobStore) -> Result<(), PortError> {
    let mut action = store.bucket.head_bucket(Some(&store.credentials));
    let answer = store.send("HEAD bucket", &mut action, &[], None, 0).await?;
    if answer.status.is_success() {
        Ok(())
    } else if answer.status.is_client_error() {
        // A missing bucket or refused credentials: the store cannot serve until someone acts.
        Err(PortError::Unavailable(format!("object store bucket {}: {}", store.bucket.name(), answer.status)))
    } else {
        Err(error::unexpected("HEAD bucket", answer.status, ""))
    }
}

/// Size, ETag and time from HEAD's headers.
fn info_from_headers(answer: &Answer) -> Result<BlobInfo, PortError> {
    let size = answer.header("content-length").and_then(|v| v.parse().ok());
    let etag = answer.header("etag").map(bare_etag);
    let last_modified = answer.header("last-modified").and_then(parse_http_time);
    match (size, etag, last_modified) {
        (Some(size), Some(etag), Some(last_modified)) => Ok(BlobInfo { size, etag, last_modified }),
        _ => Err(error::malformed("HEAD", "no Content-Length, ETag or Last-Modified")),
    }
}
