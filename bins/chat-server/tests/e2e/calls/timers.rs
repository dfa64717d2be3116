//! How a call ends with nobody asking: no answer in time, a device that drops and does not come
//! back (and one that does). Timers run on the server's hand-moved clock: a test moves it past a
//! deadline, and the timer task (`chat_server::spawn_call_timers`) fires what is due; where a
//! test must know that every due timer has fired, it fires them itself instead.

use chat_core::app::signaling;
use chat_core::domain::Duration;
use serde_json::json;

use super::{
    POLICY, Scene, acked, calls_in_history, close, ended, ended_after, ice, ice_frame, record, refused, short_timings,
    system_message, wait_until_callee_lost,
};
use crate::support::{Store, TestServer};

on_every_store!(
    an_unanswered_call_is_missed_after_the_ring_timeout,
    a_device_that_does_not_come_back_ends_the_call,
    a_device_that_comes_back_in_time_keeps_the_call,
    the_caller_dropping_while_it_rings_ends_the_call
);

fn ms(ms: u64) -> Duration {
    Duration::milliseconds(i64::try_from(ms).unwrap())
}

async fn an_unanswered_call_is_missed_after_the_ring_timeout(store: Store) {
    let mut scene = Scene::on(TestServer::start_for_calls(store, short_timings(), true).await).await;
    let call = scene.ring().await;
    scene.server.clock.advance(ms(POLICY.ring_timeout_ms));
    let expected = record(&call, &scene.an, "video", "missed", "missed", None);
    for socket in [&mut scene.an_socket, &mut scene.binh_1, &mut scene.binh_2] {
        assert_eq!(socket.next().await, ended(&call, "missed"));
        assert_eq!(system_message(socket, &scene.conversation).await, expected);
        socket.assert_nothing_pending().await;
    }
    let accept = json!({"type": "call.accept", "id": "accept", "call_id": call, "sdp": super::ANSWER});
    refused(&mut scene.binh_1, accept, "call_ended").await;
    assert_eq!(calls_in_history(&scene.server, &scene.an, &scene.conversation).await, [expected]);
    // Both are free again: a new call rings.
    let again = scene.ring().await;
    assert_ne!(again, call);
}

async fn a_device_that_does_not_come_back_ends_the_call(store: Store) {
    let mut scene = Scene::on(TestServer::start_for_calls(store, short_timings(), true).await).await;
    let call = scene.ring().await;
    scene.answer(&call).await;
    scene.server.clock.advance(Duration::seconds(2));

    // Bình's answering device drops; his other device is not part of the call.
    close(&mut scene.binh_1).await;
    wait_until_callee_lost(&scene.server, &call).await;
    scene.an_socket.assert_nothing_pending().await;
    scene.server.clock.advance(ms(POLICY.reconnect_grace_ms));

    let duration_ms = 2_000 + POLICY.reconnect_grace_ms;
    assert_eq!(scene.an_socket.next().await, ended_after(&call, "connection_lost", duration_ms));
    let expected = record(&call, &scene.an, "video", "ended", "connection_lost", Some(duration_ms));
    for socket in [&mut scene.an_socket, &mut scene.binh_2] {
        assert_eq!(system_message(socket, &scene.conversation).await, expected);
    }
    refused(&mut scene.an_socket, json!({"type": "call.hangup", "id": "h", "call_id": call}), "call_ended").await;
    assert_eq!(calls_in_history(&scene.server, &scene.an, &scene.conversation).await, [expected]);
}

async fn a_device_that_comes_back_in_time_keeps_the_call(store: Store) {
    // No timer task: the test fires due timers itself, so it knows when they have fired.
    let mut scene = Scene::on(TestServer::start_for_calls(store, short_timings(), false).await).await;
    let call = scene.ring().await;
    scene.answer(&call).await;
    scene.server.clock.advance(Duration::seconds(1));

    // Bình's answering device drops and reconnects with the same session (its access token).
    close(&mut scene.binh_1).await;
    wait_until_callee_lost(&scene.server, &call).await;
    scene.binh_1 = scene.server.connect(&scene.binh).await;

    // Long past the grace, every due timer fires: the call goes on.
    scene.server.clock.advance(ms(POLICY.reconnect_grace_ms * 3));
    signaling::fire_due_timers(&scene.server.deps).await.unwrap();
    scene.an_socket.assert_nothing_pending().await;
    acked(&mut scene.an_socket, ice_frame(&call, 7)).await;
    assert_eq!(scene.binh_1.next().await, ice(&call, 7));
    acked(&mut scene.binh_1, ice_frame(&call, 8)).await;
    assert_eq!(scene.an_socket.next().await, ice(&call, 8));
    scene.hang_up(&call, 1_000 + POLICY.reconnect_grace_ms * 3).await;
}

async fn the_caller_dropping_while_it_rings_ends_the_call(store: Store) {
    let mut scene = Scene::start(store).await;
    let call = scene.ring().await;
    close(&mut scene.an_socket).await;
    // Nothing to resume while it rings: the offer died with the caller's connection.
    let expected = record(&call, &scene.an, "video", "missed", "connection_lost", None);
    for socket in [&mut scene.binh_1, &mut scene.binh_2] {
        assert_eq!(socket.next().await, ended(&call, "connection_lost"));
        assert_eq!(system_message(socket, &scene.conversation).await, expected);
    }
    assert_eq!(calls_in_history(&scene.server, &scene.binh, &scene.conversation).await, [expected]);
}
