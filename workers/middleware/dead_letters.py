"""Records why a message failed for good, and marks its harvest failed.

Dramatiq moves such a message to its dead-letter queue; we also keep our own record with the
reason, so `tiktok-harvest dead list` can show it and `dead replay` can send it again (a
replay needs only our record, not Dramatiq's copy).

Redis runs without eviction and 7.0 has no expiry per hash field, so the letters are kept in
one hash and pruned by the retention sweep (`prune`, workers/retention.py): a registered
harvest keeps its letters as long as it is kept itself (they are what a replay needs), and the
letters of an id that is no longer registered go HARVEST_FAILED_RETENTION_DAYS (30, as long as
Dramatiq keeps a dead message) after the newest of them. The hash itself expires that long
after its newest letter, in case no worker is left to sweep.
"""

import time
from collections import defaultdict

import msgspec
import structlog
from dramatiq import Middleware

from core.config import get_settings
from core.redaction import scrub
from workers import metrics
from workers.context import get_context

log = structlog.get_logger(__name__)

# Records a letter; counts it in its harvest only while the harvest is registered: keys made
# for an id that is not (forgotten, purged, never submitted) would never expire. A finished
# harvest's keys expire together, so a counter made now gets the same expiry.
# KEYS: dead-letter hash, and for a letter with a harvest: its stats hash, its meta hash
# ARGV: message id, letter (JSON), seconds to keep the hash after this letter, failed_at
RECORD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
if #KEYS == 3 and redis.call('HEXISTS', KEYS[3], 'state') == 1 then
  redis.call('HINCRBY', KEYS[2], 'dead_letters', 1)
  redis.call('HSET', KEYS[3], 'last_dead_at', ARGV[4])
  local expires = redis.call('PTTL', KEYS[3])
  if expires > 0 then
    redis.call('PEXPIRE', KEYS[2], expires)
  end
end
return 1
"""

# Removes a letter (and Dramatiq's copy) once it is sent again; uncounts it in its harvest
# only if the letter was still there (a second replay of it changes nothing) and the harvest
# is registered.
# KEYS: dead-letter hash, Dramatiq's dead-letter sorted set and its message hash, and for a
#       letter with a harvest: its stats hash, its meta hash
# ARGV: message id, Dramatiq's message id ('' if unknown)
# Returns 1 when the letter was removed, 0 when it was already gone.
UNRECORD = """
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if #KEYS == 5 and redis.call('HEXISTS', KEYS[5], 'state') == 1 then
  redis.call('HINCRBY', KEYS[4], 'dead_letters', -1)
end
return 1
"""


class DeadLetter(msgspec.Struct):
    message_id: str
    harvest_id: str | None
    queue_name: str
    actor_name: str
    payload: dict
    reason: str
    failed_at: float
    broker_message_id: str = ""  # the id under which Dramatiq keeps it in its own DLQ
    lease_token: str = ""  # the lease it held (see workers.actors.lease_token), kept on replay


class DeadLetters(Middleware):
    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None or not message.failed:
            return
        payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        harvest_id = harvest_of(payload)
        letter = DeadLetter(
            message_id=message.message_id,
            harvest_id=harvest_id,
            queue_name=message.queue_name,
            actor_name=message.actor_name,
            payload=payload,
            # Our exceptions carry safe reasons; anything else is named by its class only. Still
            # scrubbed: a reason can quote TikTok's own error text.
            reason=scrub(str(exception)) if getattr(exception, "reason", None) else type(exception).__name__,
            failed_at=time.time(),
            broker_message_id=message.options.get("redis_message_id", ""),
            lease_token=message.options.get("lease_token", ""),
        )
        context = get_context()
        record(context.redis, context.keys, letter,
               keep_s=context.settings.harvest_failed_retention_days * 86400)
        metrics.dead_letter(message.actor_name)
        log.error("dead_letter", harvest=harvest_id, actor=message.actor_name, reason=letter.reason)


def harvest_of(payload: dict) -> str | None:
    """The harvest a payload names, if it names one (a stranger's message may not)."""
    harvest_id = payload.get("harvest_id")
    return harvest_id if isinstance(harvest_id, str) and harvest_id else None


def record(redis, keys, letter: DeadLetter, *, keep_s: float | None = None) -> None:
    """`keep_s`: how long the letters are kept at least (HARVEST_FAILED_RETENTION_DAYS)."""
    if keep_s is None:
        keep_s = get_settings().harvest_failed_retention_days * 86400
    harvest_keys = [keys.stats(letter.harvest_id), keys.meta(letter.harvest_id)] if letter.harvest_id else []
    redis.register_script(RECORD)(
        keys=[keys.dead_letters, *harvest_keys],
        args=[letter.message_id, msgspec.json.encode(letter), max(1, int(keep_s)), f"{letter.failed_at:.3f}"],
    )


def list_dead(redis, keys, harvest_id: str | None = None) -> list[DeadLetter]:
    letters = [msgspec.json.decode(raw, type=DeadLetter) for raw in redis.hvals(keys.dead_letters)]
    if harvest_id:
        letters = [letter for letter in letters if letter.harvest_id == harvest_id]
    return sorted(letters, key=lambda letter: letter.failed_at)


def replay(broker, redis, keys, letter: DeadLetter) -> None:
    """Send a dead message again (same id, so it keeps its lease) with fresh retries, and a
    fresh count of crashed deliveries (workers/middleware/crashed_deliveries.py)."""
    from dramatiq import Message

    redis.delete(keys.deliveries(letter.message_id))
    broker.enqueue(Message(queue_name=letter.queue_name, actor_name=letter.actor_name,
                           args=(letter.payload,), kwargs={},
                           options={"lease_token": letter.lease_token} if letter.lease_token else {},
                           message_id=letter.message_id))
    unrecord(redis, keys, letter)


def unrecord(redis, keys, letter: DeadLetter) -> bool:
    """Remove a letter and Dramatiq's copy of the message; False when it was gone already."""
    dlq = f"{keys.namespace}:{letter.queue_name}.XQ"
    harvest_keys = [keys.stats(letter.harvest_id), keys.meta(letter.harvest_id)] if letter.harvest_id else []
    return bool(redis.register_script(UNRECORD)(
        keys=[keys.dead_letters, dlq, f"{dlq}.msgs", *harvest_keys],
        args=[letter.message_id, letter.broker_message_id],
    ))


def forget_harvest(redis, keys, harvest_id: str) -> int:
    """Remove every letter of a harvest (purged or forgotten) and Dramatiq's copies of them;
    returns how many letters went. Its counters go with the harvest's keys."""
    letters = list_dead(redis, keys, harvest_id)
    with redis.pipeline(transaction=False) as pipe:
        for letter in letters:
            pipe.hdel(keys.dead_letters, letter.message_id)
            if letter.broker_message_id:
                dlq = f"{keys.namespace}:{letter.queue_name}.XQ"
                pipe.zrem(dlq, letter.broker_message_id)
                pipe.hdel(f"{dlq}.msgs", letter.broker_message_id)
        pipe.execute()
    return len(letters)


def prune(redis, keys, keep_s: float, now: float | None = None) -> int:
    """Remove letters past their time (see the module's docstring); returns how many went.
    A harvest's letters go together, `keep_s` after the newest of them, so a harvest is never
    left with only some of the letters a replay needs."""
    now = time.time() if now is None else now
    groups: dict[str | None, list[DeadLetter]] = defaultdict(list)
    for letter in list_dead(redis, keys):
        groups[letter.harvest_id].append(letter)
    harvests = [harvest for harvest in groups if harvest]
    with redis.pipeline(transaction=False) as pipe:
        for harvest_id in harvests:
            pipe.exists(keys.plan(harvest_id))
        registered = {harvest for harvest, exists in zip(harvests, pipe.execute(), strict=True) if exists}
    stale = []
    for harvest, letters in groups.items():
        if harvest is None:  # letters of no harvest: each by its own age
            stale += [letter for letter in letters if now - letter.failed_at > keep_s]
        elif harvest not in registered and now - max(letter.failed_at for letter in letters) > keep_s:
            stale += letters
    with redis.pipeline(transaction=False) as pipe:
        for letter in stale:
            pipe.hdel(keys.dead_letters, letter.message_id)
        # Letters remain: they live on at least `keep_s` from now, whatever the hash's expiry said.
        pipe.expire(keys.dead_letters, max(1, int(keep_s)))
        pipe.execute()
    return len(stale)
