"""A compliance refresh's state in Redis as workers change it: a batch's answer noted, the
refresh complete, the gone videos fixed, the refresh finished. Registration and reading are
core/refreshes.py's.

Safe to repeat, as any message may be processed twice: a unit's step is fenced by its hold
(workers/lease.py), the gone set is fixed once, and finishing only writes what it would
write again.
"""

import time

import msgspec

from core import lua
from core.refreshes import Refreshes
from schemas.refresh import RefreshBatch
from workers.lease import Delivery, hold_lost

_decode_batch = msgspec.json.Decoder(RefreshBatch).decode


class RefreshStore(Refreshes):
    def __init__(self, redis, keys):
        super().__init__(redis, keys)
        self._page_done = lua.register(redis, "refresh_page_done", "workers")
        self._gone = lua.register(redis, "refresh_gone", "workers")

    def batch(self, harvest: str, refresh_id: str, batch: int) -> RefreshBatch | None:
        """A batch of the harvest's current refresh (None once that refresh is over, or for an
        earlier refresh's)."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self.keys.refresh(harvest), "id")
            pipe.hget(self.keys.refresh_batches(harvest), str(batch))
            current, raw = pipe.execute()
        if current is None or current.decode() != refresh_id or raw is None:
            return None
        return _decode_batch(raw)

    def page_done(self, delivery: Delivery, refresh_id: str, batch: int, served: list[str], next_unit: str) -> bool:
        """The unit's answer is in: `served`, the ids TikTok returned; `next_unit`, the unit of
        the batch's next page ('' when its chain ended). True when this call completed the
        refresh: no unit of it is left pending."""
        k, harvest = self.keys, delivery.harvest
        completed = self._page_done(
            keys=[delivery.key, k.done(harvest), k.parked(harvest), k.refresh(harvest), k.refresh_served(harvest),
                  k.refresh_ended(harvest), k.refresh_pending(harvest)],
            args=[delivery.id, delivery.unit, refresh_id, batch, next_unit, f"{time.time():.3f}", *served],
        )
        if completed == -1:
            raise hold_lost(delivery)
        return bool(completed)

    def needs_finishing(self, harvest: str) -> bool:
        """Every answer is in but the records are not moved yet."""
        completed, finished = self._redis.hmget(self.keys.refresh(harvest), "completed_at", "finished_at")
        return completed is not None and finished is None

    def decide_gone(self, harvest: str, refresh_id: str) -> tuple[set[str], float] | None:
        """The videos found gone (asked about, never served) and when that was decided: fixed
        by the first call, the same for every later one. None when `refresh_id` is not the
        harvest's current refresh."""
        k = self.keys
        gone: set[str] = set()
        if self._redis.hget(k.refresh(harvest), "decided_at") is None:
            asked = {video_id for raw in self._redis.hvals(k.refresh_batches(harvest))
                     for video_id in _decode_batch(raw).video_ids}
            served = {raw.decode() for raw in self._redis.smembers(k.refresh_served(harvest))}
            gone = asked - served
        answer = self._gone(keys=[k.refresh(harvest), k.refresh_gone(harvest)],
                            args=[refresh_id, f"{time.time():.3f}", *sorted(gone)])
        if not answer:
            return None
        decided_at, *ids = answer
        return {raw.decode() for raw in ids}, float(decided_at)

    def mark_finished(self, harvest: str, refresh_id: str, removed: dict[str, int]) -> None:
        """The records are moved: note what went, and drop the per-video sets at once (a
        repeat of finishing stops at finished_at and needs them no more)."""
        k = self.keys
        served = self._redis.scard(k.refresh_served(harvest))  # final: every batch is in
        with self._redis.pipeline() as pipe:  # MULTI: the note and the drop together
            pipe.hset(k.refresh(harvest), mapping={
                "finished_at": f"{time.time():.3f}", "still_served": served,
                "videos_removed": removed.get("video", 0), "comments_removed": removed.get("comment", 0),
                "acts_removed": removed.get("act", 0)})
            pipe.delete(k.refresh_batches(harvest), k.refresh_served(harvest), k.refresh_ended(harvest),
                        k.refresh_pending(harvest), k.refresh_gone(harvest))
            pipe.execute()
