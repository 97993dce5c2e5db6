"""The harvests worth a gauge: registered, and not finished more than a day ago, newest
first and at most MAX_HARVESTS of them, so the number of series stays bounded however many
harvests Redis keeps for their retention."""

import time

from core.harvests import Harvests
from core.keys import Keys
from schemas.status import HarvestStatus

# The newest harvests looked at, and the most exported.
LOOK_AT = 500
MAX_HARVESTS = 100
# A finished harvest stays on the dashboard this long, then leaves it.
SHOWN_AFTER_FINISH_S = 86400


class HarvestReader:
    def __init__(self, redis, keys: Keys):
        self._redis = redis
        self._keys = keys
        self._harvests = Harvests(redis, keys)
        self._generations: dict[str, bytes | None] = {}

    def read(self, now: float | None = None) -> list[HarvestStatus]:
        now = time.time() if now is None else now
        ids = [raw.decode() for raw in self._redis.zrevrange(self._keys.harvests, 0, LOOK_AT - 1)]
        with self._redis.pipeline(transaction=False) as pipe:
            for harvest in ids:
                pipe.hmget(self._keys.meta(harvest), "finished_at", "generation")
            metas = pipe.execute()
        generations = {harvest: generation for harvest, (_, generation) in zip(ids, metas, strict=True)}
        # Plans are cached: start afresh when an id was registered anew (its plan changed) or left.
        if any(self._generations.get(h, g) != g for h, g in generations.items()) \
                or not self._generations.keys() <= generations.keys():
            self._harvests = Harvests(self._redis, self._keys)
        self._generations = generations
        shown = [harvest for harvest, (finished_at, _) in zip(ids, metas, strict=True)
                 if finished_at is None or now - float(finished_at) <= SHOWN_AFTER_FINISH_S]
        statuses = (self._harvests.status(harvest) for harvest in shown[:MAX_HARVESTS])
        return [status for status in statuses if status is not None]
