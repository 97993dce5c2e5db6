-- Take or re-take the lease on a logical unit for a message id.
-- KEYS[1] lease key; ARGV: message id, ttl seconds. Returns 1 if the message holds the lease.
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
  return 1
end
if holder == ARGV[1] then
  return 1
end
return 0
