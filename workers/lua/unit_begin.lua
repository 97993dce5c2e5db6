-- Begin one delivery's work on a logical unit, in one atomic step: is the harvest known, is the
-- unit done, was its window replaced, which message owns the unit, is another delivery running
-- it right now. Checking and taking in one script closes the gap in which a duplicate could
-- read "not done" just before the holder finished, then take the lease and call TikTok again.
--
-- A unit's lease is a hash: `owner` is the lease token of the message that owns the unit (its
-- id, or the token a parked copy was given); `delivery` and `until` name the delivery running
-- it now and when its hold lapses (Redis clock, ms) unless renewed. A message with another
-- token is a duplicate and is dropped: the owner's message stays queued until acknowledged. A
-- parked copy names its `predecessor`; it succeeds it once the predecessor's delivery is over,
-- so a copy that wakes before the hand-over finished is never dropped by mistake.
--
-- KEYS: meta hash, done set, fetched hash, windows hash, lease hash, purged marker
-- ARGV: unit, window ('' for units outside any window), token, predecessor ('' for none),
--       delivery id, hold_ms, lease_ttl_s
-- Returns {verdict, detail, generation}, verdict being
--   'unknown' the harvest is not registered; 'purged' it was purged on purpose
--   'done'    the unit is complete                        (detail '')
--   'closed'  its window was replaced and nothing stored   (detail: the window's state)
--   'dropped' another message owns the unit
--   'paused'  the harvest is paused: hold the message until it is resumed
--   'cancelled' the harvest was cancelled: drop the message
--   'busy'    another delivery holds the unit              (detail: ms until its hold lapses)
--   'granted' this delivery holds the unit                 (detail: the reservation of the
--             stored answer, '' when none is stored)
local meta = redis.call('HMGET', KEYS[1], 'state', 'generation')
if not meta[1] then
  if redis.call('EXISTS', KEYS[6]) == 1 then
    return {'purged', '', ''}
  end
  return {'unknown', '', ''}
end
local gen = meta[2] or ''
if meta[1] == 'cancelled' then
  return {'cancelled', '', gen}
end
local unit = ARGV[1]
if redis.call('SISMEMBER', KEYS[2], unit) == 1 then
  return {'done', '', gen}
end
local fetched = redis.call('HGET', KEYS[3], unit)
if ARGV[2] ~= '' and not fetched then
  -- A page whose answer is stored is finished regardless: a crash may have left it just
  -- short of done while the pages after it closed the window.
  local state = redis.call('HGET', KEYS[4], ARGV[2])
  if state ~= 'open' then
    return {'closed', state or '', gen}
  end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = redis.call('HMGET', KEYS[5], 'owner', 'delivery', 'until')
local owner, delivery, until_ms = lease[1], lease[2], tonumber(lease[3]) or 0
if owner and owner ~= ARGV[3] and (ARGV[4] == '' or owner ~= ARGV[4]) then
  return {'dropped', '', gen}
end
if meta[1] == 'paused' then
  -- After the owner check: the message held is one that may run the unit on resume.
  return {'paused', '', gen}
end
if delivery and delivery ~= ARGV[5] and until_ms > now then
  return {'busy', tostring(until_ms - now), gen}
end
redis.call('HSET', KEYS[5], 'owner', ARGV[3], 'delivery', ARGV[5], 'until', now + tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[5], tonumber(ARGV[7]))
return {'granted', fetched or '', gen}
