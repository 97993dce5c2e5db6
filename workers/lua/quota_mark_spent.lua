-- TikTok keeps answering 429: treat the credential as spent until the next UTC midnight
-- plus a margin (TikTok may lag behind midnight).
-- KEYS[1] bucket hash; ARGV: clock_offset_s, margin_s. Returns ms until the bucket reopens.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[1])
local day = math.floor(now / 86400)
local reopen = (day + 1) * 86400 + tonumber(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[1], 'spent_until')) or 0
if reopen > current then
  redis.call('HSET', KEYS[1], 'spent_until', reopen)
end
return math.ceil((math.max(reopen, current) - now) * 1000)
