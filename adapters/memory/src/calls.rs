//! `CallStore` in memory: live calls, whose call each user is in, and the calls' timers, for
//! one process (embedded mode: one node, so one process is everyone).
//!
//! Every entry lapses `ttl` after its last write, judged lazily on the runtime's clock (an
//! expired entry reads as absent; tokio's clock, so tests on a paused clock can move it), as
//! Redis does with its keys. Timers are judged by the `now` the caller gives.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::domain::call::{Call, CallTimer};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{CallId, NodeId, UserId};
use chat_core::domain::{Duration, Timestamp};
use chat_core::ports::{CallStore, StartOutcome, StoredCall};
use parking_lot::Mutex;
use tokio::time::Instant;

/// How many starts pass between sweeps of lapsed calls and user entries (a lapsed entry
/// behaves exactly like an absent one, so dropping it changes nothing; without sweeps ended
/// calls would pile up in a long-running embedded server).
const SWEEP_EVERY: u64 = 100;

#[derive(Default)]
pub struct MemoryCalls {
    state: Mutex<Calls>,
}

#[derive(Default)]
struct Calls {
    calls: HashMap<CallId, Expiring<StoredCall>>,
    current_by_user: HashMap<UserId, Expiring<CallId>>,
    timers: HashMap<(CallId, CallTimer), Timestamp>,
    starts: u64,
}

/// A value and when it lapses.
struct Expiring<T> {
    value: T,
    until: Instant,
}

impl<T> Expiring<T> {
    fn live(&self, now: Instant) -> Option<&T> {
        (self.until > now).then_some(&self.value)
    }
}

impl MemoryCalls {
    pub fn new() -> Self {
        MemoryCalls::default()
    }
}

/// When an entry written now with `ttl` lapses; a negative `ttl` lapses at once.
fn lapse_at(now: Instant, ttl: Duration) -> Instant {
    now + ttl.to_std().unwrap_or_default()
}

fn users_of(call: &Call) -> [UserId; 2] {
    [call.caller().user_id, call.callee()]
}

impl Calls {
    fn current_call(&self, user: UserId, now: Instant) -> Option<CallId> {
        self.current_by_user.get(&user).and_then(|entry| entry.live(now)).copied()
    }

    fn sweep(&mut self, now: Instant) {
        self.calls.retain(|_, entry| entry.until > now);
        self.current_by_user.retain(|_, entry| entry.until > now);
    }
}

#[async_trait]
impl CallStore for MemoryCalls {
    async fn start(&self, call: &Call, ttl: Duration) -> Result<StartOutcome, PortError> {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.starts += 1;
        if state.starts.is_multiple_of(SWEEP_EVERY) {
            state.sweep(now);
        }
        if let Some(busy) = users_of(call).into_iter().find(|user| state.current_call(*user, now).is_some()) {
            return Ok(StartOutcome::Busy(busy));
        }
        let until = lapse_at(now, ttl);
        let stored = StoredCall { call: call.clone(), version: 1 };
        state.calls.insert(call.id(), Expiring { value: stored, until });
        for user in users_of(call) {
            state.current_by_user.insert(user, Expiring { value: call.id(), until });
        }
        Ok(StartOutcome::Started)
    }

    async fn call(&self, id: CallId) -> Result<Option<StoredCall>, PortError> {
        let now = Instant::now();
        Ok(self.state.lock().calls.get(&id).and_then(|entry| entry.live(now)).cloned())
    }

    async fn update(&self, call: &Call, version: u64, ttl: Duration) -> Result<Option<u64>, PortError> {
        let now = Instant::now();
        let until = lapse_at(now, ttl);
        let mut state = self.state.lock();
        let Some(entry) = state.calls.get_mut(&call.id()).filter(|entry| entry.live(now).is_some()) else {
            return Ok(None);
        };
        if entry.value.version != version {
            return Ok(None);
        }
        let new_version = version + 1;
        *entry = Expiring { value: StoredCall { call: call.clone(), version: new_version }, until };
        for user in users_of(call) {
            // Only entries still naming this call: a user may be in another call by now.
            if state.current_call(user, now) != Some(call.id()) {
                continue;
            }
            if call.is_ended() {
                state.current_by_user.remove(&user);
            } else {
                state.current_by_user.insert(user, Expiring { value: call.id(), until });
            }
        }
        Ok(Some(new_version))
    }

    async fn current_call(&self, user: UserId) -> Result<Option<CallId>, PortError> {
        let now = Instant::now();
        Ok(self.state.lock().current_call(user, now))
    }

    async fn arm(&self, id: CallId, timer: CallTimer, at: Timestamp) -> Result<(), PortError> {
        self.state.lock().timers.insert((id, timer), at);
        Ok(())
    }

    async fn disarm(&self, id: CallId, timer: CallTimer) -> Result<(), PortError> {
        self.state.lock().timers.remove(&(id, timer));
        Ok(())
    }

    /// The earliest due timers first, as the Redis sorted set hands them out.
    async fn take_due(&self, now: Timestamp, limit: usize) -> Result<Vec<(CallId, CallTimer)>, PortError> {
        let mut state = self.state.lock();
        let mut due: Vec<((CallId, CallTimer), Timestamp)> =
            state.timers.iter().filter(|(_, at)| **at <= now).map(|(timer, at)| (*timer, *at)).collect();
        due.sort_by_key(|(_, at)| *at);
        due.truncate(limit);
        for (timer, _) in &due {
            state.timers.remove(timer);
        }
        Ok(due.into_iter().map(|(timer, _)| timer).collect())
    }

    /// The live calls with a party on `node` now: exactly what the port allows at least.
    async fn calls_on(&self, node: NodeId) -> Result<Vec<CallId>, PortError> {
        let now = Instant::now();
        Ok(self
            .state
            .lock()
            .calls
            .values()
            .filter_map(|entry| entry.live(now))
            .filter(|stored| !stored.call.is_ended() && stored.call.nodes().contains(&node))
            .map(|stored| stored.call.id())
            .collect())
    }
}
