//! Checks of the generated OpenAPI document: it must be one a client generator can trust.
//! (That each documented operation is really mounted is checked end to end, in
//! `bins/chat-server/tests/e2e/openapi.rs`; schemathesis checks the answers against it.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    serde_json::to_value(super::documented_routes().1).unwrap()
}

/// Every operation of the document as (path, method, operation).
fn operations(document: &Value) -> Vec<(String, &'static str, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((path.clone(), method, operation.clone()));
            }
        }
    }
    found
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.insert(reference.clone());
            }
            map.values().for_each(|value| collect_refs(value, refs));
        }
        Value::Array(items) => items.iter().for_each(|value| collect_refs(value, refs)),
        _ => {}
    }
}

/// A response of an operation, following a `$ref` into `#/components/responses`.
fn response<'d>(document: &'d Value, operation: &'d Value, status: &str) -> Option<&'d Value> {
    let response = operation["responses"].get(status)?;
    match response.get("$ref").and_then(Value::as_str) {
        Some(reference) => document.pointer(reference.trim_start_matches('#')),
        None => Some(response),
    }
}

#[test]
fn every_reference_resolves() {
    let document = document();
    let mut refs = BTreeSet::new();
    collect_refs(&document, &mut refs);
    assert!(refs.contains("#/components/schemas/ErrorBody"), "the walk found no references: {refs:?}");
    let dangling: Vec<_> = refs
        .iter()
        .filter(|reference| {
            !reference.starts_with("#/") || document.pointer(reference.trim_start_matches('#')).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

#[test]
fn path_parameters_are_exactly_the_template_names() {
    let document = document();
    for (path, method, operation) in operations(&document) {
        let template: BTreeSet<&str> =
            path.split('/').filter_map(|part| part.strip_prefix('{')?.strip_suffix('}')).collect();
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let declared: BTreeSet<&str> = parameters
            .iter()
            .filter(|parameter| parameter["in"] == "path")
            .map(|parameter| parameter["name"].as_str().unwrap())
            .collect();
        assert_eq!(declared, template, "{method} {path}: path parameters differ from the template");
        for parameter in parameters.iter().filter(|parameter| parameter["in"] == "path") {
            assert_eq!(parameter["required"], true, "{method} {path}: a path parameter is always required");
        }
    }
}

#[test]
fn query_parameters_are_in_the_query() {
    let document = document();
    let query: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .flat_map(|(path, _, operation)| {
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            parameters
                .into_iter()
                .filter(|parameter| parameter["in"] == "query")
                .map(move |parameter| (path.clone(), parameter["name"].as_str().unwrap().to_owned()))
        })
        .collect();
    for (path, name) in [
        ("/api/v1/conversations", "cursor"),
        ("/api/v1/conversations", "limit"),
        ("/api/v1/conversations/{id}/messages", "before_seq"),
        ("/api/v1/conversations/{id}/messages", "after_seq"),
        ("/api/v1/conversations/{id}/messages", "limit"),
        ("/api/v1/messages/{id}", "for"),
        ("/api/v1/friend-requests", "direction"),
        ("/api/v1/presence", "user_ids"),
        ("/api/v1/users/by-phone", "phone"),
        ("/api/v1/users/search", "q"),
    ] {
        assert!(query.contains(&(path.to_owned(), name.to_owned())), "{path}: `{name}` is not a query parameter");
    }
}

#[test]
fn every_operation_documents_the_failures_its_parts_cause() {
    let document = document();
    for (path, method, operation) in operations(&document) {
        let has = |status: &str| response(&document, &operation, status).is_some();
        let authenticated = operation["security"].as_array().is_some_and(|requirements| !requirements.is_empty());
        if authenticated {
            assert!(has("401"), "{method} {path}: authenticated but no 401");
        }
        if let Some(body) = operation.get("requestBody") {
            assert!(has("400") && has("413"), "{method} {path}: a JSON body but no 400 or 413");
            if body["required"] == true {
                assert!(has("415"), "{method} {path}: a required JSON body but no 415");
            }
        }
        if path.starts_with("/api/v1/") {
            assert!(has("503"), "{method} {path}: reaches a store but no 503");
        }
        for (status, answer) in operation["responses"].as_object().unwrap() {
            let answer = response(&document, &operation, status).unwrap_or(answer);
            if status.starts_with('4') || status.starts_with('5') {
                let has_envelope = answer["content"]["application/json"]["schema"]["$ref"]
                    == "#/components/schemas/ErrorBody"
                    || answer["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Readiness";
                // The socket upgrade's own refusals (426, a missing upgrade header) come from
                // the WebSocket library, as plain text.
                assert!(has_envelope || path == "/ws", "{method} {path} {status}: no error envelope");
            }
            if status == "429" {
                assert!(answer["headers"].get("Retry-After").is_some(), "{method} {path}: 429 without Retry-After");
            }
        }
    }
}

#[test]
fn the_routes_that_spend_a_quota_document_429() {
    let document = document();
    for (path, method) in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/conversations/{id}/messages", "post"),
        ("/api/v1/friend-requests", "post"),
        ("/api/v1/users/search", "get"),
        ("/api/v1/users/by-phone", "get"),
        ("/api/v1/contacts/sync", "post"),
    ] {
        let operation = &document["paths"][path][method];
        assert!(response(&document, operation, "429").is_some(), "{method} {path}: no 429");
    }
}

/// Routes are mounted only through `routes!`, which documents them: a `.route(` or `.nest(`
/// anywhere in this crate would serve something the document does not describe.
#[test]
fn nothing_is_mounted_outside_the_documented_router() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut directories = vec![source];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                directories.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") && !path.ends_with("routes/tests.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                for call in [".route(", ".route_service(", ".nest(", ".nest_service(", ".merge("] {
                    if text.contains(call) {
                        offenders.push(format!("{} calls {call}", path.display()));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "routes mounted without documentation: {offenders:?}");
}

#[test]
fn the_socket_and_the_document_are_described_too() {
    let document = document();
    assert!(document["paths"]["/ws"].get("get").is_some());
    assert!(document["paths"]["/openapi.json"].get("get").is_some());
}
