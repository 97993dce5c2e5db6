-- Hold a unit's message while its harvest is paused, checking the pause in the same step:
-- a `resume` between the check and the write would otherwise never send it again.
-- KEYS: meta hash, held-messages hash; ARGV: unit, message (Dramatiq's encoding)
-- Returns 1 held; 0 the harvest is no longer paused (resumed or cancelled meanwhile).
if redis.call('HGET', KEYS[1], 'state') ~= 'paused' then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
