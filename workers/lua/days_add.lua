-- Add new days to an ongoing harvest: the window of a new-days unit is fixed by its first
-- delivery (a delivery after a crash, maybe a day later, gets the same window back rather
-- than a wider one, so no day is ever asked for twice), opened among the harvest's windows,
-- and the harvest is no longer complete until that window's units are done. Fenced: only the
-- delivery holding the unit may add.
-- KEYS: lease, new_days hash (first day -> window), windows, meta
-- ARGV: delivery id, the unit's first day, the window proposed, its last day
-- Returns the unit's window, or '' when this delivery no longer holds the unit.
if redis.call('HGET', KEYS[1], 'delivery') ~= ARGV[1] then
  return ''
end
local fixed = redis.call('HGET', KEYS[2], ARGV[2])
if fixed then
  return fixed
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSETNX', KEYS[3], ARGV[3], 'open')
local through = redis.call('HGET', KEYS[4], 'through')
if not through or through < ARGV[4] then
  redis.call('HSET', KEYS[4], 'through', ARGV[4])
end
redis.call('HDEL', KEYS[4], 'completed_at', 'finished_at')
return ARGV[3]
