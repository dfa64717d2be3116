//! Waiting in contract checks without a runtime: core's suites run on whatever executor the
//! adapter's test uses, so a pause is a thread that sleeps and then wakes the waiting task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use futures_util::task::AtomicWaker;

/// Waits `duration` on any executor: a thread sleeps, then wakes the waiting task.
pub(crate) async fn pause(duration: Duration) {
    struct Alarm {
        rung: AtomicBool,
        waker: AtomicWaker,
    }
    let alarm = Arc::new(Alarm { rung: AtomicBool::new(false), waker: AtomicWaker::new() });
    let ringer = alarm.clone();
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        ringer.rung.store(true, Ordering::SeqCst);
        ringer.waker.wake();
    });
    std::future::poll_fn(|cx| {
        // Register first, then look: a ring in between still wakes us.
        alarm.waker.register(cx.waker());
        if alarm.rung.load(Ordering::SeqCst) { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
}
