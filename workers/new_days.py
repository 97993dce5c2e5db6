"""Ongoing harvests (a period `yyyymmdd-ongoing`): each new day, once TikTok has archived it.

The fleet schedules them itself, with no cron outside it: a harvest's `NewDaysTask` for the
day after the last one it has waits in the queue (Dramatiq's delay, kept in Redis, so it
survives restarts of workers and Redis alike) until TikTok's archive holds that day. It then
opens one window over the archived days from its day on (one day, once the harvest has caught
up; up to 31 after the fleet was down), sends that window's first page and the task for the
day after the window, and is done. The window a unit opens is fixed by its first delivery
(workers/lua/days_add.lua), and a unit that is done is never run again, so no day is ever
asked for twice and each day costs what its videos need: one request, when it has up to 100.

When no key of the project is valid (its access period ended), the task waits like a unit
without quota (`access_expired`) and goes on by itself once a valid key is added.

The same task starts the harvest's compliance refresh (producers/refresh.py) once
`refresh_every_days` have passed since the last one began (or since the submission): TikTok's
terms ask for one at least every 15 days.
"""

import datetime as dt

import structlog

from core import messages, windows
from producers import refresh
from schemas.messages import NewDaysTask, PageTask
from schemas.spec import HarvestPlan
from workers import retention
from workers.calls import NO_VALID_KEY_WAIT_S
from workers.context import WorkerContext
from workers.finish import harvest_finished
from workers.journey import unit_of_work
from workers.quota.keys_of_project import keys_to_try
from workers.stored_videos import stored_videos
from workers.tiktok.errors import QuotaWait

log = structlog.get_logger(__name__)

class NotArchivedYet(Exception):
    """The task's day is not in TikTok's archive yet: send it again after `wait_s`."""

    def __init__(self, wait_s: float):
        self.wait_s = wait_s
        super().__init__(f"next day archived in {wait_s:.0f}s")


def handle_new_days(ctx: WorkerContext, task: NewDaysTask, token: str, retries: int = 0,
                    predecessor: str = "") -> None:
    with unit_of_work(ctx, task.harvest_id, task.unit, "", token, predecessor) as work:
        if work is None:
            return
        plan = work.plan
        now = ctx.settings.fleet_now()
        first = windows.parse_day(task.day)
        archived = windows.last_archived_day(now)
        if archived < first:
            raise NotArchivedYet(windows.new_days_delay_ms(task.day, now, ctx.settings.new_days_check_s) / 1000)
        if not keys_to_try(ctx.credentials.all(), plan.project, plan.id, task.unit,
                           ctx.settings.quota_clock_offset_s):
            raise QuotaWait(NO_VALID_KEY_WAIT_S, "no_valid_key", credential=plan.credential)
        last = min(archived, first + dt.timedelta(days=windows.MAX_SPAN_DAYS))
        window = ctx.store.add_days(work.delivery, task.day, windows.window_id(first, last), windows.format_day(last))
        # Sent on every delivery: a crash may have come before the sends; duplicates are dropped.
        messages.send(ctx.broker, PageTask(plan.id, window, 0))
        following = windows.format_day(windows.parse_day(windows.bounds(window)[1]) + dt.timedelta(days=1))
        messages.send(ctx.broker, NewDaysTask(plan.id, following),
                      delay_ms=windows.new_days_delay_ms(following, now, ctx.settings.new_days_check_s))
        _refresh_if_due(ctx, plan, now)
        finished = ctx.store.days_done(work.delivery)
        work.completed = True
        log.info("new_days_added", window=window, next_day=following)
        if finished:  # (its window was harvested before a crash let this unit end)
            harvest_finished(ctx, plan)


def _refresh_if_due(ctx: WorkerContext, plan: HarvestPlan, now: float) -> None:
    """Start the compliance refresh when it is due (joining one in progress is harmless)."""
    if plan.refresh_every_days is None:
        return
    last = float(ctx.refreshes.current(plan.id).get("started_at", plan.submitted_at))
    if now - last < plan.refresh_every_days * 86400:
        return
    try:
        started = refresh.start(ctx.redis, ctx.keys, ctx.broker, plan.id,
                                lambda p: stored_videos(ctx.storage, p), keep_s=retention.retention_s(ctx.settings),
                                now=now)
    except refresh.RefreshRefused as refused:  # paused, cancelled or failed meanwhile: the next day tries again
        log.info("scheduled_refresh_refused", why=refused.why)
        return
    log.info("scheduled_refresh_started", refresh=started.refresh, videos=started.videos,
             batches=started.batches)
