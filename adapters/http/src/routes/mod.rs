//! The HTTP routes and the OpenAPI document generated from them.

mod auth;
mod conversations;
mod discovery;
mod messages;
mod ops;
mod presence;
mod profile;
mod social;

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Chat backend API", description = "Real-time 1-1 and group messaging. The WebSocket protocol at /ws is described in docs/protocol.md."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "profile"), (name = "conversations"), (name = "messages"),
        (name = "presence"),
        (name = "social"),
        (name = "discovery"), (name = "operations"))
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

/// Every documented route, and the OpenAPI document that describes them.
pub fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .routes(routes!(social::friends))
        .routes(routes!(social::unfriend))
        .routes(routes!(social::send_request, social::list_requests))
        .routes(routes!(social::accept))
        .routes(routes!(social::decline))
        .routes(routes!(social::cancel))
        .routes(routes!(social::blocks))
        .routes(routes!(social::block, social::unblock))
        .routes(routes!(discovery::search))
        .routes(routes!(discovery::by_phone))
        .routes(routes!(discovery::contact_sync))
        .routes(routes!(presence::presence))
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .split_for_parts()
}
