-- Mark a unit of a compliance refresh done (a page of one batch's video query): note the
-- videos TikTok still served and whether the batch's chain ended, and say whether this was
-- the refresh's last unit. Fenced: only the delivery holding the unit may, so one that lost
-- its hold cannot note or complete anything late.
--
-- The refresh is complete when no unit is pending. A page's next page becomes pending here,
-- when the page is done, unless it is done already: a worker that died between sending the
-- next page and this step leaves its page pending, and the refresh waits for it even when
-- the page after it is done first.
--
-- KEYS: lease, done, parked, refresh hash, served set, ended set, pending set
-- ARGV: delivery id, unit, refresh id, batch, the next page's unit ('' when the chain ended),
--       now, then the ids served
-- Returns -1 when this delivery no longer holds the unit, 1 when this call completed the
-- refresh, 0 otherwise.
if redis.call('HGET', KEYS[1], 'delivery') ~= ARGV[1] then
  return -1
end
local first = redis.call('SADD', KEYS[2], ARGV[2]) == 1
redis.call('SREM', KEYS[3], ARGV[2])
-- A done unit needs no owner any more: later duplicates stop at the done check.
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[4], 'id') ~= ARGV[3] then
  return 0  -- a message of an earlier refresh: nothing of it is kept any more
end
for i = 7, #ARGV do
  redis.call('SADD', KEYS[5], ARGV[i])
end
if first then
  redis.call('HINCRBY', KEYS[4], 'pages', 1)
end
redis.call('SREM', KEYS[7], ARGV[2])
if ARGV[5] == '' then
  redis.call('SADD', KEYS[6], ARGV[4])
elseif redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 0 then
  redis.call('SADD', KEYS[7], ARGV[5])
end
-- The sets made here expire with the refresh.
local ttl = redis.call('PTTL', KEYS[4])
if ttl > 0 then
  for i = 5, 7 do
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
if redis.call('HEXISTS', KEYS[4], 'completed_at') == 1 or redis.call('SCARD', KEYS[7]) > 0 then
  return 0
end
redis.call('HSET', KEYS[4], 'completed_at', ARGV[6])
return 1
