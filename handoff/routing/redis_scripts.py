"""The Lua scripts behind :class:`~handoff.routing.redis_state.RedisRoutingState`.

Each multi-key step of the routing state is one script, so Redis runs it without
anything in between: that is what makes a step atomic across server processes.
Every key a script touches comes in ``KEYS`` (built in ``handoff.storage.redis_keys``),
except in ``RELEASE`` and ``AGENT_REACH``, which learn the agent from what they read
(see there).
Scripts assume a single Redis (or a primary with replicas), not Redis Cluster: the
keys of one step live in different hash slots.

An agent's hash (``agent:<id>``) keeps each presence field on its own (``connected``
as ``1``/``0``, ``bots`` and ``teams`` as JSON), so that a script can check or change
one without decoding and encoding the rest; their load is the size of their
``agent_conversations`` set, never a stored number that could drift.
"""

from __future__ import annotations

__all__ = [
    "AGENT_REACH",
    "CLAIM",
    "DEQUEUE",
    "ENQUEUE",
    "HEARTBEAT",
    "MARK_LOST",
    "MARK_SEEN",
    "MARK_SENT",
    "MOVE",
    "NEXT_SEQ",
    "POP_DUE",
    "PUT_AGENT",
    "QUEUE",
    "REAP",
    "RELEASE",
    "SEED_SEQ",
    "TOUCH",
    "UPDATE_AGENT",
]

# The rule of MemoryState._can_take: the agent exists, serves the bot, is connected,
# online, and below their capacity; a supervisor stepping in (step_in '1') needs only
# to exist, be connected and serve the bot.
_CAN_TAKE = """
local function can_take(agent_key, conversations_key, bot_id, step_in)
  local a = redis.call('HMGET', agent_key, 'status', 'connected', 'capacity', 'bots')
  if not a[1] or a[2] ~= '1' then
    return false
  end
  if step_in ~= '1' and a[1] ~= 'online' then
    return false
  end
  if step_in ~= '1' and redis.call('SCARD', conversations_key) >= tonumber(a[3]) then
    return false
  end
  for _, bot in ipairs(cjson.decode(a[4])) do
    if bot == bot_id then
      return true
    end
  end
  return false
end
"""

_AGENT_READ = """
local function agent_read(agent_key, conversations_key)
  local values = redis.call('HMGET', agent_key, 'name', 'status', 'connected', 'capacity',
    'bots', 'teams', 'last_assigned_at')
  values[#values + 1] = redis.call('SCARD', conversations_key)
  return values
end
local function agent_listed(agents_key, order_key, agent_id)
  if not redis.call('ZSCORE', agents_key, agent_id) then
    redis.call('ZADD', agents_key, redis.call('INCR', order_key), agent_id)
  end
end
"""

PUT_AGENT = (
    _AGENT_READ
    + """
-- KEYS: agent, agents, agent_order, agent_conversations
-- ARGV: agent id, last_assigned_at, then field, value pairs (every presence field)
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
-- The time of the last assignment is the state's, not the caller's (kept when known).
redis.call('HSETNX', KEYS[1], 'last_assigned_at', ARGV[2])
agent_listed(KEYS[2], KEYS[3], ARGV[1])
return {redis.call('HGET', KEYS[1], 'last_assigned_at'), redis.call('SCARD', KEYS[4])}
"""
)

UPDATE_AGENT = (
    _AGENT_READ
    + """
-- KEYS: agent, agents, agent_order, agent_conversations
-- ARGV: agent id, n, n field, value pairs to start an unknown agent from (n = 0: leave
-- an unknown agent unknown), then the field, value pairs to change.
local n = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  if n == 0 then
    return false
  end
  redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + 2 * n))
  agent_listed(KEYS[2], KEYS[3], ARGV[1])
end
if #ARGV > 2 + 2 * n then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3 + 2 * n))
end
return agent_read(KEYS[1], KEYS[4])
"""
)

ENQUEUE = """
-- KEYS: queue, queue_entries, queue_priorities
-- ARGV: conversation id, entry JSON, priority, at_head (1/0)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return redis.call('LPOS', KEYS[1], ARGV[1]) + 1
end
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local priority = tonumber(ARGV[3])
local at_head = ARGV[4] == '1'
local at = #ids + 1
-- Behind every higher priority; at the head of its own, or behind its own.
for i, id in ipairs(ids) do
  local other = tonumber(redis.call('HGET', KEYS[3], id))
  if (at_head and other <= priority) or (not at_head and other < priority) then
    at = i
    break
  end
end
if at > #ids then
  redis.call('RPUSH', KEYS[1], ARGV[1])
else
  redis.call('LINSERT', KEYS[1], 'BEFORE', ids[at], ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return at
"""

DEQUEUE = """
-- KEYS: queue, queue_entries, queue_priorities; ARGV: conversation id
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

QUEUE = """
-- KEYS: queue, queue_entries: the entries (JSON) in queue order
local entries = {}
for i, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  entries[i] = redis.call('HGET', KEYS[2], id)
end
return entries
"""

CLAIM = (
    _CAN_TAKE
    + """
-- KEYS: agent, agent_conversations, assigned, queue, queue_entries, queue_priorities
-- ARGV: bot id, conversation id, agent id, now, step_in ('1' or '0')
if not can_take(KEYS[1], KEYS[2], ARGV[1], ARGV[5]) then
  return false
end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then
  return false
end
local entry = redis.call('HGET', KEYS[5], ARGV[2])
if not entry then
  return false
end
redis.call('LREM', KEYS[4], 1, ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[2])
redis.call('HDEL', KEYS[6], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'last_assigned_at', ARGV[4])
return entry
"""
)

MOVE = (
    _CAN_TAKE
    + """
-- KEYS: assigned, from agent_conversations, to agent, to agent_conversations
-- ARGV: conversation id, from agent, to agent, bot id, now, step_in ('1' or '0')
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] or ARGV[2] == ARGV[3] then
  return 0
end
if not can_take(KEYS[3], KEYS[4], ARGV[4], ARGV[6]) then
  return 0
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[3], 'last_assigned_at', ARGV[5])
return 1
"""
)

RELEASE = """
-- KEYS: assigned; ARGV: conversation id, the agent_conversations key prefix.
-- The agent is known only once read, so their set's key is built here from the
-- prefix RedisKeys gives (fine on one Redis; Redis Cluster would refuse it).
local agent = redis.call('HGET', KEYS[1], ARGV[1])
if not agent then
  return false
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', ARGV[2] .. agent, ARGV[1])
return agent
"""

POP_DUE = """
-- KEYS: deadlines; ARGV: now. Taken and removed at once: each key to one caller.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #due > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
end
return due
"""

NEXT_SEQ = """
-- KEYS: seq, generation, watch connections, initialized, assigned
-- ARGV: the generation asked for, or ''; conversation id; the agent it must be
-- assigned to, or ''
-- Returns {seq, the watch count}; false for a closed conversation (or another
-- generation, or another agent's); -1 when the state itself is missing (Redis lost
-- it: not rebuilt yet).
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('GET', KEYS[4]) ~= '1' then
    return -1
  end
  return false
end
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return false
end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[5], ARGV[2]) ~= ARGV[3] then
  return false
end
local watchers = 0
for _, n in ipairs(redis.call('HVALS', KEYS[3])) do
  watchers = watchers + tonumber(n)
end
return {redis.call('INCR', KEYS[1]), watchers}
"""

SEED_SEQ = """
-- KEYS: seq, generation, generations; ARGV: value, the generation floor
local current = redis.call('GET', KEYS[1])
if not current then
  -- A new handoff: a generation no earlier handoff of any conversation had. A counter
  -- that is missing (a new Redis, or one that lost its data) starts from the floor,
  -- above any number an earlier counter can have reached.
  if redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('SET', KEYS[3], ARGV[2])
  end
  redis.call('SET', KEYS[2], redis.call('INCR', KEYS[3]))
end
if (tonumber(current) or -1) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""

MARK_SEEN = """
-- KEYS: widget_seen; ARGV: seq. Only ever moves forward.
if (tonumber(redis.call('GET', KEYS[1])) or 0) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""

_COUNTS = """
-- A connection count (hash: process id -> count): {over every process, on others}.
local function counts(key, process_id)
  local all, elsewhere = 0, 0
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local n = tonumber(fields[i + 1])
    all = all + n
    if fields[i] ~= process_id then
      elsewhere = elsewhere + n
    end
  end
  return all, elsewhere
end
"""

MARK_SENT = (
    _COUNTS
    + """
-- KEYS: widget connections, widget_seen, the agent's connections
-- ARGV: seq, the calling process's id.
-- The delivery mark moves (forward only) when a widget socket is counted.
-- Returns {widget sockets, of them on other processes, the agent's sockets}.
local widgets, elsewhere = counts(KEYS[1], ARGV[2])
if widgets > 0 and (tonumber(redis.call('GET', KEYS[2])) or 0) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], ARGV[1])
end
local sockets = counts(KEYS[3], ARGV[2])
return {widgets, elsewhere, sockets}
"""
)

AGENT_REACH = (
    _COUNTS
    + """
-- KEYS: assigned; ARGV: conversation id, the agents' connections key prefix, the
-- calling process's id.
-- As in RELEASE, the agent is known only once read: their count's key is built here.
-- Returns false (not assigned), else {the agent, their sockets on other processes}.
local agent = redis.call('HGET', KEYS[1], ARGV[1])
if not agent then
  return false
end
local _, elsewhere = counts(ARGV[2] .. agent, ARGV[3])
return {agent, elsewhere}
"""
)

MARK_LOST = """
-- KEYS: widget_lost; ARGV: at. The earliest time not yet taken is kept.
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""

TOUCH = """
-- KEYS: connections (hash: process id -> count), counted (this process's set of the
-- connection keys it counts); ARGV: process id, delta.
-- Never below zero; a process's zero drops its field, the last field the key.
-- Returns the count over every process.
if tonumber(ARGV[2]) ~= 0 then
  local mine = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
  if mine > 0 then
    redis.call('SADD', KEYS[2], KEYS[1])
  else
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('SREM', KEYS[2], KEYS[1])
  end
end
local total = 0
for _, n in ipairs(redis.call('HVALS', KEYS[1])) do
  total = total + tonumber(n)
end
return total
"""

HEARTBEAT = """
-- KEYS: alive (this process's), processes, initialized
-- ARGV: process id, time-to-live in milliseconds, now (the process's clock)
-- Returns {was this process still registered (1/0), initialized (1/0)}.
local registered = redis.call('ZSCORE', KEYS[2], ARGV[1]) and 1 or 0
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {registered, redis.call('EXISTS', KEYS[3])}
"""

REAP = """
-- KEYS: processes, alive (the dead process's), counted (the dead process's)
-- ARGV: the dead process's id.
-- Takes the counts of a process whose heartbeat expired, once: the first caller
-- removes it from processes, a second finds nothing. Returns false (alive, or taken
-- already), else {its last heartbeat, the connection keys whose count reached 0...}.
-- The connection keys come from the process's own index (as RELEASE learns its agent).
if redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not last then
  return false
end
redis.call('ZREM', KEYS[1], ARGV[1])
local zeroed = {last}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  -- Only a count this process still held (a closed conversation's key is gone).
  if redis.call('HDEL', key, ARGV[1]) == 1 and redis.call('EXISTS', key) == 0 then
    zeroed[#zeroed + 1] = key
  end
end
redis.call('DEL', KEYS[3])
return zeroed
"""
