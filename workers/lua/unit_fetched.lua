-- The unit's answer is stored under source_records/: note which quota reservation paid for
-- it, so a later delivery reuses the answer and settles that reservation instead of calling
-- again. Fenced: only the delivery holding the unit may say so.
-- KEYS: lease hash, fetched hash; ARGV: delivery id, unit, reservation.
-- Returns 1, or 0 when this delivery no longer holds the unit.
if redis.call('HGET', KEYS[1], 'delivery') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
