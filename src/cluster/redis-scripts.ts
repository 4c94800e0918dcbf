/**
 * The Lua scripts, each one atomic step in Redis. Keys are passed as KEYS (all in the canvas's hash slot).
 */

/**
 * PLACE: for each group, take its pixels from the address's shared token bucket; append the accepted
 * groups as ONE stream entry numbered by INCR, trimmed with MAXLEN ~. Refuses everything when the epoch is
 * not the caller's (Redis lost or re-seeded the canvas: the node must resync before writing).
 * KEYS: stream, seq, epoch, then one bucket per distinct address of the call.
 * ARGV: epoch, maxlen, rate/s, burst, meta, payload — meta holds "count:bytes:bucket:identity," per group
 * (bucket: a 1-based index into the bucket keys; identity: hex or empty), payload the groups' bytes back to
 * back. Two arguments however many groups, so a call carrying thousands of one-pixel PLACEs costs the client
 * two buffers, not two per PLACE. The entry: field `p` the accepted groups, `i` their identities (stream-codec.ts).
 * Returns { seq or 0 (nothing added) or -1 (epoch mismatch), per group: 0 ok | -1 never fits | wait ms }.
 */
export const PLACE_LUA = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return {-1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[3]) / 1000
local burst = tonumber(ARGV[4])
local ttl = math.ceil(burst / rate) + 1000
local payload = ARGV[6]
local out = {0}
local parts = {}
local ids = {}
-- One read and one write per address, however many of its PLACEs this call carries (a flooding bot).
local buckets = {}
local pos = 1
local i = 1
for count, len, k, id in string.gmatch(ARGV[5], '(%d+):(%d+):(%d+):(%x*),') do
  count = tonumber(count)
  len = tonumber(len)
  local key = KEYS[3 + tonumber(k)]
  local b = buckets[key]
  if not b then
    local h = redis.call('HMGET', key, 't', 'ts')
    local tokens = burst
    if h[1] then tokens = math.min(burst, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * rate) end
    b = { tokens = tokens, dirty = false }
    buckets[key] = b
  end
  i = i + 1
  if count > burst then
    out[i] = -1
  elseif b.tokens >= count then
    b.tokens = b.tokens - count
    b.dirty = true
    parts[#parts + 1] = string.sub(payload, pos, pos + len - 1)
    ids[#ids + 1] = id
    out[i] = 0
  else
    out[i] = math.max(1, math.ceil((count - b.tokens) / rate))
  end
  pos = pos + len
end
for key, b in pairs(buckets) do
  if b.dirty then
    redis.call('HSET', key, 't', string.format('%.6f', b.tokens), 'ts', string.format('%d', now))
    redis.call('PEXPIRE', key, ttl)
  end
end
if #parts > 0 then
  local seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], string.format('%d', seq) .. '-1', 'p', table.concat(parts), 'i', table.concat(ids, ','))
  out[1] = seq
end
return out
`;

/**
 * SHARED: append a new value of a canvas shared through the log (a music canvas's tempo map, field `t`; its
 * published palette, field `a`: ./shared-value.ts) as one stream entry, numbered by the same INCR as
 * placements, and keep it as the shared value — only if the shared value is still the one the caller
 * computed it from (compare-and-set on the seq of the entry that set it; 0: none yet). Otherwise nothing is
 * written and the caller gets the current value to compute again from. Refuses, like PLACE, another epoch.
 * KEYS: stream, seq, epoch, the value's key. ARGV: epoch, maxlen, base seq, value text, entry field.
 * The key's hash fields are `seq` and `map` (named when the tempo map was the only value, kept so nodes of
 * that release read it). Returns {seq} written, {-1} epoch mismatch, or {-2, current seq, current text ('' when none)}.
 */
export const SHARED_LUA = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return {-1} end
local cur = redis.call('HGET', KEYS[4], 'seq') or '0'
if cur ~= ARGV[3] then return {-2, cur, redis.call('HGET', KEYS[4], 'map') or ''} end
local seq = redis.call('INCR', KEYS[2])
local id = string.format('%d', seq)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id .. '-1', ARGV[5], ARGV[4])
redis.call('HSET', KEYS[4], 'seq', id, 'map', ARGV[4])
return {seq}
`;

/**
 * CONNECT: admit one more connection for an address if its live connections (across all nodes) are under
 * the cap. Entries expire unless their node refreshes them, so a node killed with -9 frees its slots.
 * KEYS: the address's set. ARGV: member, cap, ttl ms. Returns 1 admitted, 0 refused.
 */
export const CONNECT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`;
