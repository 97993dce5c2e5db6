"""The comment list endpoint on the journey (workers/journey.py): one page of one video's
comments, replies included, per unit; the pages of a video form a chain, as a window's
pages do.

Comments are asked for per stored video with comments (workers/pages.py sends the first
page), each stored once per harvest (claimed like videos), written as `Message` records
pointing at their video and at the comment they answer. A chain ends when TikTok says there
is no more, or at the spec's `max_comments_per_video`; a video whose comments stop short of
its comment count at TikTok's cap (about the first 1,000 are served) is noted as cut.
"""

import datetime as dt

import structlog

from core import messages
from schemas.api import CommentListBody, CommentPage
from schemas.messages import CommentTask
from workers import journey
from workers.calls import paid_call
from workers.comment_records import comment_record
from workers.context import WorkerContext
from workers.journey import Endpoint, Work
from workers.records import encode_records, id_string
from workers.storage import Storage
from workers.tiktok.client import decode_comment_page

log = structlog.get_logger(__name__)

PAGE_SIZE = 100  # TikTok's maximum: requests are the scarce resource
# About this many comments of a video are reachable; a chain that ends there, below the
# video's comment count, was cut by TikTok, not finished.
TIKTOK_CAP = 1000
# Comment ids share the claims hash with video ids: kept apart by a prefix.
CLAIM_PREFIX = "c:"


class VideoComments(Endpoint[CommentTask, CommentPage]):
    name = "comment_list"

    def raw_name(self, task: CommentTask) -> str:
        return Storage.comments_name(task.video_id, task.page)

    def fetch(self, ctx: WorkerContext, work: Work, task: CommentTask) -> tuple[tuple[CommentPage, bytes], str]:
        want = PAGE_SIZE
        if work.plan.max_comments_per_video is not None:
            want = max(1, min(PAGE_SIZE, work.plan.max_comments_per_video - task.cursor))

        def call(token: str, max_count: int):
            body = CommentListBody(video_id=int(task.video_id), max_count=max_count, cursor=task.cursor)
            return ctx.client.list_comments(token, body)

        return paid_call(ctx, work, want, call, endpoint=self.name)

    def decode(self, raw: bytes) -> CommentPage:
        return decode_comment_page(raw)

    def records_used(self, answer: CommentPage) -> int:
        return len(answer.comments)

    def store(self, ctx: WorkerContext, work: Work, task: CommentTask, answer: CommentPage,
              downloaded_at: dt.datetime) -> int:
        comments = [(own, c) for c in answer.comments if (own := id_string(c.id)) is not None]
        owned = ctx.store.claim(work.delivery, [CLAIM_PREFIX + own for own, _ in comments])
        mine, seen = [], set()
        for (own, comment), is_mine in zip(comments, owned, strict=True):
            if is_mine and own not in seen:  # a comment repeated on one page: its first appearance
                seen.add(own)
                mine.append(comment_record(comment, task.video_id, work.plan, downloaded_at))
        if mine:
            ctx.storage.write_records(work.plan, self.raw_name(task), encode_records(mine), fence=work.fence)
        return len(mine)

    def follow_up(self, ctx: WorkerContext, work: Work, task: CommentTask, answer: CommentPage) -> None:
        following = next_page(work, task, answer)
        if following is not None:
            messages.send(ctx.broker, following)

    def complete(self, ctx: WorkerContext, work: Work, task: CommentTask, answer: CommentPage, records: int) -> bool:
        ended = next_page(work, task, answer) is None
        if ended:
            why = cut_short(work, task, answer)
            if why:
                ctx.store.comments_cut_short(work.plan.id, task.video_id, why)
        return ctx.store.chain_page_done(work.delivery, self.name, task.video_id, records, chain_ended=ended)


COMMENTS = VideoComments()


def handle_comments(ctx: WorkerContext, task: CommentTask, token: str, retries: int, *,
                    predecessor: str = "") -> None:
    journey.run(ctx, COMMENTS, task, task.unit, task.harvest_id, token, retries, predecessor)


def served_after(task: CommentTask, answer: CommentPage) -> int:
    """How many of the video's comments were served up to the end of this page. TikTok's
    cursor counts them; it must move forward, or a confused answer would loop forever."""
    moved = task.cursor + len(answer.comments)
    return answer.cursor if answer.cursor is not None and answer.cursor > task.cursor else moved


def next_page(work: Work, task: CommentTask, answer: CommentPage) -> CommentTask | None:
    """The chain's next page, or None where it ends."""
    served = served_after(task, answer)
    if not answer.has_more or served <= task.cursor:
        return None
    limit = work.plan.max_comments_per_video
    if limit is not None and served >= limit:
        return None
    return CommentTask(harvest_id=task.harvest_id, video_id=task.video_id, page=task.page + 1, cursor=served,
                       comment_count=task.comment_count)


def cut_short(work: Work, task: CommentTask, answer: CommentPage) -> str | None:
    """Why an ended chain holds fewer comments than the video's count says, when it is not
    just that count being out of date: the spec's limit, or TikTok's cap."""
    served = served_after(task, answer)
    limit = work.plan.max_comments_per_video
    if answer.has_more and limit is not None and served >= limit:
        return "spec_limit"
    if not answer.has_more and served >= TIKTOK_CAP and task.comment_count > served:
        return "tiktok_cap"
    return None
