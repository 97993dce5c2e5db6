-- Renew running deliveries' hold on their units, or learn that it is lost. A hold that lapsed
-- is still renewed when nobody took the unit over meanwhile: only another delivery writing
-- its own id ends a hold.
-- KEYS: lease hashes; ARGV: hold_ms, then one delivery id per key.
-- Returns one 1 (still held, renewed) or 0 (lost: taken over, or the unit is done) per key.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = {}
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'delivery') == ARGV[i + 1] then
    redis.call('HSET', key, 'until', now + tonumber(ARGV[1]))
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
