-- Register a harvest atomically: its plan, its windows (all open), its meta and its place in
-- the list of harvests, or nothing at all when the id is taken.
-- KEYS: plan, windows, meta, harvests; ARGV: plan json, harvest id, submitted_at, windows...
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then
  return 0
end
for i = 4, #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], 'open')
end
redis.call('HSET', KEYS[3], 'state', 'active')
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return 1
