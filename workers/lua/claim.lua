-- Claim videos for a logical page: a video belongs to the first page that claims it, and a
-- page processed again re-claims its own. KEYS[1] owners hash; ARGV: page, video ids...
-- Returns a list with 1 where the page owns the video, 0 where another page does.
local owned = {}
for i = 2, #ARGV do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1]) == 1 then
    owned[i - 1] = 1
  elseif redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    owned[i - 1] = 1
  else
    owned[i - 1] = 0
  end
end
return owned
