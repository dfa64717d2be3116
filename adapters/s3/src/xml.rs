//! The few values read out of S3's small XML answers that rusty-s3 does not parse
//! (`CopyObjectResult`, `Error`). They are flat and machine-written, so reading the text of
//! the first element of a name is enough and stays independent of namespaces.

/// The text of the first `<name>` element, entities decoded.
pub(crate) fn first_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape(&xml[start..end]))
}

/// The contents of every `<name>` element, in order (the `<Part>`s of a part listing).
pub(crate) fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let inner = &rest[start + open.len()..];
        let Some(end) = inner.find(&close) else { break };
        found.push(&inner[..end]);
        rest = &inner[end + close.len()..];
    }
    found
}

/// The `<Code>` of an S3 error answer, e.g. `NoSuchUpload`.
pub(crate) fn error_code(xml: &str) -> Option<String> {
    first_element(xml, "Code")
}

/// Decodes the five predefined entities (`&quot;` wraps every ETag).
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

/// Escapes text for an element's content.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_etag_of_a_copy_result_and_the_code_of_an_error() {
        let copy = r#"<?xml version="1.0" encoding="UTF-8"?>
<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyObjectResult>"#;
        assert_eq!(first_element(copy, "ETag").as_deref(), Some("\"9b2cf535f27731c974343645a3985328\""));
        assert_eq!(first_element(copy, "LastModified").as_deref(), Some("2009-10-12T17:50:30.000Z"));
        let error = "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>";
        assert_eq!(error_code(error).as_deref(), Some("NoSuchUpload"));
        assert_eq!(error_code("not xml"), None);
        let parts = "<R><Part><N>1</N></Part><Part><N>2</N></Part><IsTruncated>false</IsTruncated></R>";
        assert_eq!(elements(parts, "Part"), ["<N>1</N>", "<N>2</N>"]);
        assert_eq!(unescape(&escape("a<&>\"b")), "a<&>\"b");
    }
}
