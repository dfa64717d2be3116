//! Media: upload URLs, resuming, completion, the record, the redirect to its bytes, and the
//! caller's storage.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::app::media::{self, CompleteUpload, RequestUpload, StorageView, UploadGrant};
use chat_core::domain::ids::MediaId;
use chat_core::domain::media::Media;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::responses::RateLimited;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, OptionalJson};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct MediaResponse {
    media: Media,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    /// `original` (default: for images, videos and voice messages the processed full version,
    /// upright and without metadata; for files the upload), or a variant the media worker
    /// made: `full`, `thumb_1280`, `thumb_320` (images), `mp4`, `poster` (videos), `m4a`
    /// (voice messages).
    variant: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/media/uploads", tag = "media", request_body = RequestUpload,
    responses((status = 201, description = "the pending record and where to PUT the bytes (one URL up to 8 MiB, parts above)", body = UploadGrant),
        (status = 400, description = "`unknown_kind` or `invalid_filename`", body = ErrorBody),
        (status = 403, description = "`quota_exceeded`: the upload would take you past your storage quota", body = ErrorBody),
        (status = 413, description = "`too_large`: size 0 or over the kind's limit (image and audio 10 MiB, video 50 MiB, file 25 MiB)", body = ErrorBody),
        (status = 415, description = "`unsupported_type`: the content type is not accepted for the kind, or the extension does not match it (`unsupported_media_type`: the request body was not JSON)", body = ErrorBody),
        (status = 429, response = RateLimited),
        (status = 503, description = "`processing_unavailable`: videos and voice messages cannot be processed here (no ffmpeg), or `unavailable`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn request_upload(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(request): ApiJson<RequestUpload>,
) -> Result<(StatusCode, Json<UploadGrant>), ApiError> {
    Ok((StatusCode::CREATED, Json(media::request_upload(&state.deps, actor, request).await?)))
}

#[utoipa::path(get, path = "/api/v1/media/{id}/upload", tag = "media", params(("id" = MediaId, Path)),
    responses((status = 200, description = "fresh URLs: the whole PUT again, or the parts still missing with those already held", body = UploadGrant),
        (status = 404, description = "`media_not_found`: no such media of yours", body = ErrorBody),
        (status = 409, description = "`already_completed`", body = ErrorBody),
        (status = 410, description = "`upload_expired`", body = ErrorBody)), security(("bearer" = [])))]
pub async fn resume_upload(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MediaId>,
) -> Result<Json<UploadGrant>, ApiError> {
    Ok(Json(media::resume_upload(&state.deps, actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/media/{id}/complete", tag = "media", params(("id" = MediaId, Path)), request_body(content = Option<CompleteUpload>, description = "for a multipart upload, the parts' ETags (optional)"),
    responses((status = 200, description = "checked and pinned: `uploaded`", body = MediaResponse),
        (status = 400, description = "`invalid_parts`: the part list does not match what was uploaded", body = ErrorBody),
        (status = 404, description = "`media_not_found`: no such media of yours", body = ErrorBody),
        (status = 409, description = "`not_uploaded` (nothing arrived yet), `already_completed`, or `upload_changed` (written again while checked: complete again)", body = ErrorBody),
        (status = 410, description = "`upload_expired`", body = ErrorBody),
        (status = 415, description = "`content_mismatch`: the bytes are not of the declared type; the upload was deleted", body = ErrorBody),
        (status = 422, description = "`size_mismatch`: the object is not of the declared size; the upload was deleted", body = ErrorBody),
        (status = 429, response = RateLimited)), security(("bearer" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MediaId>,
    OptionalJson(command): OptionalJson<CompleteUpload>,
) -> Result<Json<MediaResponse>, ApiError> {
    let media = media::complete(&state.deps, actor, id, command.unwrap_or_default()).await?;
    Ok(Json(MediaResponse { media }))
}

#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "media", params(("id" = MediaId, Path)),
    responses((status = 200, body = MediaResponse),
        (status = 404, description = "`media_not_found`: no such media, or not yours and not attached where you are a member", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn record(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MediaId>,
) -> Result<Json<MediaResponse>, ApiError> {
    Ok(Json(MediaResponse { media: media::media(&state.deps, actor, id).await? }))
}

#[utoipa::path(get, path = "/api/v1/media/{id}/content", tag = "media", params(("id" = MediaId, Path), ContentParams),
    responses((status = 302, description = "to a signed URL valid for at most 5 minutes (CDN, object store, or this server's /blobs endpoint, which supports Range)",
            headers(("Location" = String, description = "the signed URL"))),
        (status = 404, description = "`media_not_found` or `variant_not_found`", body = ErrorBody),
        (status = 409, description = "`not_uploaded`, or `not_ready`: still being processed (only the owner may fetch the upload meanwhile)", body = ErrorBody),
        (status = 410, description = "`media_failed`: refused by processing, never served", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn content(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<MediaId>,
    ApiQuery(params): ApiQuery<ContentParams>,
) -> Result<Response, ApiError> {
    let redirect = media::content(&state.deps, actor, id, params.variant.as_deref()).await?;
    // The signed URL expires; nothing may cache the redirect past it.
    Ok((StatusCode::FOUND, [(header::LOCATION, redirect.url), (header::CACHE_CONTROL, "private, no-store".to_owned())])
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/me/storage", tag = "media",
    responses((status = 200, description = "bytes used (uploads in progress included) and the quota", body = StorageView)),
    security(("bearer" = [])))]
pub async fn storage(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json<StorageView>, ApiError> {
    Ok(Json(media::storage(&state.deps, actor).await?))
}
