"""How long a harvest's state stays in Redis, and how it goes: expiry when it is done, the
retention sweep for the rest, and `purge` for an operator who wants it gone now.

Redis runs with `maxmemory-policy noeviction` (evicting a lease or a quota key would break
the guarantees), so a key that never expires fills Redis until the fleet stops. The rules:

- A running harvest's keys never expire (its leases have expiries of their own, renewed by
  workers/lease.py).
- A done harvest's keys all expire HARVEST_RETENTION_DAYS after it finished, the per-video
  claims and the stored-answer notes after a day (a grace for messages still in flight).
- A failed harvest keeps everything, dead letters included, until an operator replays it
  (`dead replay`) or purges it; if neither happens, the sweep forgets it
  HARVEST_FAILED_RETENTION_DAYS after its last dead letter or its last API call, whichever
  came later (a failed harvest may go on with its other windows meanwhile).
- A cancelled harvest is purged HARVEST_RETENTION_DAYS after it was cancelled (the purged
  marker drops the messages still queued for it after that).
- A harvest that neither finishes nor fails (its messages were lost) stays until purged.

The sweep runs in the workers' sweeper thread (workers/middleware/sweeper.py), once an hour
for the whole fleet: it drops from the list of harvests the ids whose keys expired, gives
harvests done before this retention existed their expiry, forgets failed harvests past
their retention, prunes dead letters and clears what deliveries in flight wrote after a
purge. `status` only reads: it skips ids whose plan is gone.
"""

import time
from dataclasses import dataclass

import dramatiq
import structlog

from core import messages
from core.harvests import failed_forget_at
from core.keys import Keys
from workers.middleware import dead_letters
from workers.progress import HarvestStore

log = structlog.get_logger(__name__)

DAY_S = 86400
# The fleet runs the sweep once per this long; each worker process asks every CHECK_EVERY_S.
SWEEP_EVERY_S = 3600
CHECK_EVERY_S = 60
# The purged marker outlives any message still queued for the harvest: parked messages wait
# up to 6 days (Dramatiq's delay limit is 7).
MARKER_AT_LEAST_S = 8 * DAY_S
# Dramatiq's dead-letter queues that hold harvest messages (intake messages name no harvest).
HARVEST_QUEUES = (messages.PAGES_QUEUE, messages.USERS_QUEUE, messages.COMMENTS_QUEUE, messages.LISTS_QUEUE)

# Drops from the list of harvests the ids whose plan is gone (their keys expired, or were
# deleted), checked and removed in one step: a harvest registered meanwhile stays listed.
# KEYS: the harvests sorted set, then one plan key per id; ARGV: the ids, in the same order.
# Returns the ids dropped.
UNLIST = """
local dropped = {}
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 and redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    table.insert(dropped, ARGV[i])
  end
end
return dropped
"""


def retention_s(settings) -> int:
    return max(1, int(settings.harvest_retention_days * DAY_S))


def failed_retention_s(settings) -> int:
    return max(1, int(settings.harvest_failed_retention_days * DAY_S))


# --- a done harvest --------------------------------------------------------------------------------


def expire_finished(redis, keys: Keys, harvest: str, *, keep_s: int, claims_s: int) -> int:
    """Give every key of a finished harvest its expiry: `claims_s` for the per-video claims and
    the stored-answer notes, `keep_s` for the rest. A key that expires sooner already (a lease)
    keeps its expiry, and so does a key given one by an earlier pass (a finish repeated after
    a crash does not push the date back). Returns the number of keys."""
    short = {keys.owners(harvest), keys.fetched(harvest)}
    names = list(redis.scan_iter(match=keys.harvest_keys_pattern(harvest), count=1000))
    with redis.pipeline(transaction=False) as pipe:
        for name in names:
            seconds = min(claims_s, keep_s) if name.decode() in short else keep_s
            pipe.expire(name, seconds, lt=True)
        pipe.execute()
    return len(names)


# --- purge ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    id: str
    state: str | None  # what the harvest was when purged (None: only leftovers of it were found)
    keys: int  # Redis keys deleted
    dead_letters: int  # our dead letters removed
    dramatiq_dead_letters: int  # messages removed from Dramatiq's dead-letter queues
    storage: dict[str, str]  # where its files are (left as they are)


def exists(redis, keys: Keys, harvest: str) -> bool:
    """Anything of the harvest in Redis: its plan, its place in the list, a key, a dead letter."""
    if redis.exists(keys.plan(harvest)) or redis.zscore(keys.harvests, harvest) is not None:
        return True
    if next(redis.scan_iter(match=keys.harvest_keys_pattern(harvest), count=1000), None) is not None:
        return True
    return bool(dead_letters.list_dead(redis, keys, harvest))


def purge(redis, keys: Keys, harvest: str, *, marker_s: int, storage=None) -> Purged:
    """Remove the harvest's whole state from Redis at once; files in storage are not touched.

    The purged marker is set first, so that from the moment the meta is gone, messages still
    queued for the harvest are dropped quietly by the workers (unit_begin.lua) instead of
    dead-lettered as messages of an unknown harvest. A delivery in flight is stopped at its
    next fenced step (its lease is gone); what it may still write unfenced is cleared by the
    sweep, or when the id is registered again. `storage`: a workers.storage.Storage, to say
    where the files are."""
    store = HarvestStore(redis, keys)
    plan = store.plan(harvest)
    status = store.status(harvest) if plan is not None else None
    redis.set(keys.purged(harvest), f"{time.time():.3f}", ex=max(marker_s, MARKER_AT_LEAST_S))
    # Before its keys go: the set of budgets it took from is one of them.
    HarvestStore(redis, keys).leave_quota(harvest, plan.credential if plan is not None else None)
    # Plan and meta first, in one step: workers see the harvest gone at once.
    deleted = redis.unlink(keys.plan(harvest), keys.meta(harvest))
    for batch in _batches(redis.scan_iter(match=keys.harvest_keys_pattern(harvest), count=1000)):
        deleted += redis.unlink(*batch)
    redis.zrem(keys.harvests, harvest)
    dramatiq_letters = _forget_dramatiq_dead(redis, keys, harvest)
    letters = dead_letters.forget_harvest(redis, keys, harvest)
    log.info("harvest_purged", harvest=harvest, state=status.state if status else None, keys=deleted,
             dead_letters=letters, dramatiq_dead_letters=dramatiq_letters)
    places = {}
    if storage is not None and plan is not None:
        places = {"source_records": str(storage.source_dir(plan)), "records": str(storage.records_dir(plan))}
    return Purged(harvest, status.state if status else None, deleted, letters, dramatiq_letters, places)


def _forget_dramatiq_dead(redis, keys: Keys, harvest: str) -> int:
    """Messages of the harvest still in Dramatiq's dead-letter queues (kept there 30 days)."""
    removed = 0
    for queue in HARVEST_QUEUES:
        dlq = f"{keys.namespace}:{queue}.XQ"
        mine = [message_id for message_id, body in redis.hgetall(f"{dlq}.msgs").items()
                if _harvest_of(body) == harvest]
        if mine:
            with redis.pipeline(transaction=False) as pipe:
                pipe.zrem(dlq, *mine)
                pipe.hdel(f"{dlq}.msgs", *mine)
                pipe.execute()
            removed += len(mine)
    return removed


def _harvest_of(body: bytes) -> str | None:
    try:
        args = dramatiq.Message.decode(body).args
    except dramatiq.errors.DecodeError:  # not ours to judge: leave it
        return None
    return args[0].get("harvest_id") if args and isinstance(args[0], dict) else None


def _batches(names, size: int = 500):
    batch = []
    for name in names:
        batch.append(name)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- the sweep -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Swept:
    unlisted: list[str]  # ids dropped from the list of harvests (their keys expired)
    expired: list[str]  # done harvests whose keys had no expiry (finished before retention existed)
    forgotten: list[str]  # failed harvests forgotten after their retention
    dead_letters: int  # dead letters pruned
    leftovers: int  # keys written by deliveries in flight after a purge, cleared


def sweep(redis, keys: Keys, settings, now: float | None = None) -> Swept:
    now = time.time() if now is None else now
    store = HarvestStore(redis, keys)
    ids = [raw.decode() for raw in redis.zrange(keys.harvests, 0, -1)]
    with redis.pipeline(transaction=False) as pipe:
        for harvest in ids:
            pipe.pttl(keys.plan(harvest))
            pipe.hgetall(keys.meta(harvest))
            pipe.hget(keys.stats(harvest), "dead_letters")
        answers = pipe.execute()
    gone, expired, forgotten = [], [], []
    for i, harvest in enumerate(ids):
        expires_ms, meta, dead = answers[3 * i:3 * i + 3]
        meta = {key.decode(): value.decode() for key, value in meta.items()}
        if expires_ms == -2:  # no plan
            gone.append(harvest)
        elif expires_ms == -1 and "finished_at" in meta and meta.get("ongoing") != "1":
            # Done before its keys were given an expiry: counted from when it finished. (An
            # ongoing harvest that caught up keeps its keys: it is not over.)
            since = now - float(meta["finished_at"])
            expire_finished(redis, keys, harvest, keep_s=max(1, int(retention_s(settings) - since)),
                            claims_s=max(1, int(DAY_S - since)))
            expired.append(harvest)
        elif expires_ms == -1 and meta.get("state") == "cancelled":
            # Cancelled for good: kept as long as a done harvest, counted from the cancel.
            if now - float(meta.get("cancelled_at", now)) >= retention_s(settings):
                purge(redis, keys, harvest, marker_s=retention_s(settings))
                forgotten.append(harvest)
        elif expires_ms == -1 and int(dead or 0) > 0:  # failed
            plan = store.plan(harvest)
            if plan is not None and failed_forget_at(meta, plan.submitted_at, failed_retention_s(settings)) <= now:
                purge(redis, keys, harvest, marker_s=retention_s(settings))
                forgotten.append(harvest)
    unlisted = _unlist(redis, keys, gone)
    pruned = dead_letters.prune(redis, keys, failed_retention_s(settings), now)
    leftovers = 0
    for marker in redis.scan_iter(match=keys.purged_pattern, count=1000):
        leftovers += store.clear_leftovers(marker.decode().rsplit(":", 1)[1])
    swept = Swept(unlisted, expired, forgotten, pruned, leftovers)
    if unlisted or expired or forgotten or pruned or leftovers:
        log.info("retention_swept", unlisted=len(unlisted), expired=expired, forgotten=forgotten,
                 dead_letters=pruned, leftovers=leftovers)
    return swept


def _unlist(redis, keys: Keys, ids: list[str]) -> list[str]:
    if not ids:
        return []
    dropped = redis.register_script(UNLIST)(keys=[keys.harvests, *(keys.plan(h) for h in ids)], args=ids)
    return [raw.decode() for raw in dropped]


class RetentionSweep:
    """Runs `sweep` once per SWEEP_EVERY_S for the whole fleet: each worker process asks every
    CHECK_EVERY_S, and the one that takes the fleet's turn (a key with that expiry) sweeps."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._next_check = 0.0

    def run_if_due(self, ctx) -> Swept | None:
        if self._clock() < self._next_check:
            return None
        self._next_check = self._clock() + CHECK_EVERY_S
        if not ctx.redis.set(ctx.keys.retention_sweep, "1", nx=True, ex=SWEEP_EVERY_S):
            return None
        try:
            return sweep(ctx.redis, ctx.keys, ctx.settings)
        except Exception:
            ctx.redis.delete(ctx.keys.retention_sweep)  # the fleet's turn was not used: the next check sweeps
            raise
