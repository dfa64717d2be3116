//! Sending the server's own requests: signed for a few minutes with rusty-s3, sent at once
//! with reqwest (whose client carries the connect and total timeouts), the answer's body
//! read up to a limit so that a misbehaving server cannot make us buffer an object.

use chat_core::domain::error::PortError;
use chat_core::domain::{DateTime, Timestamp, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use rusty_s3::S3Action;

use crate::{S3BlobStore, error};

/// How long the URL of one of the server's own requests is valid. It is sent at once; the
/// margin covers a clock that differs from S3's by a little.
pub(crate) const OWN_REQUEST_VALIDITY: std::time::Duration = std::time::Duration::from_secs(300);

/// The most of an XML answer read: a page of 1000 listed keys is about 300 KiB.
pub(crate) const XML_LIMIT: usize = 8 * 1024 * 1024;

/// What S3 answered.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as text (S3's XML is UTF-8).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, if present and text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl S3BlobStore {
    /// Signs `action` and sends it with its method, the headers it signs, `extra` unsigned
    /// headers (e.g. `range`) and `body`; reads up to `body_limit` bytes of the answer.
    /// `action_name` names it in errors.
    pub(crate) async fn send<'a, A: S3Action<'a>>(
        &self,
        action_name: &str,
        action: &mut A,
        extra: &[(&str, &str)],
        body: Option<Vec<u8>>,
        body_limit: usize,
    ) -> Result<Answer, PortError> {
        let url = action.sign(OWN_REQUEST_VALIDITY);
        let method = Method::from_bytes(A::METHOD.to_str().as_bytes())
            .map_err(|e| PortError::Internal(format!("object store {action_name}: {e}")))?;
        let mut request = self.http.request(method, url.as_str());
        for (name, value) in action.headers_mut().iter().chain(extra.iter().copied()) {
            request = request.header(name, value);
        }
        match body {
            Some(body) => request = request.body(body),
            // S3 answers 411 to a PUT or POST without `Content-Length` (a copy, starting a
            // multipart upload), and reqwest sends none for a request without a body.
            None if matches!(A::METHOD, rusty_s3::Method::Put | rusty_s3::Method::Post) => {
                request = request.header("content-length", "0");
            }
            None => {}
        }
        let mut response = request.send().await.map_err(|e| error::transport(action_name, &e))?;
        let (status, headers) = (response.status(), response.headers().clone());
        let mut read = Vec::new();
        while read.len() < body_limit {
            match response.chunk().await.map_err(|e| error::transport(action_name, &e))? {
                Some(chunk) => read.extend_from_slice(&chunk),
                None => break,
            }
        }
        read.truncate(body_limit);
        Ok(Answer { status, headers, body: read })
    }
}

/// The signing time rusty-s3 takes, from the domain's.
pub(crate) fn signing_time(now: Timestamp) -> Result<jiff::Timestamp, PortError> {
    jiff::Timestamp::new(now.timestamp(), now.timestamp_subsec_nanos().try_into().unwrap_or(0))
        .map_err(|e| PortError::Internal(format!("signing time {now}: {e}")))
}

/// A time from an XML answer (`2009-10-12T17:50:30.000Z`).
pub(crate) fn parse_xml_time(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// A time from an HTTP header (`Wed, 12 Oct 2009 17:50:00 GMT`).
pub(crate) fn parse_http_time(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc2822(text).ok().map(|t| t.with_timezone(&Utc))
}

/// An ETag without its quotes: the form the port hands out and takes back (S3 quotes it in
/// headers and XML; clients may send either).
pub(crate) fn bare_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn times_and_etags_read_as_s3_writes_them() {
        let xml = parse_xml_time("2009-10-12T17:50:30.000Z").unwrap();
        let http = parse_http_time("Mon, 12 Oct 2009 17:50:30 GMT").unwrap();
        assert_eq!(xml, http);
        assert_eq!(bare_etag("\"abc-2\""), "abc-2");
        assert_eq!(bare_etag("abc"), "abc");
    }
}
