"""A harvest's state in Redis as workers change it: a unit's answer stored, its videos
claimed, its follow-ups noted, the unit done, windows replaced, counters. Registration,
plans and status are core/harvests.py's.

Everything here is safe to repeat, because any message may be processed twice; the steps
that only the delivery holding a unit may take are fenced by its hold (workers/lease.py).
"""

import time

from core import lua
from core.harvests import KEY_REQUESTS_PREFIX, OPEN, Harvests
from core.keys import Keys
from workers.lease import Delivery, hold_lost


class HarvestStore(Harvests):
    def __init__(self, redis, keys: Keys):
        super().__init__(redis, keys)
        self._unit_done = lua.register(redis, "unit_done", "workers")
        self._fetched = lua.register(redis, "unit_fetched", "workers")
        self._window_close = lua.register(redis, "window_close", "workers")
        self._hold = lua.register(redis, "hold_if_paused", "workers")
        self._claim = lua.register(redis, "claim", "workers")
        self._days_add = lua.register(redis, "days_add", "workers")
        self._caught_up = lua.register(redis, "caught_up", "workers")

    # --- one logical unit's life -----------------------------------------------------------
    def needs_finishing(self, harvest: str) -> bool:
        """Every unit is done but finishing (workers/finish.py) has not been through."""
        completed, finished = self._redis.hmget(self.keys.meta(harvest), "completed_at", "finished_at")
        return completed is not None and finished is None

    def mark_finished(self, harvest: str) -> None:
        self._redis.hsetnx(self.keys.meta(harvest), "finished_at", f"{time.time():.3f}")

    def mark_caught_up(self, harvest: str) -> bool:
        """An ongoing harvest finished the days added so far; False when a new day came meanwhile."""
        return bool(self._caught_up(keys=[self.keys.meta(harvest)], args=[f"{time.time():.3f}"]))

    def add_days(self, delivery: Delivery, first_day: str, window: str, last_day: str) -> str:
        """Open `window` for an ongoing harvest's new days from `first_day`; returns the window
        the unit added (an earlier delivery's, if one came first)."""
        k, harvest = self.keys, delivery.harvest
        added = self._days_add(keys=[delivery.key, k.new_days(harvest), k.windows(harvest), k.meta(harvest)],
                               args=[delivery.id, first_day, window, last_day])
        if not added:
            raise hold_lost(delivery)
        return added.decode() if isinstance(added, bytes) else str(added)

    def days_done(self, delivery: Delivery) -> bool:
        return self._done(delivery, "days", 0, "", False, "", "")

    def call_started(self, harvest: str, unit: str, endpoint: str, credential: str) -> None:
        """A research request is going out for the unit on `credential` (one of the project's
        keys): count it; the unit waits no longer. The time of the call tells the retention
        sweep that a failed harvest is still busy."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.srem(self.keys.parked(harvest), unit)
            pipe.hincrby(self.keys.stats(harvest), "requests", 1)
            pipe.hincrby(self.keys.stats(harvest), f"requests_{endpoint}", 1)
            pipe.hincrby(self.keys.stats(harvest), f"{KEY_REQUESTS_PREFIX}{credential}", 1)
            pipe.hset(self.keys.meta(harvest), "last_call_at", f"{time.time():.3f}")
            pipe.hdel(self.keys.meta(harvest), "access_expired_at")
            pipe.execute()

    def mark_fetched(self, delivery: Delivery, reservation: str) -> None:
        """The unit's answer is stored: a later attempt reuses it instead of calling again, and
        settles `reservation`. Kept in Redis, not read off the disk alone, so files left by an
        earlier harvest registered under the same id are never mistaken for this one's."""
        if not self._fetched(keys=[delivery.key, self.keys.fetched(delivery.harvest)],
                             args=[delivery.id, delivery.unit, reservation]):
            raise hold_lost(delivery)

    def claim(self, delivery: Delivery, video_ids: list[str]) -> list[bool]:
        if not video_ids:
            return []
        owned = self._claim(keys=[self.keys.owners(delivery.harvest), delivery.key],
                            args=[delivery.id, delivery.unit, *video_ids])
        if owned == -1:
            raise hold_lost(delivery)
        return [bool(flag) for flag in owned]

    def users_not_requested(self, harvest: str, usernames: list[str]) -> list[str]:
        return self._not_in(self.keys.users_requested(harvest), usernames)

    def mark_users_requested(self, harvest: str, usernames: list[str]) -> None:
        if usernames:
            self._redis.sadd(self.keys.users_requested(harvest), *usernames)

    def page_done(self, delivery: Delivery, window: str, records: int, window_ended: bool) -> bool:
        """Returns True when this call completed the last unit of the harvest."""
        return self._done(delivery, "page", records, window, window_ended, "", "")

    def user_done(self, delivery: Delivery, username: str, outcome: str) -> bool:
        return self._done(delivery, "user", 0, "", False, username, outcome)

    def chain_page_done(self, delivery: Delivery, endpoint: str, chain: str, records: int, chain_ended: bool) -> bool:
        """A page of a follow-up chain (`chain`: what it is about, e.g. a video id) is done."""
        return self._done(delivery, "chain", records, f"{endpoint}:{chain}", chain_ended, "", "", endpoint)

    def list_outcome(self, harvest: str, endpoint: str, username: str, outcome: str) -> None:
        """An account whose list TikTok would not give (private, unknown, restricted)."""
        self._redis.hset(self.keys.list_outcomes(harvest), f"{endpoint}:{username}", outcome)

    def comments_cut_short(self, harvest: str, video_id: str, why: str) -> None:
        self._redis.hset(self.keys.comments_cut(harvest), video_id, why)

    def _done(self, delivery: Delivery, kind, records, chain, chain_ended, username, outcome, endpoint="") -> bool:
        k, harvest = self.keys, delivery.harvest
        completed = self._unit_done(
            keys=[k.done(harvest), k.stats(harvest), k.windows(harvest), k.users_requested(harvest),
                  k.users_done(harvest), k.meta(harvest), k.parked(harvest), delivery.key, k.fetched(harvest),
                  k.chains_requested(harvest), k.chains_done(harvest)],
            args=[delivery.unit, kind, records, chain, "1" if chain_ended else "0", username, outcome,
                  f"{time.time():.3f}", delivery.id, endpoint],
        )
        if completed == -1:
            raise hold_lost(delivery)
        return bool(completed)

    def open_windows(self, harvest: str, windows: list[str]) -> None:
        """Add windows (halves of a split, a restarted search); ones already known keep their state."""
        with self._redis.pipeline() as pipe:
            for window in windows:
                pipe.hsetnx(self.keys.windows(harvest), window, OPEN)
            pipe.execute()

    def close_window(self, delivery: Delivery, window: str, status: str) -> None:
        """Mark a window replaced; only the delivery holding its chain's current page may."""
        if not self._window_close(keys=[delivery.key, self.keys.windows(delivery.harvest)],
                                  args=[delivery.id, window, status]):
            raise hold_lost(delivery)

    # --- counters ------------------------------------------------------------------------
    def count(self, harvest: str, field: str, amount: int = 1) -> None:
        self._redis.hincrby(self.keys.stats(harvest), field, amount)

    def hold(self, harvest: str, unit: str, message: bytes) -> bool:
        """Hold a unit's message while the harvest is paused; False when it is not paused."""
        return bool(self._hold(keys=[self.keys.meta(harvest), self.keys.held(harvest)], args=[unit, message]))

    def park(self, harvest: str, unit: str, why: str = "") -> None:
        """The unit waits for quota; `why` no_valid_key: no key of the project is valid today
        (the harvest shows `access_expired` until a call goes out again)."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.parked(harvest), unit)
            pipe.hincrby(self.keys.stats(harvest), "quota_waits", 1)
            if why == "no_valid_key":
                pipe.hset(self.keys.meta(harvest), "access_expired_at", f"{time.time():.3f}")
            pipe.execute()

