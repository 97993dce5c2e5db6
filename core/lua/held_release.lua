-- Forget one held message once `resume` has sent it again, unless a new pause has held
-- another message for the unit since (that one waits for the next resume).
-- KEYS: held-messages hash; ARGV: unit, the message as it was read
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
