-- Hand a unit's lease from one holder to another (a parked message's next copy).
-- KEYS[1] lease key; ARGV: old holder, new holder, ttl seconds.
-- Returns 1 when the new holder has it, 0 when someone else held it.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
