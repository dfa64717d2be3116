//! clamd's replies to INSTREAM and PING, read into verdicts and port errors.

use chat_core::domain::error::PortError;
use chat_core::ports::ScanVerdict;

/// What clamd says when a stream is longer than its `StreamMaxLength`.
const SIZE_LIMIT: &str = "size limit exceeded";

/// Reads clamd's reply to `zINSTREAM`: `stream: OK`, `stream: <signature> FOUND`, or
/// `<reason> ERROR` (e.g. `INSTREAM size limit exceeded. ERROR`), NUL-terminated.
pub(crate) fn verdict(reply: &[u8]) -> Result<ScanVerdict, PortError> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\0', '\n', '\r', ' ']);
    if text.is_empty() {
        // clamd closed the connection without a word: it stopped or restarted mid-scan.
        return Err(PortError::Unavailable("clamd closed the connection without a verdict".into()));
    }
    let body = text.strip_prefix("stream: ").unwrap_or(text);
    if body == "OK" {
        return Ok(ScanVerdict::Clean);
    }
    if let Some(signature) = body.strip_suffix(" FOUND") {
        let signature = signature.trim();
        if !signature.is_empty() {
            return Ok(ScanVerdict::Infected { signature: signature.to_owned() });
        }
    }
    if body.ends_with("ERROR") {
        if body.contains(SIZE_LIMIT) {
            return Err(PortError::Internal(format!("clamd refused the file: {SIZE_LIMIT} ({body})")));
        }
        // Errors a retry may cure (e.g. "Can't allocate memory", a queue full).
        return Err(PortError::Unavailable(format!("clamd could not scan the file: {body}")));
    }
    Err(PortError::Internal(format!("clamd's reply is not understood: {body:?}")))
}

/// Whether clamd answered `zPING` with `PONG`.
pub(crate) fn is_pong(reply: &[u8]) -> bool {
    reply.strip_suffix(b"\0").unwrap_or(reply).trim_ascii() == b"PONG"
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ok_is_clean() {
        assert_eq!(verdict(b"stream: OK\0").unwrap(), ScanVerdict::Clean);
    }

    #[test]
    fn found_names_the_signature() {
        assert_eq!(
            verdict(b"stream: Win.Test.EICAR_HDB-1 FOUND\0").unwrap(),
            ScanVerdict::Infected { signature: "Win.Test.EICAR_HDB-1".into() }
        );
    }

    #[test]
    fn the_size_limit_is_an_error_not_a_verdict() {
        let error = verdict(b"INSTREAM size limit exceeded. ERROR\0").unwrap_err();
        assert!(matches!(&error, PortError::Internal(m) if m.contains("size limit exceeded")), "{error:?}");
    }

    #[test]
    fn other_errors_and_silence_are_retried() {
        assert!(matches!(verdict(b"stream: Can't allocate memory ERROR\0"), Err(PortError::Unavailable(_))));
        assert!(matches!(verdict(b""), Err(PortError::Unavailable(_))));
        assert!(matches!(verdict(b"\0"), Err(PortError::Unavailable(_))));
    }

    #[test]
    fn anything_else_is_never_clean() {
        assert!(matches!(verdict(b"stream: maybe\0"), Err(PortError::Internal(_))));
        assert!(matches!(verdict(b"stream:  FOUND\0"), Err(PortError::Internal(_))));
        assert!(matches!(verdict(b"OKAY\0"), Err(PortError::Internal(_))));
    }

    #[test]
    fn pong() {
        assert!(is_pong(b"PONG\0"));
        assert!(is_pong(b"PONG\n"));
        assert!(!is_pong(b"UNKNOWN COMMAND\0"));
        assert!(!is_pong(b""));
    }
}
