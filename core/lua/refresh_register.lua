-- Register a compliance refresh of a done harvest (or of an ongoing one, whatever day it is
-- at) in one step, or name the one in progress.
-- One refresh at a time: while one runs, a second `refresh` joins it instead.
--
-- The harvest's keys are kept at least `keep_s` from now (a done harvest's keys expire
-- HARVEST_RETENTION_DAYS after it finished: they must outlive the refresh, which may wait
-- days for quota); the refresh's own keys get that expiry too (workers give the sets they
-- create the refresh hash's).
--
-- KEYS: meta, stats, refresh hash, batches hash, served set, ended set, pending set, gone
--       set, then every key of the harvest whose expiry is extended
-- ARGV: refresh id, started_at, videos, unchecked, keep_s, then per batch, newest first: the
--       unit of its first page, the batch (JSON)
-- Returns {verdict, refresh id}: 'started' (this one), 'running' (the refresh in progress,
-- to join), or 'refused' with why: 'unknown', 'unfinished', 'failed', 'paused', 'cancelled'.
local meta = redis.call('HMGET', KEYS[1], 'state', 'finished_at', 'ongoing')
if not meta[1] then
  return {'refused', 'unknown'}
end
local current = redis.call('HMGET', KEYS[3], 'id', 'finished_at')
if current[1] and not current[2] then
  return {'running', current[1]}
end
if meta[1] == 'paused' or meta[1] == 'cancelled' then
  return {'refused', meta[1]}
end
if tonumber(redis.call('HGET', KEYS[2], 'dead_letters') or '0') > 0 then
  return {'refused', 'failed'}
end
if not meta[2] and meta[3] ~= '1' then
  return {'refused', 'unfinished'}
end

local keep = tonumber(ARGV[5])
-- (GT leaves a key without an expiry, an ongoing harvest's, without one.)
for i = 9, #KEYS do
  redis.call('EXPIRE', KEYS[i], keep, 'GT')
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
local batches = math.floor((#ARGV - 5) / 2)
redis.call('HSET', KEYS[3], 'id', ARGV[1], 'started_at', ARGV[2], 'videos', ARGV[3], 'unchecked', ARGV[4],
           'batches', batches, 'pages', 0,
           'requests_before', redis.call('HGET', KEYS[2], 'requests_refresh') or '0')
for i = 1, batches do
  redis.call('SADD', KEYS[7], ARGV[4 + 2 * i])
  redis.call('HSET', KEYS[4], i - 1, ARGV[5 + 2 * i])
end
redis.call('EXPIRE', KEYS[3], keep)
redis.call('EXPIRE', KEYS[4], keep)
redis.call('EXPIRE', KEYS[7], keep)
return {'started', ARGV[1]}
