"""A harvest's state in Redis: its plan, windows, done units, leases, claims and counters.

Everything here is safe to repeat, because any message may be processed twice.
"""

import time

import msgspec

from schemas.spec import HarvestPlan
from schemas.status import HarvestStatus
from workers import lua
from workers.keys import Keys

# A lease outlives any wait a message can have (parked until midnight, retries, replays).
LEASE_TTL_S = 8 * 86400
OPEN, DONE, SPLIT, RESTARTED = "open", "done", "split", "restarted"


class HarvestStore:
    def __init__(self, redis, keys: Keys):
        self._redis = redis
        self.keys = keys
        self._plans: dict[str, HarvestPlan] = {}
        self._register = lua.register(redis, "register")
        self._unit_done = lua.register(redis, "unit_done")
        self._lease = lua.register(redis, "lease")
        self._handover = lua.register(redis, "lease_handover")
        self._claim = lua.register(redis, "claim")

    # --- registration (producers) ----------------------------------------------------------
    def register(self, plan: HarvestPlan) -> bool:
        """Record a new harvest. False when the id is taken (the plan is left as it was)."""
        k = self.keys
        return bool(self._register(
            keys=[k.plan(plan.id), k.windows(plan.id), k.meta(plan.id), k.harvests],
            args=[msgspec.json.encode(plan), plan.id, plan.submitted_at, *plan.windows],
        ))

    def mark_enqueued(self, harvest: str) -> None:
        self._redis.hset(self.keys.meta(harvest), "enqueued", "1")

    def is_enqueued(self, harvest: str) -> bool:
        return self._redis.hget(self.keys.meta(harvest), "enqueued") == b"1"

    # --- reading -------------------------------------------------------------------------
    def plan(self, harvest: str) -> HarvestPlan | None:
        plan = self._plans.get(harvest)
        if plan is None:
            raw = self._redis.get(self.keys.plan(harvest))
            if raw is None:
                return None
            # Plans never change once registered: cache them for the process's lifetime.
            plan = self._plans[harvest] = msgspec.json.decode(raw, type=HarvestPlan)
        return plan

    def harvest_ids(self) -> list[str]:
        return [raw.decode() for raw in self._redis.zrange(self.keys.harvests, 0, -1)]

    # --- one logical unit's life -----------------------------------------------------------
    def is_done(self, harvest: str, unit: str) -> bool:
        return bool(self._redis.sismember(self.keys.done(harvest), unit))

    def needs_finishing(self, harvest: str) -> bool:
        """Every unit is done but finishing (workers/finish.py) has not been through."""
        completed, finished = self._redis.hmget(self.keys.meta(harvest), "completed_at", "finished_at")
        return completed is not None and finished is None

    def mark_finished(self, harvest: str) -> None:
        self._redis.hsetnx(self.keys.meta(harvest), "finished_at", f"{time.time():.3f}")

    def unit_state(self, harvest: str, unit: str, window: str | None = None) -> tuple[bool, bool, str | None]:
        """(done, fetched, the window's state) in one round trip."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.sismember(self.keys.done(harvest), unit)
            pipe.sismember(self.keys.fetched(harvest), unit)
            pipe.hget(self.keys.windows(harvest), window or "")
            done, fetched, state = pipe.execute()
        return bool(done), bool(fetched), state.decode() if state else None

    def call_started(self, harvest: str, unit: str) -> None:
        """A research request is going out for the unit: count it; the unit waits no longer."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.srem(self.keys.parked(harvest), unit)
            pipe.hincrby(self.keys.stats(harvest), "requests", 1)
            pipe.execute()

    def mark_fetched(self, harvest: str, unit: str) -> None:
        """The unit's answer is stored: a later attempt reuses it instead of calling again.
        Kept in Redis, not read off the disk alone, so files left by an earlier harvest
        registered under the same id are never mistaken for this one's."""
        self._redis.sadd(self.keys.fetched(harvest), unit)

    def take_lease(self, harvest: str, unit: str, holder: str) -> bool:
        """Only one message works on a logical unit; a duplicate for it can be dropped because
        the holder's own message stays in the queue until it is acknowledged. `holder` is the
        message's lease token (its id, until it is parked)."""
        return bool(self._lease(keys=[self.keys.lease(harvest, unit)], args=[holder, LEASE_TTL_S]))

    def hand_over_lease(self, harvest: str, unit: str, old: str, new: str) -> bool:
        return bool(self._handover(keys=[self.keys.lease(harvest, unit)], args=[old, new, LEASE_TTL_S]))

    def claim(self, harvest: str, unit: str, video_ids: list[str]) -> list[bool]:
        if not video_ids:
            return []
        owned = self._claim(keys=[self.keys.owners(harvest)], args=[unit, *video_ids])
        return [bool(flag) for flag in owned]

    def users_not_requested(self, harvest: str, usernames: list[str]) -> list[str]:
        if not usernames:
            return []
        known = self._redis.smismember(self.keys.users_requested(harvest), usernames)
        return [name for name, seen in zip(usernames, known) if not seen]

    def mark_users_requested(self, harvest: str, usernames: list[str]) -> None:
        if usernames:
            self._redis.sadd(self.keys.users_requested(harvest), *usernames)

    def page_done(self, harvest: str, unit: str, window: str, records: int, window_ended: bool) -> bool:
        """Returns True when this call completed the last unit of the harvest."""
        return self._done(harvest, unit, "page", records, window, window_ended, "", "")

    def user_done(self, harvest: str, unit: str, username: str, outcome: str) -> bool:
        return self._done(harvest, unit, "user", 0, "", False, username, outcome)

    def _done(self, harvest, unit, kind, records, window, window_ended, username, outcome) -> bool:
        k = self.keys
        return bool(
            self._unit_done(
                keys=[k.done(harvest), k.stats(harvest), k.windows(harvest), k.users_requested(harvest),
                      k.users_done(harvest), k.meta(harvest), k.parked(harvest), k.lease(harvest, unit),
                      k.fetched(harvest)],
                args=[unit, kind, records, window, "1" if window_ended else "0", username, outcome,
                      f"{time.time():.3f}"],
            )
        )

    def forget_claims(self, harvest: str, after_s: int) -> None:
        """A finished harvest no longer needs to know which page owns each video (the largest
        key, about 100 bytes a video) nor which answers are stored: they expire after
        `after_s`, a grace for messages still in flight. Status keys stay."""
        with self._redis.pipeline() as pipe:
            pipe.expire(self.keys.owners(harvest), after_s)
            pipe.expire(self.keys.fetched(harvest), after_s)
            pipe.execute()

    def open_windows(self, harvest: str, windows: list[str]) -> None:
        """Add windows (halves of a split, a restarted search); ones already known keep their state."""
        with self._redis.pipeline() as pipe:
            for window in windows:
                pipe.hsetnx(self.keys.windows(harvest), window, OPEN)
            pipe.execute()

    def close_window(self, harvest: str, window: str, status: str) -> None:
        """Mark a window replaced; only its chain's current page calls this."""
        self._redis.hset(self.keys.windows(harvest), window, status)

    def window_state(self, harvest: str, window: str) -> str | None:
        raw = self._redis.hget(self.keys.windows(harvest), window)
        return raw.decode() if raw else None

    # --- counters ------------------------------------------------------------------------
    def count(self, harvest: str, field: str, amount: int = 1) -> None:
        self._redis.hincrby(self.keys.stats(harvest), field, amount)

    def park(self, harvest: str, unit: str) -> None:
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.parked(harvest), unit)
            pipe.hincrby(self.keys.stats(harvest), "quota_waits", 1)
            pipe.execute()

    # --- status --------------------------------------------------------------------------
    def status(self, harvest: str) -> HarvestStatus | None:
        plan = self.plan(harvest)
        if plan is None:
            return None
        k = self.keys
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(k.stats(harvest))
            pipe.hvals(k.windows(harvest))
            pipe.hgetall(k.meta(harvest))
            pipe.scard(k.users_requested(harvest))
            pipe.hlen(k.users_done(harvest))
            pipe.scard(k.parked(harvest))
            stats, windows, meta, users_requested, users_done, parked = pipe.execute()
        stats = {key.decode(): int(value) for key, value in stats.items()}
        meta = {key.decode(): value.decode() for key, value in meta.items()}
        windows = [w.decode() for w in windows]
        live = [w for w in windows if w in (OPEN, DONE)]
        finished_at = float(meta["finished_at"]) if "finished_at" in meta else None
        return HarvestStatus(
            id=plan.id,
            state=derive_state(meta, stats, finished_at, parked),
            name=plan.name,
            project=plan.project,
            credential=plan.credential,
            period=f"{plan.period_start}-{plan.period_end}",
            windows_total=len(live),
            windows_done=live.count(DONE),
            pages=stats.get("pages", 0),
            records=stats.get("records", 0),
            users_requested=users_requested,
            users_done=users_done,
            requests=stats.get("requests", 0),
            quota_waits=stats.get("quota_waits", 0),
            errors=stats.get("errors", 0),
            dead_letters=stats.get("dead_letters", 0),
            submitted_at=plan.submitted_at,
            finished_at=finished_at,
        )


def derive_state(meta: dict, stats: dict, finished_at: float | None, parked: int) -> str:
    if meta.get("state") in ("paused", "cancelled"):
        return meta["state"]
    if stats.get("dead_letters", 0) > 0:
        return "failed"
    if finished_at is not None:
        return "done"
    if parked:
        return "waiting_for_quota"
    if stats.get("requests", 0) or stats.get("pages", 0):
        return "running"
    return "queued"
