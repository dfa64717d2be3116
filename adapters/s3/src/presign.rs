//! The presigned requests clients use straight against S3 (or the CDN). Uploads sign
//! `content-type` and `content-length` as headers, so S3 refuses a PUT of another type or
//! size than the one planned; downloads carry the type and disposition S3 (or CloudFront)
//! answers with, since what the client uploaded says nothing trustworthy.

use chat_core::domain::error::PortError;
use chat_core::domain::media::{BlobKey, MultipartId};
use chat_core::domain::{Duration, Timestamp};
use chat_core::ports::{DownloadAs, SignedMethod, SignedRequest};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rusty_s3::S3Action;

use crate::S3BlobStore;
use crate::request::signing_time;

/// S3 takes presigned URLs valid from 1 second to 7 days.
const LONGEST_VALIDITY_SECS: i64 = 7 * 24 * 3600;

/// RFC 3986 unreserved characters stay, everything else is percent-encoded: what a query
/// value and a path segment may carry as is.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A PUT of the whole object.
pub(crate) fn put(
    store: &S3BlobStore,
    key: &BlobKey,
    content_type: &str,
    size: u64,
    now: Timestamp,
    ttl: Duration,
) -> Result<SignedRequest, PortError> {
    let (validity, expires_at) = validity(now, ttl);
    let mut action = store.bucket.put_object(Some(&store.credentials), key.as_str());
    let headers =
        vec![("content-length".to_owned(), size.to_string()), ("content-type".to_owned(), content_type.to_owned())];
    for (name, value) in &headers {
        action.headers_mut().insert(name.as_str(), value.as_str());
    }
    let url = action.sign_with_time(validity, &signing_time(now)?);
    Ok(SignedRequest { method: SignedMethod::Put, url: url.into(), headers, expires_at })
}

/// A PUT of one part of a multipart upload (S3 numbers them 1 to 10000).
pub(crate) fn part(
    store: &S3BlobStore,
    key: &BlobKey,
    upload: &MultipartId,
    number: u32,
    size: u64,
    now: Timestamp,
    ttl: Duration,
) -> Result<SignedRequest, PortError> {
    let number = u16::try_from(number)
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| PortError::Internal(format!("part number {number} is outside 1 to 10000")))?;
    let (validity, expires_at) = validity(now, ttl);
    let mut action = store.bucket.upload_part(Some(&store.credentials), key.as_str(), number, upload.as_str());
    let headers = vec![("content-length".to_owned(), size.to_string())];
    for (name, value) in &headers {
        action.headers_mut().insert(name.as_str(), value.as_str());
    }
    let url = action.sign_with_time(validity, &signing_time(now)?);
    Ok(SignedRequest { method: SignedMethod::Put, url: url.into(), headers, expires_at })
}

/// A GET: a CloudFront signed URL when a CDN is configured, else a presigned S3 URL. Both
/// ask the origin to answer with the given type and disposition (`response-content-*`).
pub(crate) fn get(
    store: &S3BlobStore,
    key: &BlobKey,
    download: &DownloadAs,
    now: Timestamp,
    ttl: Duration,
) -> Result<SignedRequest, PortError> {
    let (validity, expires_at) = validity(now, ttl);
    let disposition = download.content_disposition();
    let url = match &store.cdn {
        Some(cdn) => {
            let path: Vec<String> =
                key.as_str().split('/').map(|segment| utf8_percent_encode(segment, UNRESERVED).to_string()).collect();
            // Sorted by name, as S3 itself would sign them.
            let query = format!(
                "response-content-disposition={}&response-content-type={}",
                utf8_percent_encode(&disposition, UNRESERVED),
                utf8_percent_encode(&download.content_type, UNRESERVED)
            );
            cdn.sign(&format!("/{}?{query}", path.join("/")), expires_at.timestamp())
        }
        None => {
            let mut action = store.bucket.get_object(Some(&store.credentials), key.as_str());
            action.query_mut().insert("response-content-disposition", disposition);
            action.query_mut().insert("response-content-type", download.content_type.clone());
            action.sign_with_time(validity, &signing_time(now)?).into()
        }
    };
    Ok(SignedRequest { method: SignedMethod::Get, url, headers: Vec::new(), expires_at })
}

/// `ttl` within what S3 accepts, and when the URL stops working.
fn validity(now: Timestamp, ttl: Duration) -> (std::time::Duration, Timestamp) {
    let seconds = ttl.num_seconds().clamp(1, LONGEST_VALIDITY_SECS);
    (std::time::Duration::from_secs(seconds.unsigned_abs()), now + Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{CdnConfig, ConfigError, S3Config, Timeouts};

    fn config(cdn: Option<CdnConfig>) -> S3Config {
        S3Config {
            endpoint: None,
            region: "eu-west-1".into(),
            bucket: "media".into(),
            access_key: "AKIAEXAMPLE".into(),
            secret_key: "secret".into(),
            path_style: false,
            cdn,
            timeouts: Timeouts::default(),
        }
    }

    fn cdn(key_file: &str) -> CdnConfig {
        CdnConfig {
            domain: "d111111abcdef8.cloudfront.net".into(),
            key_pair_id: "K2JCJMDEHXQW5F".into(),
            private_key_file: format!("{}/tests/fixtures/{key_file}", env!("CARGO_MANIFEST_DIR")).into(),
        }
    }

    #[test]
    fn without_an_endpoint_it_signs_for_aws_and_with_a_cdn_downloads_go_through_it() {
        let now = Timestamp::default();
        let key = BlobKey::from_stored("originals/u/m".into());
        let store = S3BlobStore::new(config(None)).unwrap();
        let upload = put(&store, &key, "image/png", 10, now, Duration::minutes(5)).unwrap();
        assert!(upload.url.starts_with("https://media.s3.eu-west-1.amazonaws.com/originals/u/m?"), "{}", upload.url);
        let download = DownloadAs { content_type: "image/png".into(), filename: "a.png".into(), attachment: false };
        let direct = get(&store, &key, &download, now, Duration::minutes(5)).unwrap();
        assert!(direct.url.contains("response-content-type=image%2Fpng"), "{}", direct.url);

        let store = S3BlobStore::new(config(Some(cdn("cloudfront-test-key.pem")))).unwrap();
        let via_cdn = get(&store, &key, &download, now, Duration::minutes(5)).unwrap();
        assert!(
            via_cdn.url.starts_with(
                "https://d111111abcdef8.cloudfront.net/originals/u/m?response-content-disposition=inline%3B%20\
                 filename%3D%22a.png%22%3B%20filename%2A%3DUTF-8%27%27a.png&response-content-type=image%2Fpng\
                 &Expires=300&Signature="
            ),
            "{}",
            via_cdn.url
        );
        assert!(via_cdn.url.ends_with("&Key-Pair-Id=K2JCJMDEHXQW5F"));
        assert_eq!(via_cdn.expires_at, now + Duration::minutes(5));
    }

    #[test]
    fn a_configuration_that_cannot_work_is_refused_with_what_is_wrong() {
        let empty_bucket = S3Config { bucket: String::new(), ..config(None) };
        assert!(matches!(S3BlobStore::new(empty_bucket), Err(ConfigError::Empty(_))));
        let not_http = S3Config { endpoint: Some("ftp://example.com".into()), ..config(None) };
        assert!(matches!(S3BlobStore::new(not_http), Err(ConfigError::Endpoint(_))));
        let no_key = config(Some(cdn("no-such-key.pem")));
        assert!(matches!(S3BlobStore::new(no_key), Err(ConfigError::CdnKey { .. })));
        let not_a_key = config(Some(cdn("cloudfront-test-signature.txt")));
        assert!(matches!(S3BlobStore::new(not_a_key), Err(ConfigError::CdnKey { .. })));
    }

    #[test]
    fn validity_stays_within_what_s3_accepts() {
        let now = Timestamp::default();
        assert_eq!(validity(now, Duration::zero()).0.as_secs(), 1);
        assert_eq!(validity(now, Duration::days(30)).0.as_secs(), 604_800);
        assert_eq!(validity(now, Duration::minutes(15)).1, now + Duration::minutes(15));
    }
}
