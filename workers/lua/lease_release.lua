-- A delivery is over without finishing its unit (it failed, parked or gave way): let the
-- next delivery in at once instead of after the hold lapses. The owner stays.
-- KEYS[1] lease hash; ARGV[1] delivery id. Returns 1 when this delivery still held the unit.
if redis.call('HGET', KEYS[1], 'delivery') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'delivery', 'until')
  return 1
end
return 0
