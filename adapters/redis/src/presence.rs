//! `PresenceStore` on Redis. Per user, a sorted set of live sessions scored by expiry time;
//! one sorted set of users scored by their latest expiry lets any node find, and claim
//! atomically, the users whose node died. Times are the nodes' clocks (kept in sync by NTP).

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConnectionId, UserId};
use chat_core::domain::{Duration, Timestamp};
use chat_core::ports::{PresenceStatus, PresenceStore};
use redis::Script;

use crate::RedisConnection;

/// KEYS: sessions, deadlines. ARGV: session, now, expiry, user. Returns 1 if the user just
/// came online.
const ALIVE: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIREAT', KEYS[1], math.floor(latest / 1000) + 60000)
redis.call('ZADD', KEYS[2], latest, ARGV[4])
if before == 0 then return 1 else return 0 end
";

/// ALIVE for many sessions. KEYS: deadlines, then one sessions key per session. ARGV: now,
/// expiry, then session and user per session. Returns the (1-based) positions of the
/// sessions whose user just came online.
const ALIVE_MANY: &str = r"
local out = {}
for i = 2, #KEYS do
  local key, session, user = KEYS[i], ARGV[2 * i - 1], ARGV[2 * i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  local before = redis.call('ZCARD', key)
  redis.call('ZADD', key, ARGV[2], session)
  local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  redis.call('PEXPIREAT', key, math.floor(latest / 1000) + 60000)
  redis.call('ZADD', KEYS[1], latest, user)
  if before == 0 then table.insert(out, i - 1) end
end
return out
";

/// Sessions per ALIVE_MANY call: long scripts block Redis for everyone else.
const ALIVE_BATCH: usize = 500;

/// KEYS: sessions, deadlines, last seen. ARGV: session, now, user. Returns 1 if that was
/// the user's last live session.
const ENDED: &str = r"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('ZADD', KEYS[2], redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2], ARGV[3])
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('SET', KEYS[3], ARGV[2], 'EX', 31536000)
return 1
";

/// KEYS: deadlines. ARGV: now, key prefix. Claims users whose every session expired and
/// returns them with their last expiry: [user, ms, user, ms, ...].
const EXPIRED: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, 500)
local out = {}
for i = 1, #due, 2 do
  local user, deadline = due[i], due[i + 1]
  local sessions = ARGV[2] .. 'pres:' .. user
  redis.call('ZREMRANGEBYSCORE', sessions, '-inf', ARGV[1])
  if redis.call('ZCARD', sessions) == 0 then
    redis.call('ZREM', KEYS[1], user)
    redis.call('DEL', sessions)
    redis.call('SET', ARGV[2] .. 'seen:' .. user, deadline, 'EX', 31536000)
    table.insert(out, user)
    table.insert(out, deadline)
  else
    redis.call('ZADD', KEYS[1], redis.call('ZRANGE', sessions, -1, -1, 'WITHSCORES')[2], user)
  end
end
return out
";

pub struct RedisPresence {
    redis: RedisConnection,
    alive: Script,
    alive_many: Script,
    ended: Script,
    expired: Script,
}

impl RedisPresence {
    pub fn new(redis: RedisConnection) -> Self {
        RedisPresence {
            redis,
            alive: Script::new(ALIVE),
            alive_many: Script::new(ALIVE_MANY),
            ended: Script::new(ENDED),
            expired: Script::new(EXPIRED),
        }
    }

    pub(crate) fn redis(&self) -> &RedisConnection {
        &self.redis
    }

    fn sessions_key(&self, user: UserId) -> String {
        self.redis.key(&format!("pres:{user}"))
    }

    fn seen_key(&self, user: UserId) -> String {
        self.redis.key(&format!("seen:{user}"))
    }

    fn deadlines_key(&self) -> String {
        self.redis.key("pres-deadlines")
    }
}

/// Times are stored as microseconds since the epoch, the precision of every clock (scores
/// are doubles, exact up to 2^53 µs, i.e. the year 2255).
fn micros(at: Timestamp) -> i64 {
    at.timestamp_micros()
}

fn from_micros(us: i64) -> Result<Timestamp, PortError> {
    Timestamp::from_timestamp_micros(us).ok_or_else(|| PortError::Internal(format!("stored time {us} out of range")))
}

#[async_trait]
impl PresenceStore for RedisPresence {
    async fn connection_alive(
        &self,
        user: UserId,
        session: ConnectionId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let came_online: i64 = self
            .alive
            .key(self.sessions_key(user))
            .key(self.deadlines_key())
            .arg(session.to_string())
            .arg(micros(now))
            .arg(micros(now + ttl))
            .arg(user.to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(came_online == 1)
    }

    async fn connections_alive(
        &self,
        sessions: &[(UserId, ConnectionId)],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<UserId>, PortError> {
        let mut came_online: Vec<UserId> = Vec::new();
        for chunk in sessions.chunks(ALIVE_BATCH) {
            let mut invocation = self.alive_many.key(self.deadlines_key());
            invocation.arg(micros(now)).arg(micros(now + ttl));
            for (user, session) in chunk {
                invocation.key(self.sessions_key(*user)).arg(session.to_string()).arg(user.to_string());
            }
            let mut conn = self.redis.conn().await?;
            let positions: Vec<usize> = invocation.invoke_async(&mut conn).await.map_err(|e| self.redis.failed(e))?;
            for position in positions {
                if let Some(&(user, _)) = chunk.get(position.wrapping_sub(1))
                    && !came_online.contains(&user)
                {
                    came_online.push(user);
                }
            }
        }
        Ok(came_online)
    }

    async fn connection_ended(&self, user: UserId, session: ConnectionId, now: Timestamp) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let went_offline: i64 = self
            .ended
            .key(self.sessions_key(user))
            .key(self.deadlines_key())
            .key(self.seen_key(user))
            .arg(session.to_string())
            .arg(micros(now))
            .arg(user.to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(went_offline == 1)
    }

    async fn take_expired(&self, now: Timestamp) -> Result<Vec<(UserId, Timestamp)>, PortError> {
        let mut conn = self.redis.conn().await?;
        let flat: Vec<String> = self
            .expired
            .key(self.deadlines_key())
            .arg(micros(now))
            .arg(&self.redis.prefix)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        flat.chunks(2)
            .filter_map(|pair| match pair {
                [user, at] => Some((user, at)),
                _ => None,
            })
            .map(|(user, at)| {
                let user = user.parse().map_err(|_| PortError::Internal(format!("bad user id {user} in presence")))?;
                let at: f64 = at.parse().map_err(|_| PortError::Internal(format!("bad time {at} in presence")))?;
                Ok((user, from_micros(at as i64)?))
            })
            .collect()
    }

    async fn status(&self, users: &[UserId], now: Timestamp) -> Result<Vec<(UserId, PresenceStatus)>, PortError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for user in users {
            pipe.cmd("ZCOUNT").arg(self.sessions_key(*user)).arg(format!("({}", micros(now))).arg("+inf");
            pipe.cmd("GET").arg(self.seen_key(*user));
        }
        let mut conn = self.redis.conn().await?;
        let replies: Vec<(i64, Option<String>)> =
            pipe.query_async(&mut conn).await.map_err(|e| self.redis.failed(e))?;
        users
            .iter()
            .zip(replies)
            .map(|(user, (live, seen))| {
                let online = live > 0;
                let last_seen = match seen.filter(|_| !online) {
                    Some(ms) => {
                        let ms: f64 = ms.parse().map_err(|_| PortError::Internal(format!("bad last seen {ms}")))?;
                        Some(from_micros(ms as i64)?)
                    }
                    None => None,
                };
                Ok((*user, PresenceStatus { online, last_seen }))
            })
            .collect()
    }
}
