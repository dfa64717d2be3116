//! The signaling of one call from invite to end, and who may take part: answered, declined,
//! cancelled, busy, refused by privacy, and frames from strangers or with bad payloads.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{
    ANSWER, CALL_FRAMES, OFFER, Scene, acked, calls_in_history, ended, ice, ice_frame, incoming, invite, invite_frame,
    record, refused, system_message,
};
use crate::support::Store;

on_every_store!(
    an_answered_call_rings_everywhere_and_then_talks_to_one_device,
    strangers_cannot_touch_a_call_nor_learn_of_it,
    a_declined_call_ends_for_everyone,
    a_cancelled_call_is_missed,
    a_callee_in_a_call_is_busy_and_a_caller_in_a_call_cannot_call,
    blocks_and_who_can_call_decide_who_may_call,
    bad_payloads_are_refused
);

async fn an_answered_call_rings_everywhere_and_then_talks_to_one_device(store: Store) {
    let mut scene = Scene::start(store).await;
    let call = scene.ring().await;

    // The caller's candidates before the answer are kept, not sent to ringing devices.
    for n in [1, 2] {
        acked(&mut scene.an_socket, ice_frame(&call, n)).await;
    }
    scene.binh_1.assert_nothing_pending().await;
    scene.binh_2.assert_nothing_pending().await;

    // The first device answers; it gets the kept candidates, in order, right after its ack.
    let accept = json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": ANSWER});
    acked(&mut scene.binh_1, accept).await;
    assert_eq!(scene.binh_1.next().await, ice(&call, 1));
    assert_eq!(scene.binh_1.next().await, ice(&call, 2));
    assert_eq!(scene.an_socket.next().await, json!({"type": "call.accepted", "call_id": call, "sdp": ANSWER}));
    assert_eq!(scene.binh_2.next().await, ended(&call, "answered_elsewhere"));

    // From now on candidates go between the two talking devices only.
    acked(&mut scene.binh_1, ice_frame(&call, 3)).await;
    assert_eq!(scene.an_socket.next().await, ice(&call, 3));
    acked(&mut scene.an_socket, ice_frame(&call, 4)).await;
    assert_eq!(scene.binh_1.next().await, ice(&call, 4));
    scene.binh_2.assert_nothing_pending().await;
    scene.an_socket.assert_nothing_pending().await;

    // The device that lost the race cannot join in.
    let late = json!({"type": "call.accept", "id": "late", "call_id": call, "sdp": ANSWER});
    refused(&mut scene.binh_2, late.clone(), "call_answered_elsewhere").await;
    refused(&mut scene.binh_2, ice_frame(&call, 5), "call_answered_elsewhere").await;
    refused(&mut scene.binh_2, json!({"type": "call.hangup", "id": "h", "call_id": call}), "call_answered_elsewhere")
        .await;

    // Five seconds later An hangs up: the duration is the server clock's.
    scene.server.clock.advance(chat_core::domain::Duration::seconds(5));
    scene.hang_up(&call, 5_000).await;
    for socket in [&mut scene.an_socket, &mut scene.binh_1, &mut scene.binh_2] {
        socket.assert_nothing_pending().await;
    }
    refused(&mut scene.binh_2, late, "call_ended").await;
    refused(&mut scene.binh_1, ice_frame(&call, 6), "call_ended").await;
    let expected = record(&call, &scene.an, "video", "ended", "hung_up", Some(5_000));
    assert_eq!(calls_in_history(&scene.server, &scene.binh, &scene.conversation).await, [expected]);
}

async fn strangers_cannot_touch_a_call_nor_learn_of_it(store: Store) {
    let mut scene = Scene::start(store).await;
    let chi = scene.server.register("chi.pham").await;
    let mut chi_socket = scene.server.connect(&chi).await;
    let call = scene.ring().await;
    let attempts = |call: &str| {
        [
            json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": ANSWER}),
            ice_frame(call, 9),
            json!({"type": "call.reject", "id": "reject", "call_id": call}),
            json!({"type": "call.cancel", "id": "cancel", "call_id": call}),
            json!({"type": "call.hangup", "id": "hangup", "call_id": call}),
        ]
    };
    for attempt in attempts(&call) {
        refused(&mut chi_socket, attempt, "call_not_found").await;
    }
    for socket in [&mut scene.an_socket, &mut scene.binh_1, &mut scene.binh_2] {
        socket.assert_nothing_pending().await;
    }

    // Answered, the same; and once it is over, a stranger is still told "not found", not "ended".
    scene.answer(&call).await;
    for attempt in attempts(&call) {
        refused(&mut chi_socket, attempt, "call_not_found").await;
    }
    scene.hang_up(&call, 0).await;
    for attempt in attempts(&call) {
        refused(&mut chi_socket, attempt, "call_not_found").await;
    }
    for socket in [&mut scene.an_socket, &mut scene.binh_1, &mut scene.binh_2, &mut chi_socket] {
        socket.assert_nothing_pending().await;
    }
}

async fn a_declined_call_ends_for_everyone(store: Store) {
    let mut scene = Scene::start(store).await;
    let call = scene.ring().await;
    // The second device declines: the ringing stops on both.
    acked(&mut scene.binh_2, json!({"type": "call.reject", "id": "reject", "call_id": call})).await;
    let expected = record(&call, &scene.an, "video", "declined", "declined", None);
    for socket in [&mut scene.binh_2, &mut scene.an_socket, &mut scene.binh_1] {
        assert_eq!(socket.next().await, ended(&call, "declined"));
        assert_eq!(system_message(socket, &scene.conversation).await, expected);
        socket.assert_nothing_pending().await;
    }
    let accept = json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": ANSWER});
    refused(&mut scene.binh_1, accept, "call_ended").await;
    assert_eq!(calls_in_history(&scene.server, &scene.an, &scene.conversation).await, [expected]);
}

async fn a_cancelled_call_is_missed(store: Store) {
    let mut scene = Scene::start(store).await;
    let call = scene.ring().await;
    acked(&mut scene.an_socket, json!({"type": "call.cancel", "id": "cancel", "call_id": call})).await;
    // The callee sees a missed call; the record keeps that the caller cancelled it.
    let expected = record(&call, &scene.an, "video", "missed", "cancelled", None);
    for socket in [&mut scene.an_socket, &mut scene.binh_1, &mut scene.binh_2] {
        assert_eq!(socket.next().await, ended(&call, "cancelled"));
        assert_eq!(system_message(socket, &scene.conversation).await, expected);
        socket.assert_nothing_pending().await;
    }
    assert_eq!(calls_in_history(&scene.server, &scene.binh, &scene.conversation).await, [expected]);
    // Both are free again.
    let again = scene.ring().await;
    assert_ne!(again, call);
}

async fn a_callee_in_a_call_is_busy_and_a_caller_in_a_call_cannot_call(store: Store) {
    let mut scene = Scene::start(store).await;
    let chi = scene.server.register("chi.pham").await;
    scene.server.befriend(&chi, &scene.binh).await;
    scene.server.befriend(&chi, &scene.an).await;
    let chi_binh = scene.server.direct(&chi, &scene.binh).await;
    scene.server.direct(&chi, &scene.an).await;
    let mut chi_socket = scene.server.connect(&chi).await;
    scene.read_past_news().await;
    let call = scene.ring().await;
    scene.answer(&call).await;

    // Chi calls Bình, who is talking to An: busy at once, and a missed call in their chat.
    let busy = invite(&mut chi_socket, &scene.binh, "audio", OFFER).await;
    assert_eq!(chi_socket.next().await, ended(&busy, "busy"));
    let missed = record(&busy, &chi, "audio", "missed", "busy", None);
    assert_eq!(system_message(&mut chi_socket, &chi_binh).await, missed);
    // Bình's devices never ring for it; they only get the missed call's message.
    for socket in [&mut scene.binh_1, &mut scene.binh_2] {
        assert_eq!(system_message(socket, &chi_binh).await, missed);
        socket.assert_nothing_pending().await;
    }
    scene.an_socket.assert_nothing_pending().await;
    chi_socket.assert_nothing_pending().await;
    assert_eq!(calls_in_history(&scene.server, &chi, &chi_binh).await, [missed]);

    // Neither party of a call may place another.
    refused(&mut scene.an_socket, invite_frame(&chi.id, "video", OFFER), "already_in_call").await;
    refused(&mut scene.binh_1, invite_frame(&chi.id, "video", OFFER), "already_in_call").await;
    chi_socket.assert_nothing_pending().await;

    // The first call went on undisturbed.
    acked(&mut scene.an_socket, ice_frame(&call, 1)).await;
    assert_eq!(scene.binh_1.next().await, ice(&call, 1));
    scene.hang_up(&call, 0).await;
}

async fn blocks_and_who_can_call_decide_who_may_call(store: Store) {
    let mut scene = Scene::start(store).await;
    let chi = scene.server.register("chi.pham").await;
    let mut chi_socket = scene.server.connect(&chi).await;
    let server = &scene.server;
    let settings = |who: &str| json!({"who_can_call": who});

    // Bình blocks An: neither may call the other.
    let block = format!("/api/v1/blocks/{}", scene.an.id);
    assert_eq!(server.request(Method::PUT, &block, Some(&scene.binh), None).await.0, StatusCode::NO_CONTENT);
    // What the block announced is read past (and there is no call frame in it).
    scene.an_socket.assert_nothing_pending_of(CALL_FRAMES).await;
    scene.binh_1.assert_nothing_pending_of(CALL_FRAMES).await;
    refused(&mut scene.an_socket, invite_frame(&scene.binh.id, "video", OFFER), "call_not_allowed").await;
    refused(&mut scene.binh_1, invite_frame(&scene.an.id, "audio", OFFER), "call_not_allowed").await;

    // By default only friends may call, and Chi is not one.
    refused(&mut chi_socket, invite_frame(&scene.binh.id, "video", OFFER), "call_not_allowed").await;
    // When Bình lets nobody call, not even a friend may.
    let (status, body) =
        server.request(Method::PATCH, "/api/v1/me/settings", Some(&scene.binh), Some(settings("nobody"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.befriend(&chi, &scene.binh).await;
    let chi_binh = server.direct(&chi, &scene.binh).await;
    chi_socket.assert_nothing_pending_of(CALL_FRAMES).await;
    refused(&mut chi_socket, invite_frame(&scene.binh.id, "video", OFFER), "call_not_allowed").await;

    refused(&mut chi_socket, invite_frame(&chi.id, "video", OFFER), "cannot_call_self").await;
    let nobody_at_all = uuid::Uuid::now_v7().to_string();
    refused(&mut chi_socket, invite_frame(&nobody_at_all, "video", OFFER), "user_not_found").await;

    // Back to friends only: Chi, a friend now, may call, and Bình's devices ring. They heard
    // of none of the refused calls, and none of them left a message.
    let (status, body) =
        server.request(Method::PATCH, "/api/v1/me/settings", Some(&scene.binh), Some(settings("friends"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut not_expected = CALL_FRAMES.to_vec();
    not_expected.push("message.new");
    for socket in [&mut scene.binh_1, &mut scene.binh_2] {
        socket.assert_nothing_pending_of(&not_expected).await;
    }
    let call = invite(&mut chi_socket, &scene.binh, "video", OFFER).await;
    assert_eq!(chi_socket.next().await, json!({"type": "call.ringing", "call_id": call}));
    for socket in [&mut scene.binh_1, &mut scene.binh_2] {
        assert_eq!(socket.next().await, incoming(&call, &chi, &chi_binh, "video", OFFER));
    }
    scene.an_socket.assert_nothing_pending_of(&not_expected).await;
    assert_eq!(calls_in_history(server, &scene.an, &scene.conversation).await, Vec::<serde_json::Value>::new());
    assert_eq!(calls_in_history(server, &chi, &chi_binh).await, Vec::<serde_json::Value>::new());
}

async fn bad_payloads_are_refused(store: Store) {
    let mut scene = Scene::start(store).await;
    let too_long_sdp = "a".repeat(32 * 1024 + 1);
    refused(&mut scene.an_socket, invite_frame(&scene.binh.id, "video", &too_long_sdp), "invalid_sdp").await;
    refused(&mut scene.an_socket, invite_frame(&scene.binh.id, "video", "  "), "invalid_sdp").await;
    for socket in [&mut scene.binh_1, &mut scene.binh_2] {
        socket.assert_nothing_pending().await;
    }
    let call = scene.ring().await;

    let unknown = uuid::Uuid::now_v7().to_string();
    let accept = |call: &str, sdp: &str| json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": sdp});
    refused(&mut scene.binh_1, accept(&unknown, ANSWER), "call_not_found").await;
    refused(&mut scene.an_socket, ice_frame(&unknown, 1), "call_not_found").await;
    refused(&mut scene.an_socket, json!({"type": "call.hangup", "id": "h", "call_id": unknown}), "call_not_found")
        .await;
    refused(&mut scene.binh_1, accept(&call, &too_long_sdp), "invalid_sdp").await;
    let huge = json!({"candidate": format!("candidate:1 1 udp 1 {} 9 typ host", "x".repeat(2 * 1024)), "sdpMid": "0"});
    let huge_ice = json!({"type": "call.ice", "id": "huge", "call_id": call, "candidate": huge});
    refused(&mut scene.an_socket, huge_ice, "invalid_ice_candidate").await;
    // The caller cannot answer its own call; the callee has no candidates before it answers.
    refused(&mut scene.an_socket, accept(&call, ANSWER), "not_callee").await;
    refused(&mut scene.binh_1, ice_frame(&call, 1), "call_not_answered").await;

    // At most 32 candidates wait for the answer.
    for n in 1..=32 {
        acked(&mut scene.an_socket, ice_frame(&call, n)).await;
    }
    refused(&mut scene.an_socket, ice_frame(&call, 33), "too_many_ice_candidates").await;

    // None of it disturbed the call: the answer brings exactly the 32 kept candidates.
    acked(&mut scene.binh_1, accept(&call, ANSWER)).await;
    for n in 1..=32 {
        assert_eq!(scene.binh_1.next().await, ice(&call, n));
    }
    assert_eq!(scene.an_socket.next().await, json!({"type": "call.accepted", "call_id": call, "sdp": ANSWER}));
    assert_eq!(scene.binh_2.next().await, ended(&call, "answered_elsewhere"));
    scene.binh_1.assert_nothing_pending().await;
}
