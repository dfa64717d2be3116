//! The error responses the document shares between routes.
//!
//! Most failures come from what a route is made of, not from what it does: the `Caller`
//! extractor answers 401, `ApiJson` 400, 413 and 415, `ApiQuery` 400, `ApiPath` 404 (a
//! malformed id names nothing), and every store behind `/api/v1` can fail with 503 or 500.
//! [`add_shared_responses`] reads those parts back from each operation in the generated
//! document (its security, request body and parameters) and adds the matching responses, so a
//! route added tomorrow is documented the same way without anyone repeating the list. What a
//! use case itself refuses (403 `blocked`, 409 `username_taken`, ...) stays in the route's own
//! `#[utoipa::path]`, where 429 is written as `response = RateLimited`.

use utoipa::ToResponse;
use utoipa::openapi::content::Content;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr, Required};

/// Routes under this prefix reach the stores, so they can answer 503 and 500.
const STORE_BACKED_PREFIX: &str = "/api/v1/";

/// A shared response: its name under `#/components/responses`, its status and what it means.
struct Shared {
    name: &'static str,
    status: &'static str,
    description: &'static str,
}

const UNAUTHORIZED: Shared = Shared {
    name: "Unauthorized",
    status: "401",
    description: "`invalid_token` or `session_revoked`: the bearer token is missing, invalid, expired or \
        its session was logged out",
};
const INVALID_REQUEST: Shared = Shared {
    name: "InvalidRequest",
    status: "400",
    description: "the request is malformed (`invalid_json`, `invalid_request`, `invalid_query`) or a value \
        is refused (the code names the rule, e.g. `invalid_username`)",
};
const BODY_TOO_LARGE: Shared =
    Shared { name: "BodyTooLarge", status: "413", description: "`body_too_large`: the body is over 64 KiB" };
const UNSUPPORTED_MEDIA_TYPE: Shared = Shared {
    name: "UnsupportedMediaType",
    status: "415",
    description: "`unsupported_media_type`: the body was not sent as `application/json`",
};
const NOT_FOUND: Shared = Shared {
    name: "NotFound",
    status: "404",
    description: "the resource does not exist or is not visible to the caller; a malformed id answers \
        `not_found`",
};
const UNAVAILABLE: Shared =
    Shared { name: "Unavailable", status: "503", description: "`unavailable`: a store is unreachable; retry later" };
const INTERNAL: Shared = Shared { name: "Internal", status: "500", description: "`internal`: a server fault" };
const RATE_LIMITED: &str = "RateLimited";

/// 429 with the `Retry-After` header, for the routes whose use case takes from a quota.
pub struct RateLimited;

impl<'r> ToResponse<'r> for RateLimited {
    fn response() -> (&'r str, RefOr<Response>) {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).build();
        let retry_after =
            HeaderBuilder::new().schema(seconds).description(Some("seconds to wait before trying again")).build();
        let response = ResponseBuilder::new()
            .description("`rate_limited`: a quota is used up; `error.retry_after_ms` says for how long")
            .content("application/json", error_content())
            .header("Retry-After", retry_after)
            .build();
        (RATE_LIMITED, RefOr::T(response))
    }
}

/// Adds the responses each operation's parts imply (see the module docs) and defines them
/// under `#/components/responses`. A status the route already documents is left as written.
pub fn add_shared_responses(document: &mut OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        let store_backed = path.starts_with(STORE_BACKED_PREFIX);
        for operation in operations_mut(item) {
            for shared in implied_responses(operation, store_backed) {
                let reference = RefOr::Ref(Ref::from_response_name(shared.name));
                operation.responses.responses.entry(shared.status.to_owned()).or_insert(reference);
            }
        }
    }
    let components = document.components.get_or_insert_with(Default::default);
    for shared in
        [UNAUTHORIZED, INVALID_REQUEST, BODY_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, NOT_FOUND, UNAVAILABLE, INTERNAL]
    {
        let response =
            ResponseBuilder::new().description(shared.description).content("application/json", error_content());
        components.responses.insert(shared.name.to_owned(), RefOr::T(response.build()));
    }
    let (name, response) = RateLimited::response();
    components.responses.insert(name.to_owned(), response);
}

fn implied_responses(operation: &Operation, store_backed: bool) -> Vec<Shared> {
    let mut implied = Vec::new();
    if operation.security.as_ref().is_some_and(|requirements| !requirements.is_empty()) {
        implied.push(UNAUTHORIZED);
    }
    if let Some(body) = &operation.request_body {
        implied.extend([INVALID_REQUEST, BODY_TOO_LARGE]);
        // An optional body (`OptionalJson`) is read whatever its content type.
        if is_required(body) {
            implied.push(UNSUPPORTED_MEDIA_TYPE);
        }
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    if parameters.iter().any(|parameter| parameter.parameter_in == ParameterIn::Query) {
        implied.push(INVALID_REQUEST);
    }
    if parameters.iter().any(|parameter| parameter.parameter_in == ParameterIn::Path) {
        implied.push(NOT_FOUND);
    }
    if store_backed {
        implied.extend([UNAVAILABLE, INTERNAL]);
    }
    implied
}

fn is_required(body: &RequestBody) -> bool {
    matches!(body.required, Some(Required::True))
}

fn error_content() -> Content {
    Content::new(Some(Ref::from_schema_name("ErrorBody")))
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}
