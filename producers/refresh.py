"""Starting a compliance refresh of a done harvest (`tiktok-harvest refresh ID`), or of an
ongoing one (which also starts its own every `refresh_every_days`: workers/new_days.py).

Researchers may not keep what TikTok no longer shows. A refresh asks TikTok again about every
video the harvest stored, with video queries `video_id IN [...]`: batches of up to 100 ids
created within one window the API accepts (at most 30 days), newest first, so it costs about
one request per 100 stored videos. The workers (workers/refresh.py) ask, and once every batch
is in they move the records of the videos TikTok no longer returned into a dated removal log.

Safe to repeat: one refresh runs at a time per harvest (registered atomically with its
batches, core/lua/refresh_register.lua), and `start` while one runs joins it, sending again
the first message of every batch that has not ended. A duplicate is harmless: the journey
drops a message for a unit another message owns, and acknowledges one whose unit is done.
"""

import datetime as dt
import time
from collections.abc import Callable, Iterable

import dramatiq

from core import messages
from core.harvests import Harvests
from core.keys import Keys
from core.refreshes import Refreshes
from schemas.messages import RefreshTask
from schemas.refresh import RefreshBatch, RefreshStarted
from schemas.spec import HarvestPlan

__all__ = ["RefreshRefused", "plan_batches", "start"]

MAX_IDS = 100  # TikTok's largest page, and values in one condition as our specs allow them
# The API refuses an end_date more than 30 days after start_date. A batch's end_date is the
# day after its newest video's: whether TikTok counts end_date in is disputed, and a video
# left out by an exclusive end would be taken for gone.
MAX_DAYS_APART = 30
ID_FORMAT = "%Y%m%dT%H%M%SZ"  # a refresh's id: when it started

# A video: its id and the UTC day it was created.
DatedVideo = tuple[str, dt.date]
# What the harvest stored: the videos it can ask about, and how many it cannot (no creation
# date, or an id not in digits).
StoredVideos = Callable[[HarvestPlan], tuple[list[DatedVideo], int]]

REFUSALS = {
    "unknown": "no such harvest",
    "unfinished": "it is not done: only a done harvest can be refreshed",
    "failed": "it failed: replay its dead letters (`dead replay`) or purge it first",
    "paused": "it is paused: resume it and let it finish first",
    "cancelled": "it was cancelled",
}


class RefreshRefused(Exception):
    def __init__(self, harvest_id: str, why: str):
        self.harvest_id, self.why = harvest_id, why
        super().__init__(f"harvest {harvest_id!r}: {why}")


def start(redis, keys: Keys, broker: dramatiq.Broker, harvest_id: str, stored_videos: StoredVideos, *,
          keep_s: int, now: float | None = None) -> RefreshStarted:
    """Start a refresh of a done harvest, or join the one in progress. `stored_videos` reads
    what the harvest stored (workers/stored_videos.py); `keep_s`: how long the harvest's
    state stays in Redis at least (HARVEST_RETENTION_DAYS), however long the refresh takes."""
    harvests, refreshes = Harvests(redis, keys), Refreshes(redis, keys)
    plan = harvests.plan(harvest_id)
    if plan is None:
        raise RefreshRefused(harvest_id, REFUSALS["unknown"])
    current = refreshes.current(harvest_id)
    if "id" in current and "finished_at" not in current:
        return _join(refreshes, broker, harvest_id)
    state = harvests.registered_status(harvest_id).state
    if state != "done" and not (plan.ongoing and state not in REFUSALS):
        raise RefreshRefused(harvest_id, REFUSALS.get(state, f"it is {state}: only a done harvest can be refreshed"))
    dated, unchecked = stored_videos(plan)
    now = time.time() if now is None else now
    batches = plan_batches(dated, dt.datetime.fromtimestamp(now, dt.UTC).date())
    if not batches:
        return RefreshStarted(harvest_id, None, False, 0, unchecked, 0, 0)
    refresh_id = _refresh_id(now, current.get("id"))
    verdict, detail = refreshes.register(harvest_id, refresh_id, batches, videos=len(dated), unchecked=unchecked,
                                         started_at=now, keep_s=keep_s)
    if verdict == "refused":
        raise RefreshRefused(harvest_id, REFUSALS.get(detail, detail))
    if verdict == "running":  # another `refresh` registered one just now
        return _join(refreshes, broker, harvest_id)
    for batch in range(len(batches)):
        messages.send(broker, RefreshTask(harvest_id=harvest_id, refresh_id=refresh_id, batch=batch))
    return RefreshStarted(harvest_id, refresh_id, False, len(dated), unchecked, len(batches), len(batches))


def _refresh_id(now: float, previous: str | None) -> str:
    """When the refresh started (UTC, to the second): it names the removal log's files, so it
    comes after the previous refresh's, even one started within the same second."""
    started = dt.datetime.fromtimestamp(now, dt.UTC).replace(microsecond=0)
    if previous:
        before = dt.datetime.strptime(previous, ID_FORMAT).replace(tzinfo=dt.UTC)
        started = max(started, before + dt.timedelta(seconds=1))
    return started.strftime(ID_FORMAT)


def _join(refreshes: Refreshes, broker: dramatiq.Broker, harvest_id: str) -> RefreshStarted:
    """Send again the first message of each batch not ended. When every batch has ended but
    the records are not moved yet (the worker doing it died and its message is lost), one
    message of a done unit is enough: the worker that meets it finishes the refresh."""
    current = refreshes.current(harvest_id)
    refresh_id, total = current["id"], int(current["batches"])
    batches = refreshes.batches_not_ended(harvest_id, total) or [0]
    for batch in batches:
        messages.send(broker, RefreshTask(harvest_id=harvest_id, refresh_id=refresh_id, batch=batch))
    return RefreshStarted(harvest_id, refresh_id, True, int(current.get("videos", 0)),
                          int(current.get("unchecked", 0)), total, len(batches))


def plan_batches(videos: Iterable[DatedVideo], today: dt.date) -> list[RefreshBatch]:
    """Group videos newest first into as few batches as the API allows: at most MAX_IDS each,
    created within one window whose end (a day past its newest video, today at the latest)
    is at most MAX_DAYS_APART after its start. Taking videos in date order and closing a
    batch only when the next one does not fit gives the fewest batches."""
    ordered = sorted(set(videos), key=lambda video: (video[1], len(video[0]), video[0]), reverse=True)
    batches: list[RefreshBatch] = []
    ids: list[str] = []
    newest = oldest = today
    for video_id, created in ordered:
        if ids and (len(ids) == MAX_IDS or (newest - created).days + 1 > MAX_DAYS_APART):
            batches.append(_batch(ids, oldest, newest, today))
            ids = []
        if not ids:
            newest = created
        ids.append(video_id)
        oldest = created
    if ids:
        batches.append(_batch(ids, oldest, newest, today))
    return batches


def _batch(ids: list[str], oldest: dt.date, newest: dt.date, today: dt.date) -> RefreshBatch:
    end = max(oldest, min(newest + dt.timedelta(days=1), today))
    return RefreshBatch(start_date=oldest.strftime("%Y%m%d"), end_date=end.strftime("%Y%m%d"), video_ids=list(ids))
