"""The compliance refresh on the journey (workers/journey.py): one page of a video query
`video_id IN [batch]` per unit, over the batch's window; a batch's pages form a chain
(TikTok rarely pages an answer of at most 100 videos, but may).

A unit stores TikTok's answer raw (`tiktok_refresh_<refresh>_b<batch>_p<page>.json` in the
harvest's source_records/ folder) and notes, in the same fenced step that marks it done,
which of the batch's videos TikTok still served (workers/lua/refresh_page_done.lua). The
unit that leaves no unit of the refresh pending finishes it:

1. the gone videos are fixed once in Redis: asked about and never served, in any page of
   their batch (a video TikTok leaves out is deleted or no longer public; both must go);
2. their records, their comments and the acts on them move into the removal log
   (workers/removals.py), safe to repeat and to run twice at once;
3. the harvest leaves the quota's fair share, its keys get their expiry again (an ongoing
   harvest's keep none), and the refresh is noted finished with what went.

Moving records rewrites pages, which an ongoing harvest's author expansion may be rewriting
too: the two take turns (workers/records_lock.py).

A crash anywhere in 1-3 is finished by the message coming back (its unit is done:
`finish_if_unfinished`), or by `tiktok-harvest refresh` joining the refresh.
"""

import datetime as dt

import structlog

from core import messages
from schemas.api import VideoPage, VideoQueryBody
from schemas.messages import RefreshTask
from schemas.query import Condition, Query
from schemas.spec import HarvestPlan
from workers import journey, removals
from workers.calls import paid_call
from workers.context import WorkerContext
from workers.finish import tidy_up
from workers.journey import Endpoint, Work
from workers.records import id_string
from workers.records_lock import records_held
from workers.storage import Storage
from workers.tiktok.client import decode_video_page
from workers.tiktok.errors import PermanentError

log = structlog.get_logger(__name__)


class VideoRefresh(Endpoint[RefreshTask, VideoPage]):
    name = "refresh"

    def raw_name(self, task: RefreshTask) -> str:
        return Storage.refresh_page_name(task.refresh_id, task.batch, task.page)

    def fetch(self, ctx: WorkerContext, work: Work, task: RefreshTask) -> tuple[tuple[VideoPage, bytes], str]:
        batch = ctx.refreshes.batch(work.plan.id, task.refresh_id, task.batch)
        if batch is None:  # its refresh is over: nothing can be noted for it any more
            raise PermanentError(f"refresh {task.refresh_id} of {task.harvest_id} has no batch {task.batch}")
        query = Query(and_=[Condition(field_name="video_id", operation="IN", field_values=batch.video_ids)])

        def call(token: str, max_count: int):
            body = VideoQueryBody(query=query, start_date=batch.start_date, end_date=batch.end_date,
                                  max_count=max_count, cursor=task.cursor if task.page else None,
                                  search_id=task.search_id)
            return ctx.client.query_videos(token, body)

        # The whole batch on one page, and the same page size on every page of it (a search
        # whose page size changes may be answered "Invalid count or cursor").
        size = len(batch.video_ids)
        return paid_call(ctx, work, size, call, endpoint=self.name, least_records=size)

    def decode(self, raw: bytes) -> VideoPage:
        return decode_video_page(raw)

    def records_used(self, answer: VideoPage) -> int:
        return len(answer.videos)

    def store(self, ctx: WorkerContext, work: Work, task: RefreshTask, answer: VideoPage,
              downloaded_at: dt.datetime) -> int:
        return len(served(answer))  # nothing to write: the answer is kept raw, and noted in `complete`

    def follow_up(self, ctx: WorkerContext, work: Work, task: RefreshTask, answer: VideoPage) -> None:
        if answer.has_more:
            messages.send(ctx.broker, next_page(task, answer, ctx.settings.max_count))

    def complete(self, ctx: WorkerContext, work: Work, task: RefreshTask, answer: VideoPage, records: int) -> bool:
        following = next_page(task, answer, ctx.settings.max_count) if answer.has_more else None
        return ctx.refreshes.page_done(work.delivery, task.refresh_id, task.batch, served(answer),
                                       following.unit if following is not None else "")

    def finish(self, ctx: WorkerContext, plan: HarvestPlan) -> None:
        refresh_finished(ctx, plan)

    def finish_if_unfinished(self, ctx: WorkerContext, plan: HarvestPlan) -> None:
        if ctx.refreshes.needs_finishing(plan.id):
            refresh_finished(ctx, plan)


REFRESH = VideoRefresh()


def handle_refresh(ctx: WorkerContext, task: RefreshTask, token: str, retries: int, *, predecessor: str = "") -> None:
    journey.run(ctx, REFRESH, task, task.unit, task.harvest_id, token, retries, predecessor)


def served(answer: VideoPage) -> list[str]:
    """The ids of the videos TikTok returned."""
    return sorted({video_id for video in answer.videos if (video_id := id_string(video.id)) is not None})


def next_page(task: RefreshTask, answer: VideoPage, max_count: int) -> RefreshTask:
    # The cursor must move forward, or a confused answer would loop forever.
    cursor = answer.cursor if answer.cursor is not None and answer.cursor > task.cursor else task.cursor + max_count
    search_id = str(answer.search_id) if answer.search_id is not None else task.search_id
    return RefreshTask(harvest_id=task.harvest_id, refresh_id=task.refresh_id, batch=task.batch,
                       page=task.page + 1, cursor=cursor, search_id=search_id)


def refresh_finished(ctx: WorkerContext, plan: HarvestPlan) -> None:
    """Every batch is in: fix the gone videos, move their records, and note the refresh
    finished. Every step is safe to repeat (see the module's docstring)."""
    current = ctx.refreshes.current(plan.id)
    if "id" not in current or "finished_at" in current:
        return
    refresh_id = current["id"]
    decided = ctx.refreshes.decide_gone(plan.id, refresh_id)
    if decided is None:
        return
    gone, decided_at = decided
    with records_held(ctx.redis, ctx.keys.records_lock(plan.id)):
        removals.move_gone(ctx.storage, plan, gone, refresh_id=refresh_id, decided_at=decided_at)
    removed = removals.count_removed(ctx.storage, plan, refresh_id, decided_at)
    ctx.store.leave_quota(plan.id, plan.credential)
    # The keys a refresh extended or made without an expiry get one again, as when the
    # harvest finished.
    temporaries = tidy_up(ctx, plan, ctx.storage.removed_dir(plan, removals.removal_day(decided_at)))
    ctx.refreshes.mark_finished(plan.id, refresh_id, removed)
    log.info("refresh_finished", harvest=plan.id, refresh=refresh_id, gone=len(gone),
             videos_removed=removed["video"], comments_removed=removed["comment"], acts_removed=removed["act"],
             temporary_files_removed=temporaries)
