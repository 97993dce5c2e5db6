-- TikTok keeps answering 429: treat the credential as spent until the next UTC midnight
-- plus a margin. Early in a UTC day the 429s are more likely TikTok's own reset lagging
-- behind midnight, so then only pause for a while instead of giving up the whole day.
-- KEYS[1] bucket hash; ARGV: clock_offset_s, margin_s, grace_s, grace_pause_s.
-- Returns ms until the bucket reopens.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[1])
local day = math.floor(now / 86400)
local reopen = (day + 1) * 86400 + tonumber(ARGV[2])
if now - day * 86400 < tonumber(ARGV[3]) then
  reopen = now + tonumber(ARGV[4])
end
local current = tonumber(redis.call('HGET', KEYS[1], 'spent_until')) or 0
if reopen > current then
  redis.call('HSET', KEYS[1], 'spent_until', reopen)
end
return math.ceil((math.max(reopen, current) - now) * 1000)
