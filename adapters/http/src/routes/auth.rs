//! `/api/v1/auth/*`: register, login, refresh, logout.

use axum::extract::State;
use axum::http::StatusCode;
use chat_core::app::auth::{self, Authenticated, Login, Register, Tokens};
use chat_core::domain::account::OwnProfile;
use chat_core::domain::ids::SessionId;
use chat_core::domain::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::responses::RateLimited;
use crate::error::{ApiError, ApiJson, ErrorBody, OptionalJson};
use crate::extract::{Caller, ClientIp};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    username: String,
    password: String,
    display_name: String,
    /// E.164, e.g. +84912345678.
    phone: Option<String>,
    device_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    username: String,
    password: String,
    device_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct LogoutRequest {
    /// Log out every device of the account, not just this one.
    #[serde(default)]
    all: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TokensResponse {
    session_id: SessionId,
    access_token: String,
    access_expires_at: DateTime<Utc>,
    refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    user: OwnProfile,
    #[serde(flatten)]
    tokens: TokensResponse,
}

impl From<Tokens> for TokensResponse {
    fn from(tokens: Tokens) -> Self {
        TokensResponse {
            session_id: tokens.session_id,
            access_token: tokens.access_token,
            access_expires_at: tokens.access_expires_at,
            refresh_token: tokens.refresh_token,
        }
    }
}

impl From<Authenticated> for AuthResponse {
    fn from(done: Authenticated) -> Self {
        AuthResponse { user: done.user.own_profile(), tokens: done.tokens.into() }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse),
        (status = 400, description = "a value is refused: `invalid_username`, `weak_password`, `invalid_display_name`, ...", body = ErrorBody),
        (status = 409, description = "`username_taken` or `phone_taken`", body = ErrorBody),
        (status = 429, response = RateLimited)))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<AuthResponse>), ApiError> {
    let command = Register {
        username: request.username,
        password: request.password,
        display_name: request.display_name,
        phone: request.phone,
        device_name: request.device_name,
        client_ip,
    };
    let done = auth::register(&state.deps, command).await?;
    Ok((StatusCode::CREATED, axum::Json(done.into())))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse),
        (status = 401, description = "`invalid_credentials`: wrong username or password", body = ErrorBody),
        (status = 429, response = RateLimited)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<axum::Json<AuthResponse>, ApiError> {
    let command =
        Login { username: request.username, password: request.password, device_name: request.device_name, client_ip };
    Ok(axum::Json(auth::login(&state.deps, command).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokensResponse),
        (status = 401, description = "`invalid_token`, `session_revoked`, or `refresh_token_reused` (the session is revoked)", body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<axum::Json<TokensResponse>, ApiError> {
    Ok(axum::Json(auth::refresh(&state.deps, &request.refresh_token).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>, description = "optional"),
    responses((status = 204, description = "logged out")), security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    Caller(actor): Caller,
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    let all = body.map(|request| request.all).unwrap_or(false);
    auth::logout(&state.deps, actor, all).await?;
    Ok(StatusCode::NO_CONTENT)
}
