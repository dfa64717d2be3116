//! The fake `messages:send`: credentials first, then the message, then the scripted answer.

use std::sync::atomic::Ordering;

use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::json;

use super::server::{Answer as HttpAnswer, json};
use super::{Answer, PROJECT_ID, State, checks};

const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

pub(super) async fn answer(state: &State, headers: &HeaderMap, body: &[u8]) -> HttpAnswer {
    state.sends.fetch_add(1, Ordering::Relaxed);
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(bearer) = bearer else {
        return unauthenticated(
            "Request is missing required authentication credential. Expected OAuth 2 access token.",
        );
    };
    let expires = state.access_tokens.lock().get(bearer).copied();
    if expires.is_none_or(|expires| state.clock.now() >= expires) {
        return unauthenticated("Request had invalid authentication credentials. Expected OAuth 2 access token.");
    }
    if !headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json")) {
        return bad_request("", "Invalid JSON payload received: the content type is not application/json.");
    }
    let message = match checks::send_request(body) {
        Ok(message) => message,
        Err(violation) => return bad_request(&violation.field, &violation.description),
    };
    let token = message["token"].as_str().unwrap_or_default().to_owned();
    let scripted = state.scripts.lock().get_mut(&token).and_then(|answers| answers.pop_front());
    match scripted.unwrap_or(Answer::Sent) {
        Answer::Sent => {
            let mut delivered = state.delivered.lock();
            delivered.push(message);
            json(StatusCode::OK, &json!({"name": format!("projects/{PROJECT_ID}/messages/0:{}", delivered.len())}))
        }
        Answer::Unregistered => {
            google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Requested entity was not found.", Some("UNREGISTERED"))
        }
        Answer::InvalidToken => google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            Some("INVALID_ARGUMENT"),
        ),
        Answer::BadField => bad_request(
            "message.android.ttl",
            "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)",
        ),
        Answer::SenderIdMismatch => {
            google_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", "SenderId mismatch", Some("SENDER_ID_MISMATCH"))
        }
        Answer::Unauthenticated => unauthenticated("Request had invalid authentication credentials."),
        Answer::ThirdPartyAuthError => google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Auth error from APNS or Web Push Service",
            Some("THIRD_PARTY_AUTH_ERROR"),
        ),
        Answer::QuotaExceeded(after) => with_retry_after(
            google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded.",
                Some("QUOTA_EXCEEDED"),
            ),
            after,
        ),
        Answer::Internal(after) => with_retry_after(
            google_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "Internal error encountered.",
                Some("INTERNAL"),
            ),
            after,
        ),
        Answer::Unavailable(after) => with_retry_after(
            google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                Some("UNAVAILABLE"),
            ),
            after,
        ),
        Answer::Stall => {
            let mut stopped = state.stopped.subscribe();
            let _ = stopped.wait_for(|stopped| *stopped).await;
            google_error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "The fake stopped.", None)
        }
    }
}

/// A Google API error, with an `FcmError` detail when `fcm_code` is given.
pub(super) fn google_error(status: StatusCode, name: &str, message: &str, fcm_code: Option<&str>) -> HttpAnswer {
    let details: Vec<_> = fcm_code.map(|code| json!({"@type": FCM_ERROR, "errorCode": code})).into_iter().collect();
    json(status, &json!({"error": {"code": status.as_u16(), "message": message, "status": name, "details": details}}))
}

fn unauthenticated(message: &str) -> HttpAnswer {
    google_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message, None)
}

/// What Google answers for a message that breaks the schema: which field, and why.
fn bad_request(field: &str, description: &str) -> HttpAnswer {
    json(
        StatusCode::BAD_REQUEST,
        &json!({"error": {"code": 400, "message": description, "status": "INVALID_ARGUMENT", "details": [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": description}]
        }]}}),
    )
}

fn with_retry_after(mut answer: HttpAnswer, after: Option<String>) -> HttpAnswer {
    if let Some(after) = after {
        answer.headers_mut().insert(RETRY_AFTER, after.parse().expect("a header value"));
    }
    answer
}
