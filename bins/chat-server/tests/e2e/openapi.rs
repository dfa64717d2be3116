//! The OpenAPI document against the router that serves it: every documented operation is
//! mounted, and on a documented path every method the document leaves out answers 405. (The
//! document's own consistency is checked in `chat-http`; `scripts/schemathesis.sh` checks the
//! answers against it.)

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Store, TestServer};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// The path with each `{parameter}` filled by a well-formed id of nothing.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|part| if part.starts_with('{') { "00000000-0000-4000-8000-000000000000" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_router_agree() {
    let server = TestServer::start(Store::Memory).await;
    let client = reqwest::Client::new();
    let document: Value =
        client.get(format!("{}/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() > 30, "the document lists only {} paths", paths.len());
    let mut checked = 0;
    for (path, item) in paths {
        for method in METHODS {
            let url = format!("{}{}", server.base, concrete(path));
            let response = client.request(method.to_uppercase().parse().unwrap(), &url).send().await.unwrap();
            let status = response.status();
            if item.get(method).is_some() {
                // Unauthenticated and without a body, a mounted operation answers 401, 415, 400
                // or 200, never the router's own 404 or 405. (Every route with an id in its path
                // authenticates first, so a 404 here can only be the fallback.)
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is documented but answers {status}: not mounted"
                );
                checked += 1;
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is not documented but is mounted (answers {status})"
                );
            }
        }
    }
    assert!(checked > 40, "only {checked} operations checked");
    // A path the document does not have reaches the fallback.
    let response = client.request(Method::GET, format!("{}/api/v1/undocumented", server.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
