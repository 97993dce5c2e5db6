-- After a call: give back the records its take reserved but did not use, and note whether
-- TikTok answered. Safe to repeat: the reservation is removed, so a second settle of the same
-- take refunds nothing. Each take has a reservation of its own, so settling one never refunds
-- what another (say, a call whose worker died before settling) reserved and used.
-- KEYS[1] bucket hash, KEYS[2] reservation-hash prefix, KEYS[3] shares-hash prefix,
-- KEYS[4] failing-units sorted set
-- ARGV: reservation, used_records, clock_offset_s, unsent ('1': the call never went out, so
-- its request is given back too, to the bucket and to the harvest's share), harvest,
-- answered ('1': TikTok answered with something other than an outage sign: it is up), unit
-- (harvest|unit, as in the failing set)
-- Returns the number of records refunded.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[3])
local day = math.floor(now / 86400)
if ARGV[6] == '1' then
  -- TikTok is up: an outage, if one was on, is over, and this unit is failing no more.
  redis.call('HSET', KEYS[1], 'last_ok', now)
  redis.call('HDEL', KEYS[1], 'outage_since', 'probe_at', 'probe_every')
  redis.call('ZREM', KEYS[4], ARGV[7])
end
local resv = KEYS[2] .. ':' .. day
local reserved = tonumber(redis.call('HGET', resv, ARGV[1]))
if not reserved then
  return 0
end
redis.call('HDEL', resv, ARGV[1])
local refund = reserved - tonumber(ARGV[2])
-- A reservation made before midnight belongs to a day whose counters are gone.
if tonumber(redis.call('HGET', KEYS[1], 'day')) ~= day then
  return 0
end
if ARGV[4] == '1' then
  redis.call('HINCRBY', KEYS[1], 'requests', -1)
  redis.call('HINCRBY', KEYS[3] .. ':' .. day, ARGV[5], -1)
end
if refund <= 0 then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'records', -refund)
return refund
