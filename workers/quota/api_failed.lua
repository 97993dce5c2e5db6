-- A call failed with an outage sign (TikTok's 5xx, a time-out, the network). Tell an outage
-- from a unit that fails on its own: when calls of several units fail and none succeeds in
-- between, TikTok (or the way to it) is down, and the credential stops spending. From then on
-- quota_take lets one probe out per interval (doubling up to a cap while probes fail) and the
-- first answer from TikTok (quota_settle) ends the outage.
-- KEYS[1] bucket hash, KEYS[2] failing-units sorted set (harvest|unit -> its last failure)
-- ARGV: unit (harvest|unit), clock_offset_s, probe ('1' when the failed call was the probe),
--       open_after (distinct units failing since the last success that make an outage),
--       first_probe_s, max_probe_s
-- Returns {outage (1 or 0), ms until the next probe, isolated}: isolated is 1 when the failure
-- looks tied to this unit (TikTok answered others since the unit last failed, or no other unit
-- is failing), the evidence a window needs before it is split.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'last_ok', 'outage_since', 'probe_every', 'probe_at')
local last_ok = tonumber(b[1]) or 0
local previous = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
local others = redis.call('ZCOUNT', KEYS[2], '(' .. last_ok, '+inf')
if previous and previous > last_ok then
  others = others - 1
end
local isolated = 0
if (previous and last_ok > previous) or others == 0 then
  isolated = 1
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 86400)
redis.call('EXPIRE', KEYS[2], 86400)

local first, cap = tonumber(ARGV[5]), tonumber(ARGV[6])
if b[2] then
  local probe_at = tonumber(b[4]) or now
  if ARGV[3] == '1' then
    local every = math.min(2 * (tonumber(b[3]) or first), cap)
    probe_at = now + every
    redis.call('HSET', KEYS[1], 'probe_every', every, 'probe_at', probe_at)
  end
  return {1, math.max(0, math.ceil((probe_at - now) * 1000)), 0}
end
if others + 1 >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'outage_since', now, 'probe_every', first, 'probe_at', now + first)
  return {1, math.ceil(first * 1000), 0}
end
return {0, 0, isolated}
