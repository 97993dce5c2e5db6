-- Claim videos for a logical page: a video belongs to the first page that claims it, and a
-- page processed again re-claims its own. Fenced: only the delivery holding the page claims.
-- KEYS[1] owners hash, KEYS[2] the page's lease hash; ARGV: delivery id, page, video ids...
-- Returns a list with 1 where the page owns the video, 0 where another page does, or -1
-- when this delivery no longer holds the page.
if redis.call('HGET', KEYS[2], 'delivery') ~= ARGV[1] then
  return -1
end
local owned = {}
for i = 3, #ARGV do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[2]) == 1 then
    owned[i - 2] = 1
  elseif redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[2] then
    owned[i - 2] = 1
  else
    owned[i - 2] = 0
  end
end
return owned
