//! Media end to end, as a phone does it with a plain HTTP client: request an upload, PUT the
//! bytes to the URL given (the server's blob endpoint in embedded mode, the S3 server on the
//! Postgres runs), complete, send, download through the redirect.

use chat_core::app::Limits;
use chat_core::app::media::cleanup;
use chat_core::domain::Duration;
use chat_core::ports::Clock as _;
use chat_http::HttpConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::media_support::*;
use crate::support::{Store, TestServer};

on_every_store!(
    an_image_goes_from_upload_to_the_recipients_download,
    a_multipart_upload_resumes_after_a_dropped_connection,
    outsiders_get_404_for_the_record_the_content_and_the_attachment,
    a_file_is_served_as_an_attachment_never_inline,
    completing_before_any_upload_is_not_uploaded,
    a_short_object_is_a_size_mismatch_and_is_deleted,
    bytes_of_another_type_are_a_content_mismatch_and_are_deleted,
    a_second_complete_is_a_conflict,
    an_expired_upload_is_gone,
    another_users_media_is_not_found_and_cannot_be_sent,
    cleanup_removes_expired_uploads_and_unattached_media_only,
    an_avatar_is_an_own_image_seen_by_all_but_the_blocked_and_kept,
    a_recalled_photo_is_gone_for_the_members,
    a_group_photo_is_seen_by_its_members_only,
    a_video_becomes_a_playable_mp4_with_a_poster,
    an_infected_file_fails_and_is_never_served,
);

async fn an_image_goes_from_upload_to_the_recipients_download(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let conversation = server.direct(&an, &binh).await;
    let mut binh_socket = server.connect(&binh).await;
    let mut an_socket = server.connect(&an).await;

    let bytes = photo(1600, 1200);
    let id = upload(&server, &an, "image", "IMG_0001.jpg", "image/jpeg", bytes.clone()).await;
    let progress = an_socket.next_of("media.progress").await;
    assert_eq!((progress["media_id"].as_str(), progress["status"].as_str()), (Some(id.as_str()), Some("uploaded")));

    // Sent before processing ends: the recipient sees a placeholder, then media.ready.
    let (status, sent) =
        send_media(&server, &an, &conversation, json!({"kind": "IMAGE", "media_ids": [id], "body": "Ảnh nè"})).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let event = binh_socket.next_of("message.new").await;
    let attachment = &event["message"]["attachments"][0];
    assert_eq!((event["message"]["kind"].as_str(), event["message"]["body"].as_str()), (Some("IMAGE"), Some("Ảnh nè")));
    assert_eq!((attachment["id"].as_str(), attachment["size"].as_u64()), (Some(id.as_str()), Some(bytes.len() as u64)));
    // media.ready follows, unless processing ended before the message was sent (then the
    // message carried the ready attachment already).
    let ready = if attachment["status"] == "ready" {
        attachment.clone()
    } else {
        binh_socket.next_of("media.ready").await["media"].clone()
    };
    assert_eq!((ready["id"].as_str(), ready["status"].as_str()), (Some(id.as_str()), Some("ready")));
    assert_eq!((ready["width"].as_u64(), ready["height"].as_u64()), (Some(1600), Some(1200)));
    assert_eq!(ready["variants"], json!(["full", "thumb_1280", "thumb_320"]));

    // The recipient downloads through the redirect (the processed full image), then a slice
    // as a viewer would ask for it, and a thumbnail.
    let (status, location) = content_location(&server, &binh, &format!("/api/v1/media/{id}/content")).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    let downloaded = plain_client().get(&location).send().await.unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    let full = downloaded.bytes().await.unwrap().to_vec();
    assert_eq!(image::load_from_memory(&full).unwrap().width(), 1600);
    let ranged = plain_client().get(&location).header("range", "bytes=100-199").send().await.unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap().to_vec(), full[100..200].to_vec());
    let (_, thumb) = content_location(&server, &binh, &format!("/api/v1/media/{id}/content?variant=thumb_320")).await;
    let thumb = plain_client().get(thumb.unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&thumb).unwrap().width(), 320);

    // History carries the attachment too, and the record reads back for a member.
    let (_, history) = server.get(&format!("/api/v1/conversations/{conversation}/messages"), &binh).await;
    assert_eq!(history["messages"][0]["attachments"][0]["status"], "ready");
    let (status, record) = server.get(&format!("/api/v1/media/{id}"), &binh).await;
    assert_eq!((status, record["media"]["filename"].as_str()), (StatusCode::OK, Some("IMG_0001.jpg")));
}

async fn a_multipart_upload_resumes_after_a_dropped_connection(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    // A file: served as uploaded once scanned, so the download is the joined upload itself.
    let bytes = text(9 * 1024 * 1024 + 1234);
    let (status, grant) = request_upload(&server, &an, "file", "nhat-ky.txt", "text/plain", bytes.len()).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let id = grant["media"]["id"].as_str().unwrap().to_owned();
    let part_size = grant["upload"]["part_size"].as_u64().unwrap() as usize;
    let parts = grant["upload"]["parts"].as_array().unwrap().clone();
    assert_eq!(parts.len(), 2);

    // The first part goes up, then the network drops before the second.
    let (status, first_etag) = put(&parts[0], bytes[..part_size].to_vec()).await;
    assert!(status.is_success(), "{status}");
    let (status, resumed) = server.get(&format!("/api/v1/media/{id}/upload"), &an).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    let missing = resumed["upload"]["parts"].as_array().unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["number"], 2);
    assert_eq!(resumed["upload"]["uploaded_parts"][0]["number"], 1);
    assert_eq!(resumed["upload"]["uploaded_parts"][0]["size"].as_u64(), Some(part_size as u64));
    // The held part's ETag is listed too where the store says it (S3 does; s3s-fs lists parts
    // without ETags), so the phone here completes with the ETags it kept.

    let (status, second_etag) = put(&missing[0], bytes[part_size..].to_vec()).await;
    assert!(status.is_success(), "{status}");
    let parts = json!({"parts": [{"number": 1, "etag": first_etag}, {"number": 2, "etag": second_etag}]});
    let (status, completed) = complete(&server, &an, &id, parts).await;
    assert_eq!(status, StatusCode::OK, "{completed}");
    let (_, location) = content_location(&server, &an, &format!("/api/v1/media/{id}/content")).await;
    let downloaded = plain_client().get(location.unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(downloaded.len(), bytes.len());
    assert!(downloaded.to_vec() == bytes, "the joined object differs from what was uploaded");
}

async fn outsiders_get_404_for_the_record_the_content_and_the_attachment(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    let conversation = server.direct(&an, &binh).await;
    let id = upload(&server, &an, "file", "a.txt", "text/plain", text(5000)).await;
    let (status, _) = send_media(&server, &an, &conversation, json!({"media_ids": [id]})).await;
    assert_eq!(status, StatusCode::CREATED);

    assert_eq!(server.get(&format!("/api/v1/media/{id}"), &chi).await.0, StatusCode::NOT_FOUND);
    let (status, location) = content_location(&server, &chi, &format!("/api/v1/media/{id}/content")).await;
    assert_eq!((status, location), (StatusCode::NOT_FOUND, None));
    let (status, body) = server.get(&format!("/api/v1/conversations/{conversation}/messages"), &chi).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("conversation_not_found")));
    // A member who leaves loses access with the conversation.
    for friend in [&binh, &chi] {
        server.befriend(&an, friend).await;
    }
    let create = json!({"kind": "group", "title": "Nhóm", "member_ids": [binh.id, chi.id]});
    let (_, group) = server.post("/api/v1/conversations", Some(&an), create).await;
    let group = group["conversation"]["id"].as_str().unwrap().to_owned();
    let in_group = upload(&server, &an, "file", "b.txt", "text/plain", text(5000)).await;
    send_media(&server, &an, &group, json!({"media_ids": [in_group]})).await;
    assert_eq!(server.get(&format!("/api/v1/media/{in_group}"), &chi).await.0, StatusCode::OK);
    let leave = format!("/api/v1/conversations/{group}/members/{}", chi.id);
    assert_eq!(server.request(Method::DELETE, &leave, Some(&chi), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(server.get(&format!("/api/v1/media/{in_group}"), &chi).await.0, StatusCode::NOT_FOUND);
}

async fn a_file_is_served_as_an_attachment_never_inline(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let text = b"<html><script>alert(1)</script></html>".to_vec();
    let id = upload(&server, &an, "file", "ghi chú.txt", "text/plain", text.clone()).await;
    let (_, location) = content_location(&server, &an, &format!("/api/v1/media/{id}/content")).await;
    let response = plain_client().get(location.unwrap()).send().await.unwrap();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(header("content-disposition").starts_with("attachment"), "{}", header("content-disposition"));
    assert!(header("content-type").starts_with("text/plain"), "{}", header("content-type"));
    assert_eq!(response.bytes().await.unwrap().to_vec(), text);
}

async fn completing_before_any_upload_is_not_uploaded(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let (_, grant) = request_upload(&server, &an, "image", "a.jpg", "image/jpeg", 1000).await;
    let id = grant["media"]["id"].as_str().unwrap();
    let (status, body) = complete(&server, &an, id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_uploaded")));
}

async fn a_short_object_is_a_size_mismatch_and_is_deleted(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let bytes = mp4(9 * 1024 * 1024);
    let (_, grant) = request_upload(&server, &an, "video", "v.mp4", "video/mp4", bytes.len()).await;
    let id = grant["media"]["id"].as_str().unwrap().to_owned();
    let part_size = grant["upload"]["part_size"].as_u64().unwrap() as usize;
    let (_, etag) = put(&grant["upload"]["parts"][0], bytes[..part_size].to_vec()).await;
    // Completing with the first part only makes an object shorter than declared.
    let (status, body) = complete(&server, &an, &id, json!({"parts": [{"number": 1, "etag": etag}]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("size_mismatch")));
    assert_eq!(server.get(&format!("/api/v1/media/{id}"), &an).await.0, StatusCode::NOT_FOUND);
    let (_, storage) = server.get("/api/v1/me/storage", &an).await;
    assert_eq!(storage["used_bytes"], 0, "the reservation is released");
}

async fn bytes_of_another_type_are_a_content_mismatch_and_are_deleted(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let html = b"<!doctype html><script>steal()</script>".to_vec();
    let (_, grant) = request_upload(&server, &an, "image", "cat.jpg", "image/jpeg", html.len()).await;
    let id = grant["media"]["id"].as_str().unwrap().to_owned();
    assert!(put(&grant["upload"], html).await.0.is_success());
    let (status, body) = complete(&server, &an, &id, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content_mismatch"))
    );
    assert_eq!(server.get(&format!("/api/v1/media/{id}"), &an).await.0, StatusCode::NOT_FOUND);
}

async fn a_second_complete_is_a_conflict(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let id = upload(&server, &an, "audio", "voice.m4a", "audio/x-m4a", mp4(3000)).await;
    let (status, body) = complete(&server, &an, &id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_completed")));
}

async fn an_expired_upload_is_gone(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let (_, grant) = request_upload(&server, &an, "image", "a.jpg", "image/jpeg", 1000).await;
    let id = grant["media"]["id"].as_str().unwrap();
    assert!(put(&grant["upload"], jpeg(1000)).await.0.is_success());
    server.clock.advance(Duration::hours(25));
    let an = server.login(&an).await;
    let (status, body) = complete(&server, &an, id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::GONE, Some("upload_expired")));
}

async fn another_users_media_is_not_found_and_cannot_be_sent(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let conversation = server.direct(&an, &binh).await;
    let id = upload(&server, &an, "file", "a.txt", "text/plain", text(1000)).await;
    let (status, body) = complete(&server, &binh, &id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("media_not_found")));
    assert_eq!(server.get(&format!("/api/v1/media/{id}"), &binh).await.0, StatusCode::NOT_FOUND);
    let (status, body) = send_media(&server, &binh, &conversation, json!({"media_ids": [id]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("media_not_found")));
    // Over the socket, the same refusal.
    let mut socket = server.connect(&binh).await;
    socket
        .send(json!({"type": "message.send", "id": 1, "conversation_id": conversation,
                     "client_msg_id": uuid::Uuid::now_v7(), "kind": "FILE", "media_ids": [id]}))
        .await;
    let error = socket.next_of("error").await;
    assert_eq!(error["code"], "media_not_found");
    // The owner can send it, over the socket as well.
    let mut an_socket = server.connect(&an).await;
    an_socket
        .send(json!({"type": "message.send", "id": 2, "conversation_id": conversation,
                     "client_msg_id": uuid::Uuid::now_v7(), "media_ids": [id]}))
        .await;
    let ack = an_socket.next_of("ack").await;
    assert_eq!(ack["message"]["kind"], "FILE");
    assert_eq!(ack["message"]["attachments"][0]["id"], id.as_str());
}

async fn cleanup_removes_expired_uploads_and_unattached_media_only(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let conversation = server.direct(&an, &binh).await;
    let kept = upload(&server, &an, "file", "kept.txt", "text/plain", text(1000)).await;
    send_media(&server, &an, &conversation, json!({"media_ids": [kept]})).await;
    let unattached = upload(&server, &an, "file", "orphan.txt", "text/plain", text(2000)).await;
    let (_, pending) = request_upload(&server, &an, "file", "never.txt", "text/plain", 4000).await;
    let pending = pending["media"]["id"].as_str().unwrap().to_owned();
    let (_, storage) = server.get("/api/v1/me/storage", &an).await;
    assert_eq!(storage["used_bytes"], 7000);

    // A day on, only the expired upload goes; a week on, the unattached media too.
    server.clock.advance(Duration::hours(25));
    let report = cleanup(&server.deps, server.clock.now(), false).await.unwrap();
    assert_eq!(report.expired_uploads.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(), [pending]);
    assert!(report.unattached.is_empty());
    server.clock.advance(Duration::days(7));
    let an = server.login(&an).await;
    let dry = cleanup(&server.deps, server.clock.now(), true).await.unwrap();
    assert_eq!(dry.unattached.len(), 1);
    assert_eq!(
        server.get(&format!("/api/v1/media/{unattached}"), &an).await.0,
        StatusCode::OK,
        "a dry run deletes nothing"
    );
    let report = cleanup(&server.deps, server.clock.now(), false).await.unwrap();
    assert_eq!(
        report.unattached.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
        std::slice::from_ref(&unattached)
    );
    assert_eq!(server.get(&format!("/api/v1/media/{unattached}"), &an).await.0, StatusCode::NOT_FOUND);
    assert_eq!(server.get(&format!("/api/v1/media/{kept}"), &an).await.0, StatusCode::OK);
    let (_, storage) = server.get("/api/v1/me/storage", &an).await;
    assert_eq!(storage["used_bytes"], 1000, "usage follows the deletions");
}

async fn an_avatar_is_an_own_image_seen_by_all_but_the_blocked_and_kept(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    let avatar_bytes = photo(400, 400);
    let avatar = upload(&server, &an, "image", "me.jpg", "image/jpeg", avatar_bytes).await;
    wait_for_status(&server, &an, &avatar, "ready").await;
    let video = upload(&server, &an, "video", "v.mp4", "video/mp4", mp4(3000)).await;
    let patch = |id: &str| json!({"avatar_media_id": id});
    let (status, body) = server.request(Method::PATCH, "/api/v1/me", Some(&an), Some(patch(&video))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_avatar")));
    let (status, body) = server.request(Method::PATCH, "/api/v1/me", Some(&binh), Some(patch(&avatar))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("media_not_found")));
    let (status, body) = server.request(Method::PATCH, "/api/v1/me", Some(&an), Some(patch(&avatar))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Anyone may see it, with no conversation in common; the blocked may not.
    assert_eq!(server.get(&format!("/api/v1/media/{avatar}"), &binh).await.0, StatusCode::OK);
    let (status, location) = content_location(&server, &binh, &format!("/api/v1/media/{avatar}/content")).await;
    assert_eq!(status, StatusCode::FOUND);
    let served = plain_client().get(location.unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&served).unwrap().width(), 400);
    let (status, _) = server.request(Method::PUT, &format!("/api/v1/blocks/{}", chi.id), Some(&an), None).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(server.get(&format!("/api/v1/media/{avatar}"), &chi).await.0, StatusCode::NOT_FOUND);

    // Cleanup keeps it: it is in use, though never attached to a message.
    server.clock.advance(Duration::days(8));
    let binh = server.login(&binh).await;
    let report = cleanup(&server.deps, server.clock.now(), false).await.unwrap();
    assert!(report.unattached.iter().all(|m| m.id.to_string() != avatar), "the avatar was cleaned up");
    assert_eq!(server.get(&format!("/api/v1/media/{avatar}"), &binh).await.0, StatusCode::OK);
}

async fn a_recalled_photo_is_gone_for_the_members(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let conversation = server.direct(&an, &binh).await;
    let id = upload(&server, &an, "image", "nham.jpg", "image/jpeg", photo(200, 100)).await;
    let (_, sent) = send_media(&server, &an, &conversation, json!({"media_ids": [id]})).await;
    let message = sent["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(server.get(&format!("/api/v1/media/{id}"), &binh).await.0, StatusCode::OK);

    let recall = format!("/api/v1/messages/{message}?for=everyone");
    let (status, body) = server.request(Method::DELETE, &recall, Some(&an), None).await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(server.get(&format!("/api/v1/media/{id}"), &binh).await.0, StatusCode::NOT_FOUND);
    let (_, history) = server.get(&format!("/api/v1/conversations/{conversation}/messages"), &binh).await;
    assert_eq!(history["messages"][0]["attachments"], json!([]), "{history}");
    assert_eq!(server.get(&format!("/api/v1/media/{id}"), &an).await.0, StatusCode::OK, "the owner keeps it");
}

async fn a_group_photo_is_seen_by_its_members_only(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh, chi) =
        (server.register("an.le").await, server.register("binh").await, server.register("chi.vu").await);
    server.befriend(&an, &binh).await;
    let create = json!({"kind": "group", "title": "Lớp 12A", "member_ids": [binh.id]});
    let (_, group) = server.post("/api/v1/conversations", Some(&an), create).await;
    let group = group["conversation"]["id"].as_str().unwrap().to_owned();
    let mut binh_socket = server.connect(&binh).await;
    let photo = upload(&server, &an, "image", "lop.jpg", "image/jpeg", photo(300, 300)).await;
    let clip = upload(&server, &an, "video", "v.mp4", "video/mp4", mp4(4000)).await;
    let patch = |id: &str| Some(json!({"avatar_media_id": id}));
    let path = format!("/api/v1/conversations/{group}");

    let (status, body) = server.request(Method::PATCH, &path, Some(&an), patch(&clip)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_avatar")));
    let (status, body) = server.request(Method::PATCH, &path, Some(&binh), patch(&photo)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_permitted")));
    let (status, body) = server.request(Method::PATCH, &path, Some(&an), patch(&photo)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["conversation"]["avatar_media_id"], photo.as_str());

    let announced = binh_socket.next_of("message.new").await;
    assert_eq!(announced["message"]["system"]["event"], "avatar_changed");
    assert_eq!(announced["message"]["attachments"][0]["id"], photo.as_str());
    assert_eq!(server.get(&format!("/api/v1/media/{photo}"), &binh).await.0, StatusCode::OK);
    assert_eq!(server.get(&format!("/api/v1/media/{photo}"), &chi).await.0, StatusCode::NOT_FOUND);
    let (status, body) = server.request(Method::PATCH, &path, Some(&an), Some(json!({"avatar_media_id": null}))).await;
    assert_eq!((status, &body["conversation"]["avatar_media_id"]), (StatusCode::OK, &json!(null)));
}

async fn a_video_becomes_a_playable_mp4_with_a_poster(store: Store) {
    let server = TestServer::start(store).await;
    let an = server.register("an.le").await;
    let mut socket = server.connect(&an).await;
    // Two seconds of WebM (VP8 + Opus), as a browser records it.
    let webm = clip(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=15:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:v",
            "libvpx",
            "-b:v",
            "200k",
            "-c:a",
            "libopus",
            "-shortest",
        ],
        "webm",
    );
    let id = upload(&server, &an, "video", "clip.webm", "video/webm", webm).await;
    let ready = socket.next_of("media.ready").await;
    assert_eq!(ready["media"]["id"], id.as_str());
    assert_eq!(ready["media"]["variants"], json!(["mp4", "poster"]));
    assert!(ready["media"]["duration_ms"].as_u64().is_some_and(|ms| (1500..=2500).contains(&ms)), "{ready}");
    let (_, location) = content_location(&server, &an, &format!("/api/v1/media/{id}/content")).await;
    let response = plain_client().get(location.unwrap()).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let mp4 = response.bytes().await.unwrap();
    assert_eq!(&mp4[4..8], b"ftyp", "an MP4");
    let (_, poster) = content_location(&server, &an, &format!("/api/v1/media/{id}/content?variant=poster")).await;
    let poster = plain_client().get(poster.unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&poster).unwrap().width(), 320);
}

async fn an_infected_file_fails_and_is_never_served(store: Store) {
    let server = TestServer::start(store).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let conversation = server.direct(&an, &binh).await;
    let mut socket = server.connect(&an).await;
    // The EICAR test file, in two halves so that no file of ours holds it whole.
    let eicar = [r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR", r"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"].concat();
    let id = upload(&server, &an, "file", "invoice.txt", "text/plain", eicar.into_bytes()).await;
    let failed = socket.next_of("media.failed").await;
    assert_eq!((failed["media_id"].as_str(), failed["reason"].as_str()), (Some(id.as_str()), Some("malware_detected")));
    // It reaches nobody: it cannot be sent, and not even its owner gets it back.
    let (status, body) = send_media(&server, &an, &conversation, json!({"media_ids": [id]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("media_failed")));
    let (status, _) = content_location(&server, &an, &format!("/api/v1/media/{id}/content")).await;
    assert_eq!(status, StatusCode::GONE);
}

/// clamd down: a file is never delivered unscanned; the job waits and is retried, and the
/// file is delivered once a scanner answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_waits_while_clamd_is_down_and_is_delivered_when_it_is_back() {
    let server = TestServer::start_with_worker(Store::Memory, Limits::default(), HttpConfig::default(), false).await;
    let (an, binh) = (server.register("an.le").await, server.register("binh").await);
    let conversation = server.direct(&an, &binh).await;
    let mut binh_socket = server.connect(&binh).await;
    let work = tempfile::tempdir().unwrap();
    // A port nothing listens on: clamd "down".
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = tokio_util::sync::CancellationToken::new();
    let first = crate::support::spawn_worker(&server.deps, work.path(), &closed.to_string(), down.clone());

    let id = upload(&server, &an, "file", "hop-dong.txt", "text/plain", text(2000)).await;
    send_media(&server, &an, &conversation, json!({"media_ids": [id]})).await;
    // The scan failed: the job waits for its retry, the file stays undelivered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.deps.jobs.stats().await.unwrap().delayed == 0 {
        assert!(std::time::Instant::now() < deadline, "the failed scan was never scheduled for a retry");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, body) = server.get(&format!("/api/v1/media/{id}/content"), &binh).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_ready")));
    assert_eq!(wait_for_status(&server, &an, &id, "processing").await["failure_reason"], json!(null));

    // clamd is back (a worker that reaches it): after the backoff the file is scanned and
    // delivered.
    down.cancel();
    first.await.unwrap();
    let back = tokio_util::sync::CancellationToken::new();
    let _second = crate::support::spawn_worker(&server.deps, work.path(), &crate::support::clamd_addr(), back.clone());
    let ready = binh_socket.next_of_within("media.ready", std::time::Duration::from_secs(60)).await;
    assert_eq!(ready["media"]["id"], id.as_str());
    let (status, _) = content_location(&server, &binh, &format!("/api/v1/media/{id}/content")).await;
    assert_eq!(status, StatusCode::FOUND);
    back.cancel();
}

// The refusals made before any byte moves: one case each, on the embedded server.

#[tokio::test]
async fn an_unknown_kind_is_refused() {
    let server = TestServer::start(Store::Memory).await;
    let an = server.register("an.le").await;
    let (status, body) = request_upload(&server, &an, "sticker", "a.png", "image/png", 10).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("unknown_kind")));
}

#[tokio::test]
async fn an_empty_or_oversized_file_is_too_large() {
    let server = TestServer::start(Store::Memory).await;
    let an = server.register("an.le").await;
    for (kind, name, content_type, size) in
        [("image", "a.jpg", "image/jpeg", 0), ("video", "a.mp4", "video/mp4", 50 * 1024 * 1024 + 1)]
    {
        let (status, body) = request_upload(&server, &an, kind, name, content_type, size).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
    }
}

#[tokio::test]
async fn a_type_not_allowed_or_a_mismatched_extension_is_unsupported() {
    let server = TestServer::start(Store::Memory).await;
    let an = server.register("an.le").await;
    for (name, content_type) in [("a.svg", "image/svg+xml"), ("a.png", "image/jpeg")] {
        let (status, body) = request_upload(&server, &an, "image", name, content_type, 10).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_type"))
        );
    }
}

#[tokio::test]
async fn an_upload_past_the_quota_is_refused() {
    let limits = Limits { media_quota_bytes: 1500, ..Limits::default() };
    let server = TestServer::start_with(Store::Memory, limits, HttpConfig::default()).await;
    let an = server.register("an.le").await;
    assert_eq!(request_upload(&server, &an, "image", "a.jpg", "image/jpeg", 1000).await.0, StatusCode::CREATED);
    let (status, body) = request_upload(&server, &an, "image", "b.jpg", "image/jpeg", 1000).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("quota_exceeded")));
}

#[tokio::test]
async fn the_eleventh_upload_url_in_a_minute_is_rate_limited() {
    let server = TestServer::start(Store::Memory).await;
    let an = server.register("an.le").await;
    for _ in 0..10 {
        assert_eq!(request_upload(&server, &an, "image", "a.jpg", "image/jpeg", 100).await.0, StatusCode::CREATED);
    }
    let response = plain_client()
        .post(format!("{}/api/v1/media/uploads", server.base))
        .bearer_auth(&an.token)
        .json(&json!({"kind": "image", "filename": "a.jpg", "content_type": "image/jpeg", "size": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn the_eleventh_completion_in_a_minute_is_rate_limited() {
    // Upload URLs unlimited here, so that the completion limit is the one reached.
    let limits = Limits { upload_requests: chat_core::domain::rate_limit::Quota::per_minute(100), ..Limits::default() };
    let server = TestServer::start_with(Store::Memory, limits, HttpConfig::default()).await;
    let an = server.register("an.le").await;
    for _ in 0..10 {
        upload(&server, &an, "file", "a.txt", "text/plain", text(100)).await;
    }
    let (_, grant) = request_upload(&server, &an, "file", "a.txt", "text/plain", 100).await;
    assert!(put(&grant["upload"], text(100)).await.0.is_success());
    let id = grant["media"]["id"].as_str().unwrap();
    let (status, body) = complete(&server, &an, id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    assert!(body["error"]["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0));
}
