//! The fake's check of a send request against the FCM HTTP v1 `Message` schema (the fields
//! FCM documents, nothing else, at every level) and the rules Google and Apple add: one
//! target, no reserved data keys, at most 4 KB of payload, a protobuf duration for the
//! Android TTL, valid APNs and Web Push headers, and a background APNs push made of
//! `content-available` alone at priority 5.

// The structs spell out the schema; most fields are read only to be type-checked.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// What is wrong, as Google's `google.rpc.BadRequest` field violation says it.
pub(super) struct Violation {
    pub(super) field: String,
    pub(super) description: String,
}

fn violation(field: &str, description: impl Into<String>) -> Violation {
    Violation { field: field.to_owned(), description: description.into() }
}

type StringMap = BTreeMap<String, String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    message: Message,
    validate_only: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    name: Option<String>,
    token: Option<String>,
    topic: Option<String>,
    condition: Option<String>,
    data: Option<StringMap>,
    notification: Option<Notification>,
    android: Option<AndroidConfig>,
    webpush: Option<WebpushConfig>,
    apns: Option<ApnsConfig>,
    fcm_options: Option<FcmOptions>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Notification {
    title: Option<String>,
    body: Option<String>,
    image: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FcmOptions {
    analytics_label: Option<String>,
    image: Option<String>,
    link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum AndroidPriority {
    Normal,
    High,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AndroidConfig {
    collapse_key: Option<String>,
    priority: Option<AndroidPriority>,
    ttl: Option<String>,
    restricted_package_name: Option<String>,
    data: Option<StringMap>,
    notification: Option<AndroidNotification>,
    fcm_options: Option<FcmOptions>,
    direct_boot_ok: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AndroidNotification {
    title: Option<String>,
    body: Option<String>,
    icon: Option<String>,
    color: Option<String>,
    sound: Option<String>,
    tag: Option<String>,
    click_action: Option<String>,
    body_loc_key: Option<String>,
    body_loc_args: Option<Vec<String>>,
    title_loc_key: Option<String>,
    title_loc_args: Option<Vec<String>>,
    channel_id: Option<String>,
    ticker: Option<String>,
    sticky: Option<bool>,
    event_time: Option<String>,
    local_only: Option<bool>,
    notification_priority: Option<String>,
    default_sound: Option<bool>,
    default_vibrate_timings: Option<bool>,
    default_light_settings: Option<bool>,
    vibrate_timings: Option<Vec<String>>,
    visibility: Option<String>,
    notification_count: Option<u32>,
    light_settings: Option<IgnoredAny>,
    image: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebpushConfig {
    headers: Option<StringMap>,
    data: Option<StringMap>,
    notification: Option<serde_json::Map<String, Value>>,
    fcm_options: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApnsConfig {
    headers: Option<StringMap>,
    payload: Option<serde_json::Map<String, Value>>,
    fcm_options: Option<IgnoredAny>,
    live_activity_token: Option<String>,
}

/// Keys FCM keeps for itself in `data` (and any key starting with `google` or `gcm`).
const RESERVED_DATA_KEYS: [&str; 3] = ["from", "notification", "message_type"];
/// FCM's limit on a message's payload (data keys and values, notification text).
const MAX_PAYLOAD_BYTES: usize = 4096;
const APS_KEYS: [&str; 10] = [
    "alert",
    "badge",
    "sound",
    "thread-id",
    "category",
    "content-available",
    "mutable-content",
    "target-content-id",
    "interruption-level",
    "relevance-score",
];

/// Checks a send request's body; returns its `message` when it is one FCM would take.
pub(super) fn send_request(body: &[u8]) -> Result<Value, Violation> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| violation("", format!("Invalid JSON payload received. {e}")))?;
    let request: SendRequest = serde_json::from_value(value.clone())
        .map_err(|e| violation("message", format!("Invalid JSON payload received. {e}")))?;
    let message = &request.message;
    let targets = [&message.token, &message.topic, &message.condition].iter().filter(|t| t.is_some()).count();
    if targets != 1 {
        return Err(violation("message", "Exactly one of token, topic or condition must be set."));
    }
    if message.token.as_deref() == Some("") {
        return Err(violation("message.token", "The registration token is empty."));
    }
    check_data(message)?;
    if let Some(android) = &message.android {
        check_android(android)?;
    }
    if let Some(apns) = &message.apns {
        check_apns(apns)?;
    }
    if let Some(webpush) = &message.webpush {
        check_webpush(webpush)?;
    }
    Ok(value["message"].clone())
}

fn check_data(message: &Message) -> Result<(), Violation> {
    let data = message.data.iter().flatten();
    if let Some((key, _)) = data.clone().find(|(key, _)| {
        RESERVED_DATA_KEYS.contains(&key.as_str()) || key.starts_with("google") || key.starts_with("gcm")
    }) {
        return Err(violation("message.data", format!("Invalid data key: {key:?} is reserved.")));
    }
    let notification = message.notification.iter().flat_map(|n| [&n.title, &n.body]).flatten();
    let size = data.map(|(k, v)| k.len() + v.len()).sum::<usize>() + notification.map(String::len).sum::<usize>();
    if size > MAX_PAYLOAD_BYTES {
        return Err(violation("message", format!("Message is too big: {size} bytes of payload.")));
    }
    Ok(())
}

fn check_android(android: &AndroidConfig) -> Result<(), Violation> {
    if let Some(ttl) = &android.ttl
        && !is_protobuf_duration(ttl)
    {
        return Err(violation("message.android.ttl", format!("Invalid value at 'message.android.ttl': {ttl:?}")));
    }
    Ok(())
}

/// `3s`, `3.5s`: seconds with up to nine decimals and an `s`.
fn is_protobuf_duration(text: &str) -> bool {
    let Some(number) = text.strip_suffix('s') else { return false };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction) && fraction.len() <= 9
}

fn check_apns(apns: &ApnsConfig) -> Result<(), Violation> {
    let headers = apns.headers.clone().unwrap_or_default();
    let field = |name: &str| format!("message.apns.headers[{name}]");
    let priority = headers.get("apns-priority").map(String::as_str);
    if !matches!(priority, None | Some("10" | "5" | "1")) {
        return Err(violation(&field("apns-priority"), "apns-priority must be 10, 5 or 1."));
    }
    if let Some(expiration) = headers.get("apns-expiration")
        && (expiration.is_empty() || !expiration.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(violation(&field("apns-expiration"), "apns-expiration must be Unix seconds."));
    }
    if headers.get("apns-collapse-id").is_some_and(|id| id.len() > 64) {
        return Err(violation(&field("apns-collapse-id"), "apns-collapse-id is longer than 64 bytes."));
    }
    let push_type = headers.get("apns-push-type").map(String::as_str);
    if !matches!(
        push_type,
        None | Some(
            "alert"
                | "background"
                | "voip"
                | "location"
                | "complication"
                | "fileprovider"
                | "mdm"
                | "liveactivity"
                | "pushtotalk"
        )
    ) {
        return Err(violation(&field("apns-push-type"), "Unknown apns-push-type."));
    }
    let aps = match apns.payload.as_ref().map(|p| p.get("aps")) {
        None | Some(None) => serde_json::Map::new(),
        Some(Some(Value::Object(aps))) => aps.clone(),
        Some(Some(_)) => return Err(violation("message.apns.payload.aps", "aps must be an object.")),
    };
    if let Some(key) = aps.keys().find(|key| !APS_KEYS.contains(&key.as_str())) {
        return Err(violation("message.apns.payload.aps", format!("Unknown aps key {key:?}.")));
    }
    if aps.get("badge").is_some_and(|badge| badge.as_u64().is_none()) {
        return Err(violation("message.apns.payload.aps.badge", "badge must be a non-negative integer."));
    }
    if aps.get("thread-id").is_some_and(|thread| !thread.is_string()) {
        return Err(violation("message.apns.payload.aps.thread-id", "thread-id must be a string."));
    }
    if aps.get("content-available").is_some_and(|flag| flag != &Value::from(1)) {
        return Err(violation("message.apns.payload.aps.content-available", "content-available must be 1."));
    }
    if push_type == Some("background")
        && (priority != Some("5") || aps.len() != 1 || !aps.contains_key("content-available"))
    {
        return Err(violation(
            "message.apns",
            "A background push needs apns-priority 5 and an aps of content-available alone.",
        ));
    }
    Ok(())
}

fn check_webpush(webpush: &WebpushConfig) -> Result<(), Violation> {
    let headers = webpush.headers.clone().unwrap_or_default();
    if !matches!(headers.get("Urgency").map(String::as_str), None | Some("very-low" | "low" | "normal" | "high")) {
        return Err(violation("message.webpush.headers[Urgency]", "Urgency must be very-low, low, normal or high."));
    }
    if headers.get("TTL").is_some_and(|ttl| ttl.is_empty() || !ttl.bytes().all(|b| b.is_ascii_digit())) {
        return Err(violation("message.webpush.headers[TTL]", "TTL must be whole seconds."));
    }
    Ok(())
}
