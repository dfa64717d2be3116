//! A [`PushNotification`] in FCM HTTP v1's terms: the `{"message": {...}}` body of
//! `projects.messages.send`, with the block of the device's platform only.
//!
//! - `notification {title, body, image}`: what is shown; absent for a data-only message (a
//!   call, or nothing to show), which the app handles itself.
//! - `data`: the app's string map, with `type` (the [`PushKind`]) added when missing.
//! - `android`: priority, time to live, the conversation as collapse key and as the shown
//!   notification's tag (so a conversation's notifications replace one another).
//! - `apns`: the APNs headers (priority 10 or 5, collapse id, expiration, push type) and the
//!   `aps` dictionary (badge, thread id, sound; `content-available` alone for data-only).
//!   Apple takes a data-only (background) push only at priority 5, whatever was asked.
//! - `webpush`: the Web Push `Urgency` and `TTL` headers.

use std::collections::BTreeMap;

use chat_core::domain::Timestamp;
use chat_core::domain::push::{Platform, Priority, PushKind, PushNotification};
use serde::Serialize;

/// APNs refuses a longer `apns-collapse-id`; a longer thread is left out of it (the
/// notification is still grouped by `thread-id`).
const APNS_COLLAPSE_ID_MAX_BYTES: usize = 64;

/// The request body for `notification`, sent at `now` (APNs expiration is a point in time).
pub(crate) fn encode(notification: &PushNotification, now: Timestamp) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&SendRequest { message: Message::of(notification, now) })
}

#[derive(Serialize)]
struct SendRequest<'a> {
    message: Message<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification: Option<Notification<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    android: Option<AndroidConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apns: Option<ApnsConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webpush: Option<WebpushConfig>,
}

#[derive(Serialize)]
struct Notification<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
}

#[derive(Serialize)]
struct AndroidConfig<'a> {
    priority: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    collapse_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification: Option<AndroidNotification<'a>>,
}

#[derive(Serialize)]
struct AndroidNotification<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_count: Option<u32>,
}

#[derive(Serialize)]
struct ApnsConfig<'a> {
    headers: BTreeMap<&'static str, String>,
    payload: ApnsPayload<'a>,
}

#[derive(Serialize)]
struct ApnsPayload<'a> {
    aps: Aps<'a>,
}

#[derive(Serialize)]
struct Aps<'a> {
    #[serde(rename = "thread-id", skip_serializing_if = "Option::is_none")]
    thread_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    badge: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sound: Option<&'static str>,
    #[serde(rename = "content-available", skip_serializing_if = "Option::is_none")]
    content_available: Option<u8>,
}

#[derive(Serialize)]
struct WebpushConfig {
    headers: BTreeMap<&'static str, String>,
}

impl<'a> Message<'a> {
    fn of(n: &'a PushNotification, now: Timestamp) -> Message<'a> {
        let shown = shows_something(n);
        let mut data: BTreeMap<&str, &str> = n.data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        data.entry("type").or_insert(n.kind.as_str());
        Message {
            token: n.token.as_str(),
            notification: shown.then_some(Notification {
                title: n.title.as_deref(),
                body: n.body.as_deref(),
                image: n.image_url.as_deref(),
            }),
            data,
            android: (n.platform == Platform::Android).then(|| android(n, shown)),
            apns: (n.platform == Platform::Ios).then(|| apns(n, shown, now)),
            webpush: (n.platform == Platform::Web).then(|| webpush(n)),
        }
    }
}

/// A call is always data-only (the app rings itself); anything else shows when it has text.
fn shows_something(n: &PushNotification) -> bool {
    n.kind != PushKind::IncomingCall && (n.title.is_some() || n.body.is_some())
}

fn android(n: &PushNotification, shown: bool) -> AndroidConfig<'_> {
    let thread = n.thread.as_deref();
    AndroidConfig {
        priority: match n.priority {
            Priority::High => "HIGH",
            Priority::Normal => "NORMAL",
        },
        // A protobuf Duration in JSON: whole seconds with an `s` (FCM rounds down anyway).
        ttl: n.ttl.map(|ttl| format!("{}s", ttl.as_secs())),
        collapse_key: thread,
        notification: (shown && (thread.is_some() || n.badge.is_some()))
            .then_some(AndroidNotification { tag: thread, notification_count: n.badge }),
    }
}

fn apns(n: &PushNotification, shown: bool, now: Timestamp) -> ApnsConfig<'_> {
    let mut headers = BTreeMap::new();
    let priority = match (shown, n.priority) {
        (true, Priority::High) => "10",
        _ => "5",
    };
    headers.insert("apns-priority", priority.to_owned());
    headers.insert("apns-push-type", if shown { "alert" } else { "background" }.to_owned());
    if let Some(thread) = n.thread.as_deref().filter(|t| t.len() <= APNS_COLLAPSE_ID_MAX_BYTES) {
        headers.insert("apns-collapse-id", thread.to_owned());
    }
    if let Some(ttl) = n.ttl {
        // APNs wants the moment of expiry in Unix seconds; 0 means "now or never".
        let expiry = match i64::try_from(ttl.as_secs()) {
            Ok(0) => 0,
            Ok(seconds) => now.timestamp().saturating_add(seconds),
            Err(_) => i64::MAX,
        };
        headers.insert("apns-expiration", expiry.to_string());
    }
    // Apple wants a background push's `aps` to hold `content-available` alone.
    let aps = if shown {
        Aps { thread_id: n.thread.as_deref(), badge: n.badge, sound: Some("default"), content_available: None }
    } else {
        Aps { thread_id: None, badge: None, sound: None, content_available: Some(1) }
    };
    ApnsConfig { headers, payload: ApnsPayload { aps } }
}

fn webpush(n: &PushNotification) -> WebpushConfig {
    let mut headers = BTreeMap::new();
    let urgency = match n.priority {
        Priority::High => "high",
        Priority::Normal => "normal",
    };
    headers.insert("Urgency", urgency.to_owned());
    if let Some(ttl) = n.ttl {
        headers.insert("TTL", ttl.as_secs().to_string());
    }
    WebpushConfig { headers }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chat_core::domain::push::PushToken;
    use serde_json::json;

    use super::*;

    fn message(platform: Platform) -> PushNotification {
        PushNotification {
            token: PushToken::parse("tok-1").unwrap(),
            platform,
            kind: PushKind::Message,
            title: Some("Lan".into()),
            body: Some("chào em".into()),
            image_url: Some("https://cdn.example/a.jpg".into()),
            thread: Some("conv-1".into()),
            badge: Some(3),
            data: BTreeMap::from([("conversation_id".to_owned(), "conv-1".to_owned())]),
            priority: Priority::High,
            ttl: Some(Duration::from_secs(3600)),
        }
    }

    fn call(platform: Platform) -> PushNotification {
        PushNotification {
            kind: PushKind::IncomingCall,
            title: Some("Lan".into()),
            body: None,
            image_url: None,
            badge: None,
            ttl: Some(Duration::from_secs(30)),
            ..message(platform)
        }
    }

    fn encoded(n: &PushNotification) -> serde_json::Value {
        let now = Timestamp::from_timestamp(1_700_000_000, 0).unwrap();
        serde_json::from_slice(&encode(n, now).unwrap()).unwrap()
    }

    #[test]
    fn android_message_has_the_notification_and_its_block() {
        assert_eq!(
            encoded(&message(Platform::Android)),
            json!({"message": {
                "token": "tok-1",
                "notification": {"title": "Lan", "body": "chào em", "image": "https://cdn.example/a.jpg"},
                "data": {"conversation_id": "conv-1", "type": "message"},
                "android": {
                    "priority": "HIGH", "ttl": "3600s", "collapse_key": "conv-1",
                    "notification": {"tag": "conv-1", "notification_count": 3}
                }
            }})
        );
    }

    #[test]
    fn ios_message_has_the_apns_block() {
        assert_eq!(
            encoded(&message(Platform::Ios))["message"]["apns"],
            json!({
                "headers": {
                    "apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": "conv-1",
                    "apns-expiration": "1700003600"
                },
                "payload": {"aps": {"thread-id": "conv-1", "badge": 3, "sound": "default"}}
            })
        );
    }

    #[test]
    fn web_message_has_the_webpush_headers() {
        let mut n = message(Platform::Web);
        n.priority = Priority::Normal;
        let body = encoded(&n);
        assert_eq!(body["message"]["webpush"], json!({"headers": {"Urgency": "normal", "TTL": "3600"}}));
        assert!(body["message"].get("android").is_none() && body["message"].get("apns").is_none());
    }

    #[test]
    fn a_call_is_data_only_everywhere() {
        let android = encoded(&call(Platform::Android));
        assert!(android["message"].get("notification").is_none());
        assert_eq!(android["message"]["data"]["type"], "call");
        assert_eq!(android["message"]["android"], json!({"priority": "HIGH", "ttl": "30s", "collapse_key": "conv-1"}));
        assert_eq!(
            encoded(&call(Platform::Ios))["message"]["apns"],
            json!({
                "headers": {
                    "apns-priority": "5", "apns-push-type": "background", "apns-collapse-id": "conv-1",
                    "apns-expiration": "1700000030"
                },
                "payload": {"aps": {"content-available": 1}}
            })
        );
    }

    #[test]
    fn the_callers_type_wins_and_long_threads_stay_out_of_the_collapse_id() {
        let mut n = message(Platform::Ios);
        n.data.insert("type".into(), "custom".into());
        n.thread = Some("x".repeat(65));
        n.ttl = None;
        let body = encoded(&n);
        assert_eq!(body["message"]["data"]["type"], "custom");
        assert_eq!(body["message"]["apns"]["headers"], json!({"apns-priority": "10", "apns-push-type": "alert"}));
    }
}
