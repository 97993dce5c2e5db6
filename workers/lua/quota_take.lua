-- Take one request and up to `want` records from a credential's daily bucket, atomically.
-- KEYS[1] bucket hash, KEYS[2] reservation-hash prefix (the UTC day number is appended)
-- ARGV: daily_requests, daily_records, want, unit, clock_offset_s, least (the smallest grant
-- the caller can use)
-- Returns {1, granted_records, requests_left, records_left}
--      or {0, wait_ms, requests_left, records_left} when the bucket cannot serve the call.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[5])
local day = math.floor(now / 86400)
local limit_requests = tonumber(ARGV[1])
local limit_records = tonumber(ARGV[2])
local want = tonumber(ARGV[3])

local b = redis.call('HMGET', KEYS[1], 'day', 'requests', 'records', 'spent_until')
local requests, records = tonumber(b[2]) or 0, tonumber(b[3]) or 0
if tonumber(b[1]) ~= day then
  -- A new UTC day: the whole budget is back.
  requests, records = 0, 0
  redis.call('HSET', KEYS[1], 'day', day, 'requests', 0, 'records', 0)
end

local until_reset_ms = math.ceil(((day + 1) * 86400 - now) * 1000)
local spent_until = tonumber(b[4]) or 0
if now < spent_until then
  return {0, math.ceil((spent_until - now) * 1000), limit_requests - requests, limit_records - records}
end
if requests >= limit_requests or limit_records - records < tonumber(ARGV[6]) then
  return {0, until_reset_ms, limit_requests - requests, limit_records - records}
end

-- Spend the day to the last record: a call may get a smaller page than it asked for.
local grant = math.min(want, limit_records - records)
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('HINCRBY', KEYS[1], 'records', grant)
local resv = KEYS[2] .. ':' .. day
redis.call('HINCRBY', resv, ARGV[4], grant)
redis.call('EXPIRE', resv, 2 * 86400)
return {1, grant, limit_requests - requests - 1, limit_records - records - grant}
