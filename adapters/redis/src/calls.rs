//! `CallStore` on Redis, shared by every node. Per call a hash `call:<id>` holding the call's
//! JSON, its version and, once over, `ended`; per user `call-user:<user>` naming the call
//! they are in; per node a set `call-node:<node>` of the calls that named it; and one sorted
//! set `call-timers` of every armed timer, scored by its due time in milliseconds.
//! Starting and updating are Lua scripts, so the busy check and the version check happen in
//! the same step as the writes they guard. Every key lives `ttl` (on Redis's clock) from its
//! last write; the timers are judged by the `now` the caller gives.

use async_trait::async_trait;
use chat_core::domain::call::{Call, CallTimer};
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{CallId, NodeId, UserId};
use chat_core::domain::{Duration, Timestamp};
use chat_core::ports::{CallStore, StartOutcome, StoredCall};
use redis::Script;

use crate::RedisConnection;

/// KEYS: call, caller's key, callee's key, the caller's node's set. ARGV: call JSON, ttl ms,
/// call id. Returns 0 when
/// started, 1 when the caller is busy, 2 when the callee is. A user key is deleted when its
/// call ends (or lapses with it), so its existence means the user is in a live call.
const START: &str = r"
for i = 2, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return i - 1 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', 1, 'call', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return 0
";

/// KEYS: call, caller's key, callee's key, then the set of each node the call names. ARGV:
/// expected version, call JSON, ttl ms, 1 if the call is ended (else 0), call id. Returns the
/// new version, or nil when the stored one is not the expected one (or the call is gone).
/// The user keys still naming this call are renewed, or deleted when it ended; one naming
/// another call is left alone. The node sets get the call (renewed), or lose it when it
/// ended; the set of a node a party left keeps it until `CALLS_ON` finds it ended.
const UPDATE: &str = r"
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return false end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'call', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i = 2, 3 do
  if redis.call('GET', KEYS[i]) == ARGV[5] then
    if ARGV[4] == '1' then
      redis.call('DEL', KEYS[i])
    else
      redis.call('PEXPIRE', KEYS[i], ARGV[3])
    end
  end
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'ended', 1)
end
for i = 4, #KEYS do
  if ARGV[4] == '1' then
    redis.call('SREM', KEYS[i], ARGV[5])
  else
    redis.call('SADD', KEYS[i], ARGV[5])
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
end
return version
";

/// KEYS: a node's set. ARGV: the prefix of the call keys (`…call:`). Returns the calls of
/// the set that are live, and drops from it those that ended or lapsed.
const CALLS_ON: &str = r"
local live = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local call = ARGV[1] .. id
  if redis.call('EXISTS', call) == 1 and redis.call('HEXISTS', call, 'ended') == 0 then
    table.insert(live, id)
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return live
";

/// KEYS: timers. ARGV: now ms, limit. Removes and returns up to `limit` members due at `now`,
/// earliest first: removed in the same step, so no other node gets them.
const TAKE_DUE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
end
return due
";

pub struct RedisCallStore {
    redis: RedisConnection,
    start: Script,
    update: Script,
    take_due: Script,
    calls_on: Script,
}

impl RedisCallStore {
    pub fn new(redis: RedisConnection) -> Self {
        RedisCallStore {
            redis,
            start: Script::new(START),
            update: Script::new(UPDATE),
            take_due: Script::new(TAKE_DUE),
            calls_on: Script::new(CALLS_ON),
        }
    }

    fn call_key(&self, id: CallId) -> String {
        self.redis.key(&format!("call:{id}"))
    }

    fn user_key(&self, user: UserId) -> String {
        self.redis.key(&format!("call-user:{user}"))
    }

    fn node_key(&self, node: NodeId) -> String {
        self.redis.key(&format!("call-node:{node}"))
    }

    fn timers_key(&self) -> String {
        self.redis.key("call-timers")
    }
}

/// A ttl in whole milliseconds, at least 1: Redis refuses a zero or negative expiry, and a
/// key written with one should lapse at once rather than fail the write.
fn ttl_ms(ttl: Duration) -> i64 {
    ttl.num_milliseconds().max(1)
}

fn to_json(call: &Call) -> Result<String, PortError> {
    serde_json::to_string(call).map_err(|e| PortError::Internal(format!("call {} as JSON: {e}", call.id())))
}

/// A timer's member of the sorted set: the call id and the timer, as JSON. The same timer of
/// the same call always makes the same text, so arming again moves it and disarming finds it.
fn timer_member(id: CallId, timer: CallTimer) -> Result<String, PortError> {
    serde_json::to_string(&(id, timer)).map_err(|e| PortError::Internal(format!("call timer as JSON: {e}")))
}

fn from_timer_member(member: &str) -> Result<(CallId, CallTimer), serde_json::Error> {
    serde_json::from_str(member)
}

#[async_trait]
impl CallStore for RedisCallStore {
    async fn start(&self, call: &Call, ttl: Duration) -> Result<StartOutcome, PortError> {
        let json = to_json(call)?;
        let mut conn = self.redis.conn().await?;
        let outcome: i64 = self
            .start
            .key(self.call_key(call.id()))
            .key(self.user_key(call.caller().user_id))
            .key(self.user_key(call.callee()))
            .key(self.node_key(call.caller_node()))
            .arg(json)
            .arg(ttl_ms(ttl))
            .arg(call.id().to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        match outcome {
            0 => Ok(StartOutcome::Started),
            1 => Ok(StartOutcome::Busy(call.caller().user_id)),
            2 => Ok(StartOutcome::Busy(call.callee())),
            other => Err(PortError::Internal(format!("call start answered {other}"))),
        }
    }

    async fn call(&self, id: CallId) -> Result<Option<StoredCall>, PortError> {
        let mut conn = self.redis.conn().await?;
        let (json, version): (Option<String>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.call_key(id))
            .arg("call")
            .arg("version")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        let (Some(json), Some(version)) = (json, version) else {
            return Ok(None);
        };
        let call = serde_json::from_str(&json).map_err(|e| PortError::Internal(format!("stored call {id}: {e}")))?;
        Ok(Some(StoredCall { call, version }))
    }

    async fn update(&self, call: &Call, version: u64, ttl: Duration) -> Result<Option<u64>, PortError> {
        let json = to_json(call)?;
        let mut conn = self.redis.conn().await?;
        let mut update = self.update.prepare_invoke();
        update
            .key(self.call_key(call.id()))
            .key(self.user_key(call.caller().user_id))
            .key(self.user_key(call.callee()));
        for node in call.nodes() {
            update.key(self.node_key(node));
        }
        update
            .arg(version)
            .arg(json)
            .arg(ttl_ms(ttl))
            .arg(if call.is_ended() { 1 } else { 0 })
            .arg(call.id().to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))
    }

    async fn current_call(&self, user: UserId) -> Result<Option<CallId>, PortError> {
        let mut conn = self.redis.conn().await?;
        let id: Option<String> = redis::cmd("GET")
            .arg(self.user_key(user))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        id.map(|id| id.parse().map_err(|_| PortError::Internal(format!("bad call id {id} for user {user}"))))
            .transpose()
    }

    async fn arm(&self, id: CallId, timer: CallTimer, at: Timestamp) -> Result<(), PortError> {
        let member = timer_member(id, timer)?;
        let mut conn = self.redis.conn().await?;
        let _: i64 = redis::cmd("ZADD")
            .arg(self.timers_key())
            .arg(at.timestamp_millis())
            .arg(member)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(())
    }

    async fn disarm(&self, id: CallId, timer: CallTimer) -> Result<(), PortError> {
        let member = timer_member(id, timer)?;
        let mut conn = self.redis.conn().await?;
        let _: i64 = redis::cmd("ZREM")
            .arg(self.timers_key())
            .arg(member)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(())
    }

    async fn take_due(&self, now: Timestamp, limit: usize) -> Result<Vec<(CallId, CallTimer)>, PortError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.redis.conn().await?;
        let members: Vec<String> = self
            .take_due
            .key(self.timers_key())
            .arg(now.timestamp_millis())
            .arg(limit)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        // The members are removed already: failing the whole batch for one unreadable member
        // would lose the good ones with it, so that one is logged and dropped.
        Ok(members
            .iter()
            .filter_map(|member| match from_timer_member(member) {
                Ok(timer) => Some(timer),
                Err(error) => {
                    tracing::error!(member, %error, "dropping an unreadable call timer");
                    None
                }
            })
            .collect())
    }

    async fn calls_on(&self, node: NodeId) -> Result<Vec<CallId>, PortError> {
        let mut conn = self.redis.conn().await?;
        let ids: Vec<String> = self
            .calls_on
            .key(self.node_key(node))
            .arg(self.redis.key("call:"))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        ids.iter()
            .map(|id| id.parse().map_err(|_| PortError::Internal(format!("bad call id {id} listed under node {node}"))))
            .collect()
    }
}
