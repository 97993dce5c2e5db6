-- Pause, resume or cancel a harvest: check its state and change it in one step, so two
-- operators (or an operator and a service) racing each other get one clear answer each.
-- KEYS: meta hash, held-messages hash
-- ARGV: action (pause, resume, cancel), now (seconds)
-- Returns {verdict, state before}: verdict 'unknown' (no such harvest), 'done' (finished:
-- nothing to stop; an ongoing harvest that caught up is not finished), 'cancelled' (cancelled
-- for good: nothing to pause or resume), 'unchanged' (already in that state; resume of a
-- harvest that is not paused) or 'changed'.
local meta = redis.call('HMGET', KEYS[1], 'state', 'finished_at', 'ongoing')
local state, finished = meta[1], meta[2] and meta[3] ~= '1'
if not state then
  return {'unknown', ''}
end
local action = ARGV[1]
if state == 'cancelled' then
  return {action == 'cancel' and 'unchanged' or 'cancelled', state}
end
if finished then
  return {'done', state}
end
if action == 'pause' then
  if state == 'paused' then
    return {'unchanged', state}
  end
  redis.call('HSET', KEYS[1], 'state', 'paused', 'paused_at', ARGV[2])
elseif action == 'resume' then
  if state ~= 'paused' then
    return {'unchanged', state}
  end
  redis.call('HSET', KEYS[1], 'state', 'active', 'resumed_at', ARGV[2])
  redis.call('HDEL', KEYS[1], 'paused_at')
else
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancelled_at', ARGV[2])
  -- Messages held by a pause are dropped with it: nothing is sent for the harvest again.
  redis.call('DEL', KEYS[2])
end
return {'changed', state}
