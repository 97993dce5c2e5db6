"""Helpers shared by the compliance refresh's tests (test_refresh*.py): a TikTok that serves a
small harvest and answers `video_id IN` queries from what is not deleted, a done harvest of it,
and running a refresh's messages one by one."""

import json
from collections.abc import Iterable

import httpx
import msgspec

from producers import refresh
from schemas.messages import CommentTask, RefreshTask
from tests.unit.conftest import (
    BIG,
    COMMENT_LIST,
    VIDEO_QUERY,
    comment,
    comments_body,
    page_body,
    take,
    video,
)
from tests.unit.page_helpers import END, START, first
from workers.comments import handle_comments
from workers.pages import handle_page
from workers.refresh import handle_refresh
from workers.stored_videos import stored_videos

JAN_02, JAN_30 = 1704153600, 1706572800  # 00:00 UTC
# Eight videos over January 2024, newest last; videos 2 and 3 have comments.
CREATED = {n: (JAN_30 if n <= 4 else JAN_02) + 3600 * n for n in range(1, 9)}
COMMENTS = {2: 3, 3: 2}


class RefreshTikTok:
    """The harvest's one search page, the videos' comments, and each `video_id IN [...]` query
    answered with the asked videos not in `gone`, newest first, `page_size` a page. The same
    request always gets the same answer (a crash may repeat any call)."""

    def __init__(self, gone: Iterable[int] = (), page_size: int = 100):
        self.gone = set(gone)
        self.page_size = page_size
        self.refresh_bodies: list[dict] = []
        self.research_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token/"):
            return httpx.Response(200, json={"access_token": "clt.refresh-test", "expires_in": 7200})
        self.research_calls += 1
        body = json.loads(request.content)
        if request.url.path == COMMENT_LIST:
            n = body["video_id"] - BIG
            return httpx.Response(200, content=comments_body(
                [comment(n * 100 + i, n) for i in range(COMMENTS[n])], cursor=COMMENTS[n], has_more=False))
        assert request.url.path == VIDEO_QUERY
        asked = [c for c in body["query"].get("and", []) if c["field_name"] == "video_id"]
        if not asked:  # the harvest's search
            assert (body["start_date"], body["end_date"]) == (START, END)
            return httpx.Response(200, content=page_body(videos(sorted(CREATED, reverse=True)), cursor=100,
                                                         has_more=False))
        self.refresh_bodies.append(body)
        ids = {int(value) - BIG for value in asked[0]["field_values"]}
        served = sorted((n for n in ids if n not in self.gone), reverse=True)
        cursor = body.get("cursor") or 0
        page = served[cursor:cursor + self.page_size]
        more = cursor + self.page_size < len(served)
        return httpx.Response(200, content=page_body(videos(page), cursor=cursor + self.page_size, has_more=more,
                                                     search_id="S1" if more else None))


def videos(numbers) -> list[dict]:
    return [video(n, create_time=CREATED[n], comment_count=COMMENTS.get(n, 0)) for n in numbers]


def done_harvest(ctx, make_plan, fake):
    """Harvest the eight videos and their comments; the harvest is done."""
    plan = make_plan(collect=["videos", "comments"])
    handle_page(ctx, first(plan), "m0", 0)
    for message in take(fake, "comments"):
        handle_comments(ctx, msgspec.convert(message.args[0], CommentTask), message.message_id, 0)
    assert ctx.store.status(plan.id).state == "done"
    return plan


def start_refresh(ctx, plan, **kwargs):
    return refresh.start(ctx.redis, ctx.keys, ctx.broker, plan.id, lambda p: stored_videos(ctx.storage, p),
                         keep_s=30 * 86400, **kwargs)


def refresh_tasks(messages) -> list[RefreshTask]:
    return [msgspec.convert(message.args[0], RefreshTask) for message in messages]


def run_refresh(ctx, fake) -> int:
    """Handle the refresh's messages (and those they send) until none is left; returns how many."""
    handled = 0
    while messages := take(fake, "lists"):
        for message in messages:
            handle_refresh(ctx, msgspec.convert(message.args[0], RefreshTask), message.message_id, 0)
            handled += 1
    return handled


def record_ids(folder, pattern: str = "*.json") -> list[str]:
    return sorted(record["@id"] for path in folder.glob(pattern) for record in json.loads(path.read_bytes()))


def vid(n: int) -> str:
    return f"iCANDID_tiktok_{BIG + n}"
