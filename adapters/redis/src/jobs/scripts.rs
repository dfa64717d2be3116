//! The queue's Lua scripts, each one atomic step on the queue's keys (see `jobs.rs`).

/// Lua helpers shared by the scripts: Redis time in ms, an entry's fields, and the attempt a
/// pending entry is at (0 when it is not pending).
pub(super) const PRELUDE: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function field_table(list)
  local f = {}
  for i = 1, #list, 2 do f[list[i]] = list[i + 1] end
  -- Entries written before there were push jobs name their task (a media id) 'media'.
  f.task = f.task or f.media
  return f
end
local function fields(stream, id)
  local entry = redis.call('XRANGE', stream, id, id)
  if #entry == 0 then return nil end
  return field_table(entry[1][2])
end
local function attempt_of(stream, group, id, f)
  local p = redis.call('XPENDING', stream, group, id, id, 1)
  if #p == 0 or f == nil then return 0 end
  return tonumber(f.attempt) + tonumber(p[1][4]) - 1
end
local function bury(stream, group, live, dead, order, id, task, attempt, reason)
  local at = now_ms()
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  redis.call('SREM', live, task)
  redis.call('HSET', dead, id, task .. '|' .. attempt .. '|' .. at .. '|' .. reason)
  redis.call('ZADD', order, at, id)
end
";

/// KEYS: stream, live. ARGV: group, task. 1 when added, 0 when the task has a live job.
pub(super) const ENQUEUE: &str = r"
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[1], '*', 'task', ARGV[2], 'attempt', 1)
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0')
return 1
";

/// KEYS: delayed, live. ARGV: task, delay ms. 1 when added (waiting in the delayed set as a
/// retry would, under a made-up id: the take that moves it gives it a stream entry), 0 when the
/// task has a live job.
pub(super) const ENQUEUE_AFTER: &str = r"
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), 'later|' .. ARGV[1] .. '|1')
return 1
";

/// KEYS: stream, delayed, live, dead, dead order. ARGV: group, consumer, timeout ms, max
/// attempts. {id, task, attempt} for a job handed out, else {'', the stream's last entry id
/// ('0-0' when empty: a read after it waits for a new entry), ms until the next retry or lapse
/// is due, or -1}.
pub(super) const TAKE: &str = r"
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local timeout, max_attempts = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
local now = now_ms()
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)) do
  local task, attempt = string.match(member, '^[^|]*|([^|]*)|([^|]*)$')
  redis.call('XADD', stream, '*', 'task', task, 'attempt', attempt)
  redis.call('ZREM', KEYS[2], member)
end
local cursor = '0-0'
repeat
  local claimed = redis.call('XAUTOCLAIM', stream, group, consumer, timeout, cursor, 'COUNT', 1)
  cursor = claimed[1]
  for _, entry in ipairs(claimed[2]) do
    local id = entry[1]
    local f = fields(stream, id)
    local attempt = attempt_of(stream, group, id, f)
    if attempt > max_attempts then
      bury(stream, group, KEYS[3], KEYS[4], KEYS[5], id, f.task, attempt - 1,
        'timed out: attempt ' .. (attempt - 1) .. ' was never finished')
    else
      return {id, f.task, attempt}
    end
  end
until cursor == '0-0'
local fresh = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', stream, '>')
if fresh then
  local entry = fresh[1][2][1]
  local f = field_table(entry[2])
  return {entry[1], f.task, tonumber(f.attempt)}
end
local wait = -1
local due = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #due > 0 then wait = math.max(0, tonumber(due[2]) - now) end
for _, p in ipairs(redis.call('XPENDING', stream, group, '-', '+', 100)) do
  local lapse = math.max(0, timeout - tonumber(p[3]))
  if wait < 0 or lapse < wait then wait = lapse end
end
local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then last_id = last[1][1] end
return {'', last_id, wait}
";

/// KEYS: stream. ARGV: group, id, attempt. 1 when this claim held and its idle time is now
/// zero: an `XCLAIM` by the entry's own consumer with `JUSTID`, which resets the idle time
/// and, unlike a plain `XCLAIM`, leaves the delivery count (and so the attempt) alone.
pub(super) const EXTEND: &str = r"
local f = fields(KEYS[1], ARGV[2])
if attempt_of(KEYS[1], ARGV[1], ARGV[2], f) ~= tonumber(ARGV[3]) then return 0 end
local owner = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)[1][2]
redis.call('XCLAIM', KEYS[1], ARGV[1], owner, 0, ARGV[2], 'JUSTID')
return 1
";

/// KEYS: stream, live. ARGV: group, id, attempt. 1 when this claim held and is now done.
pub(super) const COMPLETE: &str = r"
local f = fields(KEYS[1], ARGV[2])
if attempt_of(KEYS[1], ARGV[1], ARGV[2], f) ~= tonumber(ARGV[3]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], f.task)
return 1
";

/// KEYS: stream, delayed, live, dead, dead order. ARGV: group, id, attempt, backoff ms (or
/// -1 for the last attempt), reason. {0} not held, {1} dead, {2, retry time in ms}.
pub(super) const FAIL: &str = r"
local stream, group, id, attempt = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = fields(stream, id)
if attempt_of(stream, group, id, f) ~= attempt then return {0} end
if tonumber(ARGV[4]) < 0 then
  bury(stream, group, KEYS[3], KEYS[4], KEYS[5], id, f.task, attempt, ARGV[5])
  return {1}
end
redis.call('XACK', stream, group, id)
redis.call('XDEL', stream, id)
local at = now_ms() + tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], at, id .. '|' .. f.task .. '|' .. (attempt + 1))
return {2, at}
";

/// KEYS: stream, delayed, dead. ARGV: group. {ready, in flight, delayed, dead}.
pub(super) const STATS: &str = r"
local pending = redis.pcall('XPENDING', KEYS[1], ARGV[1])
local in_flight = 0
if type(pending) == 'table' and not pending.err then in_flight = pending[1] end
local ready = redis.call('XLEN', KEYS[1]) - in_flight
return {ready, in_flight, redis.call('ZCARD', KEYS[2]), redis.call('HLEN', KEYS[3])}
";

/// KEYS: dead, dead order. ARGV: limit. {id, record, id, record, ...}, newest first.
pub(super) const DEAD: &str = r"
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)) do
  local record = redis.call('HGET', KEYS[1], id)
  if record then table.insert(out, id); table.insert(out, record) end
end
return out
";

/// KEYS: stream, live, dead, dead order. ARGV: group, id. 1 when put back.
pub(super) const RETRY_DEAD: &str = r"
local record = redis.call('HGET', KEYS[3], ARGV[2])
if not record then return 0 end
local task = string.match(record, '^([^|]*)|')
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('SADD', KEYS[2], task)
redis.call('XADD', KEYS[1], '*', 'task', task, 'attempt', 1)
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0')
return 1
";
