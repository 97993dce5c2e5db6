-- Read a bucket as of now (a stale day reads as a fresh one).
-- KEYS[1] bucket hash, KEYS[2] active-harvests sorted set, KEYS[3] shares-hash prefix
-- ARGV: clock_offset_s, harvest ('' for none), active_s
-- Returns {requests_used, records_used, ms_until_reset, spent_ms_left, the harvest's requests
-- today, harvests sharing the day now, ms since TikTok looked down (0: it does not), ms until
-- the next probe}.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[1])
local day = math.floor(now / 86400)
local b = redis.call('HMGET', KEYS[1], 'day', 'requests', 'records', 'spent_until', 'outage_since', 'probe_at')
local requests, records = tonumber(b[2]) or 0, tonumber(b[3]) or 0
if tonumber(b[1]) ~= day then
  requests, records = 0, 0
end
local spent_left = math.max(0, math.ceil(((tonumber(b[4]) or 0) - now) * 1000))
local mine = 0
if ARGV[2] ~= '' then
  mine = tonumber(redis.call('HGET', KEYS[3] .. ':' .. day, ARGV[2])) or 0
end
local sharing = redis.call('ZCOUNT', KEYS[2], now - tonumber(ARGV[3]), '+inf')
local down_ms, probe_ms = 0, 0
if b[5] then
  down_ms = math.max(1, math.ceil((now - tonumber(b[5])) * 1000))
  probe_ms = math.max(0, math.ceil(((tonumber(b[6]) or now) - now) * 1000))
end
return {requests, records, math.ceil(((day + 1) * 86400 - now) * 1000), spent_left, mine, sharing, down_ms, probe_ms}
