"""The videos an account liked, pinned or reposted, on the journey (workers/journey.py): one
page of one account's list per unit; an account's pages form a chain.

Asked for the accounts the spec names, at submission (core/chains.py). Each video is stored
once per harvest as a video record (claimed like the videos a search finds: whichever unit
meets it first writes it), and each act once as a LikeAction, ChooseAction (a pin) or
ShareAction (a repost). An account whose likes are hidden, or that is private or unknown,
is an answer recorded as such, not an error. Liked videos page by a time going back (ms),
reposts by an index going forward; pins come in one answer.
"""

import datetime as dt

from core import messages
from core.chains import VIDEO_LIST_ENDPOINTS, Which
from schemas import usernames
from schemas.api import AccountVideosBody, AccountVideosPage
from schemas.messages import AccountVideosTask
from workers import journey
from workers.account_video_records import act_key, act_record
from workers.calls import paid_call
from workers.context import WorkerContext
from workers.journey import Endpoint, Work
from workers.records import encode_records, id_string, video_record
from workers.storage import Storage
from workers.tiktok.client import decode_account_videos_body

PAGE_SIZE = 100
ACT_PREFIX = "a:"  # acts share the claims hash with videos (claimed by their bare ids)

Answer = tuple[str, AccountVideosPage | None]  # (outcome, page)


class AccountVideos(Endpoint[AccountVideosTask, Answer]):
    def __init__(self, which: Which, name: str):
        self.which = which
        self.name = name

    def raw_name(self, task: AccountVideosTask) -> str:
        return Storage.account_videos_name(task.which, task.username, task.page)

    def fetch(self, ctx: WorkerContext, work: Work, task: AccountVideosTask) -> tuple[tuple[Answer, bytes], str]:
        username = usernames.normalise(task.username)
        pinned = task.which == "pinned"

        def call(token: str, max_count: int):
            body = AccountVideosBody(username=username, max_count=None if pinned else max_count, cursor=task.cursor)
            return ctx.client.account_videos(token, task.which, body)

        # Pins come at most three at a time: reserve no more records than that.
        (outcome, page, raw), paid_by = paid_call(ctx, work, 3 if pinned else PAGE_SIZE, call, endpoint=self.name)
        return ((outcome, page), raw), paid_by

    def decode(self, raw: bytes) -> Answer:
        return decode_account_videos_body(raw)

    def records_used(self, answer: Answer) -> int:
        return len(answer[1].videos) if answer[1] is not None else 0

    def store(self, ctx: WorkerContext, work: Work, task: AccountVideosTask, answer: Answer,
              downloaded_at: dt.datetime) -> int:
        if answer[1] is None:
            return 0
        account = usernames.normalise(task.username)
        listed = [(vid, video) for video in answer[1].videos if (vid := id_string(video.id)) is not None]
        keys = [vid for vid, _ in listed] + [ACT_PREFIX + act_key(task.which, account, vid) for vid, _ in listed]
        owned = ctx.store.claim(work.delivery, keys)
        videos_mine, acts_mine = owned[:len(listed)], owned[len(listed):]
        records: list = []
        acts = 0
        seen: set[str] = set()
        for (vid, video), video_is_mine, act_is_mine in zip(listed, videos_mine, acts_mine, strict=True):
            if vid in seen:
                continue  # a video listed twice on one page: its first appearance
            seen.add(vid)
            if video_is_mine:
                records.append(video_record(video, work.plan, downloaded_at))
            if act_is_mine:
                records.append(act_record(task.which, account, vid, work.plan))
                acts += 1
        if records:
            ctx.storage.write_records(work.plan, self.raw_name(task), encode_records(records), fence=work.fence)
        return acts  # the endpoint's records: the acts (the videos count as videos)

    def follow_up(self, ctx: WorkerContext, work: Work, task: AccountVideosTask, answer: Answer) -> None:
        following = next_page(task, answer)
        if following is not None:
            messages.send(ctx.broker, following)

    def complete(self, ctx: WorkerContext, work: Work, task: AccountVideosTask, answer: Answer,
                 records: int) -> bool:
        account = usernames.normalise(task.username)
        if answer[0] != "ok":
            ctx.store.list_outcome(work.plan.id, self.name, account, answer[0])
        return ctx.store.chain_page_done(work.delivery, self.name, account, records,
                                         chain_ended=next_page(task, answer) is None)


ENDPOINTS = {which: AccountVideos(which, name) for which, name in VIDEO_LIST_ENDPOINTS.values()}


def handle_account_videos(ctx: WorkerContext, task: AccountVideosTask, token: str, retries: int, *,
                          predecessor: str = "") -> None:
    journey.run(ctx, ENDPOINTS[task.which], task, task.unit, task.harvest_id, token, retries, predecessor)


def next_page(task: AccountVideosTask, answer: Answer) -> AccountVideosTask | None:
    """The chain's next page, or None where it ends. A cursor that does not move (back for
    likes, forward for reposts) would loop for ever."""
    page = answer[1]
    if task.which == "pinned" or page is None or not page.has_more or page.cursor is None:
        return None
    if task.cursor is not None:
        moved = page.cursor < task.cursor if task.which == "liked" else page.cursor > task.cursor
        if not moved:
            return None
    return AccountVideosTask(harvest_id=task.harvest_id, username=task.username, which=task.which,
                             page=task.page + 1, cursor=page.cursor)
