-- Mark a logical unit (a video page, a profile, a comment page) complete, count it once, and
-- close the harvest when nothing is left. Fenced: only the delivery holding the unit may
-- complete it, so a delivery that lost its hold (stalled, cut off) cannot count or close
-- anything late.
-- KEYS: done, stats, windows, users_requested, users_done, meta, parked, lease, fetched,
--       chains_requested, chains_done
-- ARGV: unit, kind ('page'|'user'|'chain'|'days': new days of an ongoing harvest, counted
--       nowhere), records, chain (the window of a page; for a
--       chain unit its `<endpoint>:<what>`), chain_ended ('1'|'0'), username, outcome, now,
--       delivery id, endpoint (a chain unit's, for its counters)
-- Returns -1 when this delivery no longer holds the unit, 1 when this call completed the
-- harvest's last unit, 0 otherwise.
local unit, kind = ARGV[1], ARGV[2]
if redis.call('HGET', KEYS[8], 'delivery') ~= ARGV[9] then
  return -1
end
if redis.call('SADD', KEYS[1], unit) == 1 then
  if kind == 'page' then
    redis.call('HINCRBY', KEYS[2], 'pages', 1)
    redis.call('HINCRBY', KEYS[2], 'records', tonumber(ARGV[3]))
    if ARGV[5] == '1' and redis.call('HGET', KEYS[3], ARGV[4]) == 'open' then
      redis.call('HSET', KEYS[3], ARGV[4], 'done')
    end
  elseif kind == 'chain' then
    redis.call('HINCRBY', KEYS[2], 'pages_' .. ARGV[10], 1)
    redis.call('HINCRBY', KEYS[2], 'records_' .. ARGV[10], tonumber(ARGV[3]))
    if ARGV[5] == '1' and redis.call('SADD', KEYS[11], ARGV[4]) == 1 then
      redis.call('HINCRBY', KEYS[2], 'chains_done_' .. ARGV[10], 1)
    end
  elseif kind == 'user' then
    redis.call('HSET', KEYS[5], ARGV[6], ARGV[7])
    redis.call('HINCRBY', KEYS[2], 'users_' .. ARGV[7], 1)
  end
end
redis.call('SREM', KEYS[7], unit)
-- A done unit needs no owner any more: later duplicates stop at the done check.
redis.call('DEL', KEYS[8])

if redis.call('HEXISTS', KEYS[6], 'completed_at') == 1 then
  return 0
end
local states = redis.call('HVALS', KEYS[3])
for i = 1, #states do
  if states[i] == 'open' then
    return 0
  end
end
-- A unit whose answer is stored but which is not done yet (its worker died just short of
-- it) is still to come back; done units are a subset of fetched ones.
if redis.call('HLEN', KEYS[9]) > redis.call('SCARD', KEYS[1]) then
  return 0
end
-- Every page that asked for a user or a chain has finished, so every asked user and chain is
-- in its set.
if redis.call('SCARD', KEYS[4]) > redis.call('HLEN', KEYS[5]) then
  return 0
end
if redis.call('SCARD', KEYS[10]) > redis.call('SCARD', KEYS[11]) then
  return 0
end
-- Every unit is done; finishing (workers/finish.py) sets finished_at when it is through.
redis.call('HSET', KEYS[6], 'completed_at', ARGV[8])
return 1
