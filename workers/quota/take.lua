-- Take one request and up to `want` records from a credential's daily bucket, atomically.
-- KEYS[1] bucket hash, KEYS[2] reservation-hash prefix, KEYS[3] active-harvests sorted set,
-- KEYS[4] shares-hash prefix (the UTC day number is appended to both prefixes), KEYS[5] the
-- harvest's meta hash (its state: a paused or cancelled harvest takes nothing), KEYS[6] the
-- harvest's set of buckets it took from (so it can leave every one of them when it ends),
-- KEYS[7] rate-hash prefix (the minute slot is appended: harvest -> requests taken in it)
-- ARGV: daily_requests, daily_records, want, reservation (one per take: settled once),
-- clock_offset_s, least (the smallest grant the caller can use), harvest, active_s (how long a
-- harvest counts as active after it last asked), fair_wait_ms, bucket (this bucket's name),
-- rate_slot_s, plausible_factor, plausible_slack (see the fair share below)
-- Returns {1, granted_records, requests_left, records_left, probe} (probe 1: TikTok looks down
--      and this call is the one that may find out whether it is back)
--      or {0, wait_ms, requests_left, records_left, why} when the bucket cannot serve the call,
--      why being 'throttled' (TikTok kept answering 429), 'day_spent', 'fair_share' or
--      'api_down' (see workers/quota/api_failed.lua; wait_ms is until the next probe may go),
--      'paused' or 'cancelled' (the harvest's state; wait_ms 0). Checked here, in the step that
--      grants the call, so no call is granted once `status` shows the harvest paused.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[5])
local day = math.floor(now / 86400)
local limit_requests = tonumber(ARGV[1])
local limit_records = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local harvest = ARGV[7]

local harvest_state = redis.call('HGET', KEYS[5], 'state')
if harvest_state == 'paused' or harvest_state == 'cancelled' then
  local b = redis.call('HMGET', KEYS[1], 'day', 'requests', 'records')
  local same_day = tonumber(b[1]) == day
  return {0, 0, limit_requests - (same_day and tonumber(b[2]) or 0),
          limit_records - (same_day and tonumber(b[3]) or 0), harvest_state}
end

-- Harvests asking for this credential lately share its day.
redis.call('ZADD', KEYS[3], now, harvest)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[8]))
redis.call('EXPIRE', KEYS[3], 2 * 86400)

local b = redis.call('HMGET', KEYS[1], 'day', 'requests', 'records', 'spent_until', 'outage_since', 'probe_at',
                    'probe_every')
local requests, records = tonumber(b[2]) or 0, tonumber(b[3]) or 0
if tonumber(b[1]) ~= day then
  -- A new UTC day: the whole budget is back.
  requests, records = 0, 0
  redis.call('HSET', KEYS[1], 'day', day, 'requests', 0, 'records', 0)
end

local until_reset_ms = math.ceil(((day + 1) * 86400 - now) * 1000)
local spent_until = tonumber(b[4]) or 0
if now < spent_until then
  return {0, math.ceil((spent_until - now) * 1000), limit_requests - requests, limit_records - records, 'throttled'}
end
if requests >= limit_requests or limit_records - records < tonumber(ARGV[6]) then
  return {0, until_reset_ms, limit_requests - requests, limit_records - records, 'day_spent'}
end

-- Fair share of the day's requests: a harvest may run ahead of the other active harvests only
-- as far as the requests left after this one still let each of them catch up, so the day
-- ends with equal counts for harvests that kept asking. The harvest furthest behind may
-- always take, so harvests never block each other. What is held back for another harvest is
-- no more than it can plausibly use before the reset at its recent rate (requests taken in
-- the last ten minutes or so, at least one per active_s, times a margin): a harvest that asks once every few minutes keeps
-- its pace, and the budget it cannot use goes to the others instead of lying idle at midnight.
local shares = KEYS[4] .. ':' .. day
local slot_s = tonumber(ARGV[11])
local slot = math.floor(now / slot_s)
local weight_before = 1 - (now - slot * slot_s) / slot_s
local rate_now, rate_before = KEYS[7] .. ':' .. slot, KEYS[7] .. ':' .. (slot - 1)
local until_reset_s = (day + 1) * 86400 - now
local mine = tonumber(redis.call('HGET', shares, harvest)) or 0
local lead, furthest_behind = 0, true
for _, other in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if other ~= harvest then
    local theirs = tonumber(redis.call('HGET', shares, other)) or 0
    if theirs < mine then
      furthest_behind = false
    end
    local catch_up = mine + 1 - theirs
    if catch_up > 0 then
      local recent = (tonumber(redis.call('HGET', rate_now, other)) or 0)
          + (tonumber(redis.call('HGET', rate_before, other)) or 0) * weight_before
      -- An active harvest asks at least once per active_s (else it would not be active): the
      -- floor of its rate, and all that is known of one that only just began.
      local rate = math.max(recent / slot_s, 1 / tonumber(ARGV[8]))
      local plausible = math.ceil(rate * until_reset_s * tonumber(ARGV[12])) + tonumber(ARGV[13])
      lead = lead + math.min(catch_up, plausible)
    end
  end
end
local left_after = limit_requests - requests - 1
if not furthest_behind and left_after < lead then
  return {0, tonumber(ARGV[9]), limit_requests - requests, limit_records - records, 'fair_share'}
end

-- TikTok looks down: one call goes out per probe interval, the others wait for its answer.
local probe = 0
if b[5] then
  local probe_at = tonumber(b[6]) or 0
  if now < probe_at then
    -- Wake after the probe's answer is in (half an interval later), not with it.
    local wait = probe_at - now + (tonumber(b[7]) or 0) / 2
    return {0, math.ceil(wait * 1000), limit_requests - requests, limit_records - records, 'api_down'}
  end
  redis.call('HSET', KEYS[1], 'probe_at', now + (tonumber(b[7]) or 0))
  probe = 1
end

-- Spend the day to the last record: a call may get a smaller page than it asked for.
local grant = math.min(want, limit_records - records)
redis.call('SADD', KEYS[6], ARGV[10])
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('HINCRBY', KEYS[1], 'records', grant)
redis.call('HINCRBY', shares, harvest, 1)
redis.call('HINCRBY', rate_now, harvest, 1)
redis.call('EXPIRE', rate_now, 3 * slot_s)
redis.call('EXPIRE', shares, 2 * 86400)
local resv = KEYS[2] .. ':' .. day
redis.call('HINCRBY', resv, ARGV[4], grant)
redis.call('EXPIRE', resv, 2 * 86400)
return {1, grant, left_after, limit_records - records - grant, probe}
