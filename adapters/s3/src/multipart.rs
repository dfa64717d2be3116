//! Multipart uploads: the server starts and finishes them, the client PUTs the parts with
//! presigned URLs (see `presign.rs`).

use chat_core::domain::error::PortError;
use chat_core::domain::media::{BlobKey, MultipartId};
use chat_core::ports::{CompleteOutcome, PartEtag, StoredPart};
use reqwest::StatusCode;
use rusty_s3::S3Action;
use rusty_s3::actions::CreateMultipartUpload;

use crate::request::{XML_LIMIT, bare_etag};
use crate::{S3BlobStore, error, xml};

/// The codes with which S3 refuses a part list for the client's reasons.
const REFUSALS: [(&str, &str); 5] = [
    ("InvalidPart", "a part is missing or its ETag does not match the uploaded part"),
    ("InvalidPartOrder", "the parts are not in ascending order of part number"),
    ("EntityTooSmall", "a part other than the last is smaller than 5 MiB"),
    ("NoSuchUpload", "no such upload: it was completed, aborted or never started"),
    ("MalformedXML", "the part list is empty or malformed"),
];

/// CreateMultipartUpload with the object's content type.
pub(crate) async fn create(store: &S3BlobStore, key: &BlobKey, content_type: &str) -> Result<MultipartId, PortError> {
    let mut action = store.bucket.create_multipart_upload(Some(&store.credentials), key.as_str());
    action.headers_mut().insert("content-type", content_type);
    let answer = store.send("create multipart", &mut action, &[], None, XML_LIMIT).await?;
    let body = answer.text();
    if !answer.status.is_success() {
        return Err(error::unexpected("create multipart", answer.status, &body));
    }
    let created = CreateMultipartUpload::parse_response(&body).map_err(|e| error::malformed("create multipart", e))?;
    Ok(MultipartId::from_stored(created.upload_id().to_owned()))
}

/// ListParts, every page; `None` when S3 knows no such upload. The answer is read here
/// rather than by rusty-s3, which requires `MaxParts` and `ETag`s that S3-compatible servers
/// (s3s-fs) leave out.
pub(crate) async fn list_parts(
    store: &S3BlobStore,
    key: &BlobKey,
    upload: &MultipartId,
) -> Result<Option<Vec<StoredPart>>, PortError> {
    let mut parts = Vec::new();
    let mut marker: Option<u16> = None;
    loop {
        let mut action = store.bucket.list_parts(Some(&store.credentials), key.as_str(), upload.as_str());
        if let Some(marker) = marker {
            action.set_part_number_marker(marker);
        }
        let answer = store.send("list parts", &mut action, &[], None, XML_LIMIT).await?;
        let body = answer.text();
        if answer.status == StatusCode::NOT_FOUND && xml::error_code(&body).as_deref() == Some("NoSuchUpload") {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(error::unexpected("list parts", answer.status, &body));
        }
        for part in xml::elements(&body, "Part") {
            parts.push(stored_part(part)?);
        }
        let truncated = xml::first_element(&body, "IsTruncated").is_some_and(|t| t == "true");
        let next = xml::first_element(&body, "NextPartNumberMarker").and_then(|n| n.parse().ok());
        match (truncated, next) {
            (false, _) => break,
            (true, Some(next)) if Some(next) != marker => marker = Some(next),
            (true, _) => return Err(error::malformed("list parts", "truncated without a next marker")),
        }
    }
    parts.sort_by_key(|part| part.number);
    Ok(Some(parts))
}

/// One `<Part>` of a listing. A part without an ETag (s3s-fs lists none) gets an empty one:
/// its number and size still tell what was uploaded, and an empty ETag matches no client's.
fn stored_part(part: &str) -> Result<StoredPart, PortError> {
    let number = xml::first_element(part, "PartNumber").and_then(|n| n.parse().ok());
    let size = xml::first_element(part, "Size").and_then(|n| n.parse().ok());
    let (Some(number), Some(size)) = (number, size) else {
        return Err(error::malformed("list parts", "a part without a number or size"));
    };
    let etag = xml::first_element(part, "ETag").map(|e| bare_etag(&e)).unwrap_or_default();
    Ok(StoredPart { number, etag, size })
}

/// CompleteMultipartUpload with the client's part list. The body is written here rather
/// than by rusty-s3, which numbers the parts 1, 2, 3... itself: the list must reach S3 as the
/// client gave it, so that S3 (not we) judges a gap or a wrong ETag.
pub(crate) async fn complete(
    store: &S3BlobStore,
    key: &BlobKey,
    upload: &MultipartId,
    parts: &[PartEtag],
) -> Result<CompleteOutcome, PortError> {
    if parts.is_empty() {
        return Ok(CompleteOutcome::Refused("no parts were given".into()));
    }
    if parts.windows(2).any(|pair| pair[0].number >= pair[1].number) {
        // S3 says InvalidPartOrder; some compatible servers say it differently, or not at all.
        return Ok(CompleteOutcome::Refused(REFUSALS[1].1.to_owned()));
    }
    let mut action = store.bucket.complete_multipart_upload(
        Some(&store.credentials),
        key.as_str(),
        upload.as_str(),
        std::iter::empty::<&str>(),
    );
    let body = completion_body(parts);
    let answer = store.send("complete multipart", &mut action, &[], Some(body.into_bytes()), XML_LIMIT).await?;
    completion_outcome(answer.status, &answer.text())
}

/// What S3's answer to CompleteMultipartUpload means: done, refused for the client's reasons
/// (a wrong or missing part, an unknown upload), or a failure.
fn completion_outcome(status: StatusCode, text: &str) -> Result<CompleteOutcome, PortError> {
    let code = xml::error_code(text);
    // S3 answers 200 and puts the error in the body when it fails after starting to answer.
    if status.is_success() && code.is_none() {
        return Ok(CompleteOutcome::Completed);
    }
    let refusal = REFUSALS.iter().find(|(known, _)| code.as_deref() == Some(*known));
    match refusal {
        Some((_, words)) if status.is_client_error() || status.is_success() => {
            Ok(CompleteOutcome::Refused((*words).to_owned()))
        }
        _ => Err(error::unexpected("complete multipart", status, text)),
    }
}

/// AbortMultipartUpload; an unknown upload is fine.
pub(crate) async fn abort(store: &S3BlobStore, key: &BlobKey, upload: &MultipartId) -> Result<(), PortError> {
    let mut action = store.bucket.abort_multipart_upload(Some(&store.credentials), key.as_str(), upload.as_str());
    let answer = store.send("abort multipart", &mut action, &[], None, XML_LIMIT).await?;
    match answer.status {
        StatusCode::NOT_FOUND => Ok(()),
        status if status.is_success() => Ok(()),
        status => Err(error::unexpected("abort multipart", status, &answer.text())),
    }
}

/// `<CompleteMultipartUpload><Part><PartNumber>n</PartNumber><ETag>"e"</ETag></Part>...`.
fn completion_body(parts: &[PartEtag]) -> String {
    let parts: String = parts
        .iter()
        .map(|part| {
            let etag = xml::escape(&format!("\"{}\"", bare_etag(&part.etag)));
            format!("<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>", part.number)
        })
        .collect();
    format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_body(code: &str) -> String {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>m</Message></Error>")
    }

    /// S3's answers to a completion the strict contract checks make (which the local test
    /// server never gives): a wrong part ETag, an upload already finished.
    #[test]
    fn s3_refusals_of_a_part_list_are_the_clients_and_its_failures_are_not() {
        let refused = |status, code: &str| completion_outcome(status, &error_body(code));
        assert!(matches!(refused(StatusCode::BAD_REQUEST, "InvalidPart"), Ok(CompleteOutcome::Refused(_))));
        assert!(matches!(refused(StatusCode::NOT_FOUND, "NoSuchUpload"), Ok(CompleteOutcome::Refused(_))));
        assert!(matches!(refused(StatusCode::BAD_REQUEST, "EntityTooSmall"), Ok(CompleteOutcome::Refused(_))));
        // An error inside a 200 (S3 had started answering) is still an error.
        assert!(matches!(refused(StatusCode::OK, "InvalidPart"), Ok(CompleteOutcome::Refused(_))));
        assert!(refused(StatusCode::OK, "InternalError").is_err());
        assert!(refused(StatusCode::INTERNAL_SERVER_ERROR, "InternalError").is_err());
        let done = "<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>";
        assert_eq!(completion_outcome(StatusCode::OK, done).ok(), Some(CompleteOutcome::Completed));
    }

    #[test]
    fn the_completion_body_keeps_the_clients_numbers_and_quotes_the_etags() {
        let parts = [PartEtag { number: 1, etag: "\"a\"".into() }, PartEtag { number: 3, etag: "b".into() }];
        assert_eq!(
            completion_body(&parts),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part>\
             <Part><PartNumber>3</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>"
        );
    }
}
