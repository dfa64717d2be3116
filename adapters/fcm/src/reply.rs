//! What FCM's answer to a send means. An error answer is
//! `{"error": {"code", "message", "status", "details": [...]}}`, where a
//! `google.firebase.fcm.v1.FcmError` detail carries FCM's own `errorCode`. FCM documents
//! that a 400 whose detail is an `FcmError` with `INVALID_ARGUMENT` means the registration
//! token is not valid, while a bad field of the message comes as a `google.rpc.BadRequest`
//! detail naming the field.

use std::time::{Duration, UNIX_EPOCH};

use chat_core::domain::Timestamp;
use chat_core::domain::push::PushOutcome;
use serde::Deserialize;

/// The meaning of one answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Settled: what the port returns.
    Outcome(PushOutcome),
    /// FCM did not take the access token (401): get another and send again, once.
    Unauthenticated(String),
    /// FCM refused the sender itself (no permission on the project, no such project): no
    /// push can go until the configuration is fixed.
    Misconfigured(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(rename = "@type", default)]
    kind: String,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// Classifies FCM's answer: its status, `Retry-After` header and body, read at `now`.
pub(crate) fn classify(status: u16, retry_after: Option<&str>, body: &[u8], now: Timestamp) -> Reply {
    if (200..300).contains(&status) {
        return Reply::Outcome(PushOutcome::Sent);
    }
    let error = serde_json::from_slice::<ErrorBody>(body).ok().map(|body| body.error);
    let fcm_code =
        error.as_ref().and_then(|e| e.details.iter().find(|d| d.kind == FCM_ERROR)).and_then(|d| d.error_code.clone());
    // The reason starts with the most precise code there is, for logs and metrics.
    let code = fcm_code.clone().or_else(|| error.as_ref().map(|e| e.status.clone()).filter(|s| !s.is_empty()));
    let reason = format!(
        "{}: {}",
        code.unwrap_or_else(|| format!("HTTP {status}")),
        error.as_ref().map(|e| e.message.as_str()).filter(|m| !m.is_empty()).unwrap_or("no message"),
    );
    match (status, fcm_code.as_deref()) {
        (_, Some("UNREGISTERED" | "SENDER_ID_MISMATCH")) | (400, Some("INVALID_ARGUMENT")) => {
            Reply::Outcome(PushOutcome::TokenGone { reason })
        }
        // FCM could not reach APNs or the browser's push service with the project's
        // credentials for them: our access token is fine, and trying again will not help.
        (401, Some("THIRD_PARTY_AUTH_ERROR")) => Reply::Outcome(PushOutcome::Rejected { reason }),
        (401, _) => Reply::Unauthenticated(reason),
        (403 | 404, _) => Reply::Misconfigured(reason),
        (408 | 429, _) | (500..=599, _) => {
            let after = retry_after.and_then(|value| parse_retry_after(value, now));
            Reply::Outcome(PushOutcome::RetryLater { after, reason })
        }
        _ => Reply::Outcome(PushOutcome::Rejected { reason }),
    }
}

/// `Retry-After` in either form HTTP allows: seconds, or an HTTP date (a date already
/// past means now). Anything else is ignored.
pub(crate) fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    Some(Duration::from_secs(u64::try_from(at - now.timestamp()).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn fcm_error(code: u16, status: &str, error_code: &str) -> Vec<u8> {
        json!({"error": {"code": code, "message": "m", "status": status, "details": [
            {"@type": FCM_ERROR, "errorCode": error_code}
        ]}})
        .to_string()
        .into_bytes()
    }

    fn outcome(status: u16, retry_after: Option<&str>, body: &[u8]) -> Reply {
        classify(status, retry_after, body, now())
    }

    #[test]
    fn token_errors_mean_the_token_is_gone() {
        for (status, code) in [(404, "UNREGISTERED"), (400, "INVALID_ARGUMENT"), (403, "SENDER_ID_MISMATCH")] {
            let reply = outcome(status, None, &fcm_error(status, "X", code));
            assert_eq!(reply, Reply::Outcome(PushOutcome::TokenGone { reason: format!("{code}: m") }));
        }
    }

    #[test]
    fn a_bad_field_is_rejected_not_a_gone_token() {
        let body = json!({"error": {"code": 400, "message": "Invalid value", "status": "INVALID_ARGUMENT", "details": [
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "message.android.ttl"}]}
        ]}});
        assert_eq!(
            outcome(400, None, body.to_string().as_bytes()),
            Reply::Outcome(PushOutcome::Rejected { reason: "INVALID_ARGUMENT: Invalid value".into() })
        );
    }

    #[test]
    fn auth_and_configuration_errors() {
        assert!(matches!(outcome(401, None, b""), Reply::Unauthenticated(_)));
        assert!(matches!(
            outcome(401, None, &fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")),
            Reply::Outcome(PushOutcome::Rejected { .. })
        ));
        assert!(matches!(outcome(403, None, &fcm_error(403, "PERMISSION_DENIED", "X")), Reply::Misconfigured(_)));
        assert!(matches!(outcome(404, None, b"not json"), Reply::Misconfigured(_)));
    }

    #[test]
    fn overload_is_retried_when_the_service_says() {
        let reply = outcome(503, Some("7"), &fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"));
        assert_eq!(
            reply,
            Reply::Outcome(PushOutcome::RetryLater {
                after: Some(Duration::from_secs(7)),
                reason: "UNAVAILABLE: m".into()
            })
        );
        let reply = outcome(429, Some("Tue, 14 Nov 2023 22:16:40 GMT"), b"");
        assert_eq!(
            reply,
            Reply::Outcome(PushOutcome::RetryLater {
                after: Some(Duration::from_secs(200)),
                reason: "HTTP 429: no message".into()
            })
        );
        assert!(matches!(outcome(500, Some("soon"), b""), Reply::Outcome(PushOutcome::RetryLater { after: None, .. })));
    }

    #[test]
    fn a_past_retry_date_means_now() {
        assert_eq!(parse_retry_after("Mon, 13 Nov 2023 22:13:20 GMT", now()), Some(Duration::ZERO));
    }
}
