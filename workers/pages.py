"""The video search endpoint on the journey (workers/journey.py): one page of one window's
search per unit.

A page's answer is stored raw under the logical page's name; its videos are claimed (each
video belongs to the first page that claims it) and written as records; its authors are
asked for beside the page chains; the next page follows while TikTok says there is more. A
window whose calls keep failing on their own is split in two, a search whose id keeps
expiring is started afresh.
"""

import datetime as dt

import structlog

from core import messages, windows
from core.chains import request_follows
from core.harvests import RESTARTED, SPLIT
from schemas import usernames
from schemas.api import VideoPage, VideoQueryBody
from schemas.messages import CommentTask, PageTask, PlaylistTask, UserTask
from schemas.spec import HarvestPlan
from schemas.usernames import normalise
from workers import journey
from workers.calls import paid_call
from workers.comments import COMMENTS
from workers.context import WorkerContext
from workers.journey import Endpoint, Work
from workers.records import encode_records, id_string, video_record
from workers.storage import Storage
from workers.tiktok.client import decode_video_page
from workers.tiktok.errors import SearchExpired, TransientError

log = structlog.get_logger(__name__)

# Failed attempts (Dramatiq retries) on one page before its window is split / restarted.
SPLIT_AFTER_RETRIES = 3
RESTART_AFTER_RETRIES = 3
MAX_RESTARTS = 5


class VideoPages(Endpoint[PageTask, VideoPage]):
    name = "video_query"

    def window(self, task: PageTask) -> str:
        return task.window

    def raw_name(self, task: PageTask) -> str:
        return Storage.page_name(task.window, task.page)

    def fetch(self, ctx: WorkerContext, work: Work, task: PageTask) -> tuple[tuple[VideoPage, bytes], str]:
        return fetch(ctx, work, task)

    def decode(self, raw: bytes) -> VideoPage:
        return decode_video_page(raw)

    def records_used(self, answer: VideoPage) -> int:
        return len(answer.videos)

    def replace_failing(self, ctx: WorkerContext, work: Work, task: PageTask, error: TransientError,
                        retries: int) -> bool:
        return replace_failing_window(ctx, work, task, error, retries)

    def store(self, ctx: WorkerContext, work: Work, task: PageTask, answer: VideoPage,
              downloaded_at: dt.datetime) -> int:
        return store_records(ctx, work, task, answer, downloaded_at)

    def follow_up(self, ctx: WorkerContext, work: Work, task: PageTask, answer: VideoPage) -> None:
        if "users" in work.plan.collect:
            request_authors(ctx, work.plan, answer)
        if work.plan.follows_of_every_author:
            authors = sorted({normalise(video.username) for video in answer.videos if video.username})
            request_follows(ctx.store, ctx.broker, work.plan, [a for a in authors if usernames.could_exist(a)])
        if "comments" in work.plan.collect:
            request_comments(ctx, work.plan, answer)
        if "playlists" in work.plan.collect:
            request_playlists(ctx, work.plan, answer)
        if answer.has_more:
            messages.send(ctx.broker, next_page(task, answer, ctx.settings.max_count))

    def complete(self, ctx: WorkerContext, work: Work, task: PageTask, answer: VideoPage, records: int) -> bool:
        return ctx.store.page_done(work.delivery, task.window, records, window_ended=not answer.has_more)


PAGES = VideoPages()


def handle_page(ctx: WorkerContext, task: PageTask, token: str, retries: int, *, predecessor: str = "") -> None:
    journey.run(ctx, PAGES, task, task.unit, task.harvest_id, token, retries, predecessor)


def fetch(ctx: WorkerContext, work: Work, task: PageTask) -> tuple[tuple[VideoPage, bytes], str]:
    plan = work.plan
    start, end = windows.bounds(task.window)

    def call(token: str, max_count: int):
        body = VideoQueryBody(
            query=plan.query, start_date=start, end_date=end, max_count=max_count,
            cursor=task.cursor if task.page else None, search_id=task.search_id,
        )
        return ctx.client.query_videos(token, body)

    # A page takes a full max_count or waits: a search whose page size changed midway could be
    # answered "Invalid count or cursor". Smaller remainders of the day go to profile calls.
    return paid_call(ctx, work, ctx.settings.max_count, call, endpoint="video_query",
                     least_records=ctx.settings.max_count)


def store_records(ctx: WorkerContext, work: Work, task: PageTask, page: VideoPage, downloaded_at) -> int:
    """Writes the records this page owns; returns how many."""
    plan = work.plan
    videos = [(video_id, video) for video in page.videos if (video_id := id_string(video.id)) is not None]
    if len(videos) < len(page.videos):
        # Nothing to name a record by; the raw page keeps what TikTok sent.
        log.warning("videos_without_id", harvest=plan.id, unit=task.unit, count=len(page.videos) - len(videos))
    owned = ctx.store.claim(work.delivery, [video_id for video_id, _ in videos])
    mine, seen = [], set()
    for (video_id, video), is_mine in zip(videos, owned, strict=True):
        # TikTok can repeat a video on one page too: keep its first appearance.
        if is_mine and video_id not in seen:
            seen.add(video_id)
            mine.append(video_record(video, plan, downloaded_at))
    if mine:
        ctx.storage.write_records(plan, Storage.page_name(task.window, task.page), encode_records(mine),
                                  fence=work.fence)
    return len(mine)


def request_authors(ctx: WorkerContext, plan: HarvestPlan, page: VideoPage) -> None:
    """One profile request per author per harvest, fanned out beside the page chains.
    Sent before they are marked requested, so a crash in between only duplicates a message."""
    # Normalised, so two spellings of one account are requested (and paid for) once.
    authors = sorted({normalise(video.username) for video in page.videos if video.username})
    new = ctx.store.users_not_requested(plan.id, authors)
    for username in new:
        messages.send(ctx.broker, UserTask(harvest_id=plan.id, username=username))
    ctx.store.mark_users_requested(plan.id, new)


def request_comments(ctx: WorkerContext, plan: HarvestPlan, page: VideoPage) -> None:
    """One comment chain per video per harvest, beside the page chains. A video whose comment
    count says none costs no request, unless the spec asks for every video (the count can be
    days old). Sent before they are marked requested: a crash in between only duplicates."""
    counts: dict[str, int] = {}
    for video in page.videos:
        video_id = id_string(video.id)
        if video_id is None or not video_id.isdigit():
            continue  # nothing TikTok could look comments up by
        count = video.comment_count if isinstance(video.comment_count, int) else 0
        if count > 0 or plan.comments_of_every_video:
            counts[video_id] = max(count, counts.get(video_id, 0))
    new = ctx.store.chains_not_requested(plan.id, COMMENTS.name, sorted(counts))
    for video_id in new:
        messages.send(ctx.broker, CommentTask(harvest_id=plan.id, video_id=video_id, comment_count=counts[video_id]))
    ctx.store.mark_chains_requested(plan.id, COMMENTS.name, new)


def request_playlists(ctx: WorkerContext, plan: HarvestPlan, page: VideoPage) -> None:
    """Each playlist a video of the page belongs to, once per harvest (a chain of its pages).
    Sent before they are marked requested: a crash in between only duplicates a message."""
    found = {playlist for video in page.videos
             if (playlist := id_string(video.playlist_id)) is not None and playlist.isdigit() and playlist != "0"}
    new = ctx.store.chains_not_requested(plan.id, "playlist_info", sorted(found))
    for playlist_id in new:
        messages.send(ctx.broker, PlaylistTask(harvest_id=plan.id, playlist_id=playlist_id))
    ctx.store.mark_chains_requested(plan.id, "playlist_info", new)


def next_page(task: PageTask, page: VideoPage, max_count: int) -> PageTask:
    # The cursor must move forward, or a confused answer would loop forever.
    cursor = page.cursor if page.cursor is not None and page.cursor > task.cursor else task.cursor + max_count
    search_id = str(page.search_id) if page.search_id is not None else task.search_id
    return PageTask(harvest_id=task.harvest_id, window=task.window, page=task.page + 1,
                    cursor=cursor, search_id=search_id)


def replace_failing_window(ctx: WorkerContext, work: Work, task: PageTask, error: TransientError, retries: int) -> bool:
    """A window that keeps failing is split in two (server errors tied to it: TikTok answers
    other calls meanwhile) or searched afresh (stale search ids). Returns True when the window
    was replaced and this page's chain has ended."""
    plan = work.plan
    if isinstance(error, SearchExpired) and retries >= RESTART_AFTER_RETRIES:
        if task.window.count(".r") and int(task.window.rsplit(".r", 1)[1]) >= MAX_RESTARTS:
            return False
        replacement, status = [windows.restarted(task.window)], RESTARTED
    elif error.server_side and error.isolated and retries >= SPLIT_AFTER_RETRIES:
        halves = windows.split(task.window)
        if halves is None:
            return False  # a single day: keep retrying, then dead-letter
        replacement, status = halves, SPLIT
    else:
        return False
    # Register, enqueue, then close: a crash anywhere in between leaves this window open, so
    # this page comes back and does it again (duplicate first pages are dropped by their lease).
    ctx.leases.ensure(work.delivery)
    ctx.store.open_windows(plan.id, replacement)
    for window in replacement:
        messages.send(ctx.broker, PageTask(harvest_id=plan.id, window=window, page=0))
    ctx.store.close_window(work.delivery, task.window, status)
    log.warning("window_replaced", harvest=plan.id, window=task.window, status=status,
                by=replacement, reason=str(error))
    return True
