-- Register a harvest atomically: its plan, its windows (all open), its meta and its place in
-- the list of harvests, or nothing at all when the id is taken. The generation (the
-- submission time) tells workers that cached a plan under this id that it was registered
-- anew after a purge.
-- KEYS: plan, windows, meta, harvests, purged marker
-- ARGV: plan json, harvest id, submitted_at, '1' for an ongoing harvest (else ''), windows...
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then
  return 0
end
for i = 5, #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], 'open')
end
redis.call('HSET', KEYS[3], 'state', 'active', 'generation', ARGV[3])
if ARGV[4] == '1' then
  -- Caught up is not done: it can still be paused and cancelled (core/lua/harvest_control.lua).
  redis.call('HSET', KEYS[3], 'ongoing', '1')
end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
redis.call('DEL', KEYS[5])
return 1
