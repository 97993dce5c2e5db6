-- An ongoing harvest finished every day added so far: mark it so, unless a new day was
-- added while it was being finished (which cleared completed_at: workers/lua/days_add.lua).
-- KEYS: meta; ARGV: now
if redis.call('HEXISTS', KEYS[1], 'completed_at') == 1 then
  redis.call('HSETNX', KEYS[1], 'finished_at', ARGV[1])
  return 1
end
return 0
