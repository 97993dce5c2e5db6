"""A harvest's compliance refresh in Redis, as producers start it and readers see it. Workers
add the steps of its units and its finishing on top (workers/refresh_progress.py).

A refresh is one hash per harvest (its latest refresh, kept with the harvest's other keys for
`status`), the batches it asks about, the units still to answer, and the sets workers fill
while it runs: the videos TikTok still served, the batches whose chain ended, and at the end
the videos found gone.
"""

import msgspec

from core import lua
from core.keys import Keys
from schemas.messages import RefreshTask
from schemas.refresh import RefreshBatch
from schemas.status import RefreshState, RefreshStatus

_encode = msgspec.json.encode


class Refreshes:
    def __init__(self, redis, keys: Keys):
        self._redis = redis
        self.keys = keys
        self._register = lua.register(redis, "refresh_register", "core")

    def register(self, harvest: str, refresh_id: str, batches: list[RefreshBatch], *, videos: int, unchecked: int,
                 started_at: float, keep_s: int) -> tuple[str, str]:
        """Register a refresh of a done harvest in one step: (verdict, detail), see
        core/lua/refresh_register.lua. The harvest's keys (all but the per-video claims, which
        a refresh does not use) are kept at least `keep_s` from now."""
        k = self.keys
        kept = [key for key in k.harvest_keys(harvest) if key not in (k.owners(harvest), *self._keys(harvest))]
        verdict, detail = self._register(
            keys=[k.meta(harvest), k.stats(harvest), *self._keys(harvest), *kept],
            args=[refresh_id, f"{started_at:.3f}", videos, unchecked, keep_s,
                  *(part for number, batch in enumerate(batches)
                    for part in (RefreshTask(harvest, refresh_id, number).unit, _encode(batch)))],
        )
        return _text(verdict), _text(detail)

    def _keys(self, harvest: str) -> list[str]:
        k = self.keys
        return [k.refresh(harvest), k.refresh_batches(harvest), k.refresh_served(harvest), k.refresh_ended(harvest),
                k.refresh_pending(harvest), k.refresh_gone(harvest)]

    def current(self, harvest: str) -> dict[str, str]:
        """The latest refresh's hash (empty when the harvest was never refreshed)."""
        return {key.decode(): value.decode() for key, value in self._redis.hgetall(self.keys.refresh(harvest)).items()}

    def batches_not_ended(self, harvest: str, batches: int) -> list[int]:
        ended = {int(raw) for raw in self._redis.smembers(self.keys.refresh_ended(harvest))}
        return [batch for batch in range(batches) if batch not in ended]


def refresh_status(refresh: dict[str, str], served: int, ended: int, requests_refresh: int) -> RefreshStatus | None:
    """The status of a refresh from its hash, the sizes of its sets and the harvest's counter
    of refresh requests (None for a harvest never refreshed)."""
    if "id" not in refresh:
        return None
    finished_at = float(refresh["finished_at"]) if "finished_at" in refresh else None
    state: RefreshState = "done" if finished_at is not None else "moving" if "completed_at" in refresh else "running"
    return RefreshStatus(
        id=refresh["id"],
        state=state,
        started_at=float(refresh["started_at"]),
        videos=int(refresh.get("videos", 0)),
        unchecked=int(refresh.get("unchecked", 0)),
        batches=int(refresh.get("batches", 0)),
        # Once finished, its sets are gone: every batch had ended.
        batches_done=int(refresh.get("batches", 0)) if finished_at is not None else ended,
        pages=int(refresh.get("pages", 0)),
        requests=requests_refresh - int(refresh.get("requests_before", 0)),
        still_served=int(refresh["still_served"]) if "still_served" in refresh else served,
        gone=int(refresh["gone"]) if "gone" in refresh else None,
        videos_removed=int(refresh.get("videos_removed", 0)),
        comments_removed=int(refresh.get("comments_removed", 0)),
        acts_removed=int(refresh.get("acts_removed", 0)),
        finished_at=finished_at,
    )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
