-- Fix, once, which videos a compliance refresh found gone: the first caller's set stands,
-- and a later caller (a repeat after a crash, a second delivery) gets it back unchanged.
-- KEYS: refresh hash, gone set
-- ARGV: refresh id, now, then the ids found gone (asked for, never served)
-- Returns {decided_at, the gone ids}, or {} when the refresh is not the harvest's latest.
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  return {}
end
if redis.call('HSETNX', KEYS[1], 'decided_at', ARGV[2]) == 1 then
  for i = 3, #ARGV do
    redis.call('SADD', KEYS[2], ARGV[i])
  end
  redis.call('HSET', KEYS[1], 'gone', #ARGV - 2)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 and #ARGV > 2 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
local found = redis.call('SMEMBERS', KEYS[2])
table.insert(found, 1, redis.call('HGET', KEYS[1], 'decided_at'))
return found
