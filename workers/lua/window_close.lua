-- Mark a window replaced (split or restarted). Fenced: only the delivery holding the unit
-- whose calls kept failing may close its window.
-- KEYS: lease hash, windows hash; ARGV: delivery id, window, new state.
-- Returns 1, or 0 when this delivery no longer holds its unit.
if redis.call('HGET', KEYS[1], 'delivery') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
