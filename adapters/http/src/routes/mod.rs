//! The HTTP routes and the OpenAPI document generated from them.
//!
//! Every route is mounted here through `utoipa_axum::routes!`, which mounts a handler and adds
//! its `#[utoipa::path]` description in one step, so nothing is served undocumented (a test
//! checks that nothing mounts routes another way). [`responses::add_shared_responses`] then
//! adds the error responses implied by each route's extractors.

mod auth;
mod calls;
mod conversations;
mod demo;
mod devices;
mod discovery;
mod documents;
mod media;
mod messages;
mod ops;
mod presence;
mod profile;
mod responses;
mod search;
mod social;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::{Extension, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Chat backend API", description = "Real-time 1-1 and group messaging. The WebSocket protocol at /ws is described in docs/protocol.md."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "profile"), (name = "conversations"), (name = "messages"), (name = "media"),
        (name = "presence"),
        (name = "social"),
        (name = "discovery"), (name = "search"), (name = "devices"), (name = "calls"), (name = "operations"),
        (name = "gateway", description = "the WebSocket upgrade; frames are described in docs/protocol.md"),
        (name = "demo", description = "a page for trying calls in two browser tabs; not part of the API"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every route of the server, `GET /openapi.json` serving the document that describes them.
pub fn api_routes() -> Router<AppState> {
    let (router, document) = documented_routes();
    router.layer(Extension(Arc::new(document)))
}

/// Every route and the OpenAPI document that describes them.
fn documented_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(profile::me, profile::update_me))
        .routes(routes!(profile::settings, profile::update_settings))
        .routes(routes!(profile::user))
        .routes(routes!(conversations::create, conversations::list))
        .routes(routes!(conversations::details, conversations::rename))
        .routes(routes!(conversations::add_members))
        .routes(routes!(conversations::remove_member))
        .routes(routes!(conversations::mute, conversations::unmute))
        .routes(routes!(conversations::pin, conversations::unpin))
        .routes(routes!(conversations::read))
        .routes(routes!(messages::history, messages::send))
        .routes(routes!(messages::edit, messages::delete))
        .routes(routes!(messages::react, messages::unreact))
        .routes(routes!(media::request_upload))
        .routes(routes!(media::resume_upload))
        .routes(routes!(media::complete))
        .routes(routes!(media::record))
        .routes(routes!(media::content))
        .routes(routes!(media::storage))
        .routes(routes!(social::friends))
        .routes(routes!(social::unfriend))
        .routes(routes!(social::send_request, social::list_requests))
        .routes(routes!(social::accept))
        .routes(routes!(social::decline))
        .routes(routes!(social::cancel))
        .routes(routes!(social::blocks))
        .routes(routes!(social::block, social::unblock))
        .routes(routes!(discovery::search))
        .routes(routes!(search::search_messages))
        .routes(routes!(devices::register, devices::list))
        .routes(routes!(devices::remove))
        .routes(routes!(calls::ice_servers))
        .routes(routes!(discovery::by_phone))
        .routes(routes!(discovery::contact_sync))
        .routes(routes!(presence::presence))
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .routes(routes!(documents::openapi_document))
        .routes(routes!(documents::socket))
        .routes(routes!(demo::call_page))
        .routes(routes!(demo::call_script))
        .split_for_parts();
    responses::add_shared_responses(&mut document);
    (router, document)
}
