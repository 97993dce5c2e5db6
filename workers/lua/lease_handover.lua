-- Hand a unit from a parked message to its delayed copy.
-- KEYS[1] lease hash; ARGV: old token, new token, lease_ttl_s.
-- Returns 1 when the copy owns the unit (now, or because it already took it over when it
-- woke first), 0 when the unit is done or another message owns it.
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner == ARGV[1] then
  redis.call('HSET', KEYS[1], 'owner', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
if owner == ARGV[2] then
  return 1
end
return 0
