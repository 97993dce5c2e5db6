"""An ongoing harvest's fleet for the unit tests: the handlers run one message at a time on
fakeredis, on a clock each test sets (the fleet's, HARVEST_QUOTA_CLOCK_OFFSET_S), against a
TikTok whose every day holds a couple of videos."""

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from core import messages, windows
from core.credentials import load_credentials
from producers.spec import validate
from producers.submission import start
from schemas.messages import NewDaysTask, PageTask, RefreshTask, UserTask
from tests.unit.conftest import BASE_URL, BIG, NAMESPACE, TOKEN, USER_INFO, VIDEO_QUERY, user_body
from tests.unit.test_crash_anywhere import Crash, Fuse, instrument
from workers.context import build_context
from workers.journey import HarvestStopped
from workers.lease import Busy
from workers.new_days import NotArchivedYet, handle_new_days
from workers.pages import handle_page
from workers.refresh import handle_refresh
from workers.tiktok.errors import QuotaWait
from workers.users import handle_user

VIDEOS_A_DAY = 2
SUBMITTED = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)  # the days up to 20261127 are archived


def at(day: str, hour: float) -> float:
    """A moment on the fleet's clock: `day` (yyyymmdd) at `hour` UTC."""
    return (dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC) + dt.timedelta(hours=hour)).timestamp()


class DailyTikTok:
    """Every day holds VIDEOS_A_DAY videos (by alice and bob); a query answers all of its
    window's in one page. Records the windows asked for."""

    def __init__(self):
        self.windows: list[tuple[str, str]] = []
        self.gone: set[int] = set()  # deleted on TikTok: no longer served
        self.refresh_queries = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN:
            return httpx.Response(200, json={"access_token": "clt.daily", "expires_in": 7200})
        body = json.loads(request.content)
        if request.url.path == USER_INFO:
            return httpx.Response(200, content=user_body(display_name=body["username"].title()))
        assert request.url.path == VIDEO_QUERY
        asked = [set(map(int, c["field_values"])) for c in body["query"].get("and", [])
                 if c["field_name"] == "video_id"]
        if asked:
            self.refresh_queries += 1
        else:
            self.windows.append((body["start_date"], body["end_date"]))
        start, end = (windows.parse_day(body[k]) for k in ("start_date", "end_date"))
        videos = []
        day = start
        while day <= end:
            for k in range(VIDEOS_A_DAY):
                number = (day - dt.date(2026, 1, 1)).days * 10 + k
                created = int(dt.datetime.combine(day, dt.time(10 + k), dt.UTC).timestamp())
                if BIG + number not in self.gone and (not asked or BIG + number in asked[0]):
                    videos.append({"id": BIG + number, "create_time": created, "region_code": "BE",
                                   "video_description": f"day {day} #klimaat", "username": ("alice", "bob")[k]})
            day += dt.timedelta(days=1)
        return httpx.Response(200, json={"data": {"videos": videos, "cursor": len(videos), "has_more": False,
                                                  "search_id": "s"},
                                         "error": {"code": "ok", "message": "", "log_id": "L"}})

    def days_asked(self) -> list[str]:
        """Every day some query covered, once per query that covered it."""
        found = []
        for first, last in self.windows:
            day = windows.parse_day(first)
            while day <= windows.parse_day(last):
                found.append(windows.format_day(day))
                day += dt.timedelta(days=1)
        return found


class Fleet:
    """The handlers, one message at a time, on a clock the test sets."""

    HANDLERS: dict[str, tuple[type, Callable[..., None]]] = {messages.PAGE_ACTOR: (PageTask, handle_page),
                messages.USER_ACTOR: (UserTask, handle_user),
                messages.REFRESH_ACTOR: (RefreshTask, handle_refresh),
                messages.NEW_DAYS_ACTOR: (NewDaysTask, handle_new_days)}

    def __init__(self, settings, broker, fake, tiktok):
        self.settings, self.broker, self.fake, self.tiktok = settings, broker, fake, tiktok
        self.waiting: list[tuple[str, bytes]] = []  # messages put off: (queue, body)

    def context(self, now: float, fuse: Fuse | None = None):
        settings = dataclasses.replace(self.settings, quota_clock_offset_s=now - time.time())
        ctx = build_context(settings, self.broker, redis=self.fake,
                            http=httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(self.tiktok)))
        if fuse is not None:
            instrument(ctx, fuse)
        return ctx

    def run(self, now: float, fuse: Fuse | None = None, *, crashed_back_later: bool = False) -> int:
        """Deliver every message (those put off earlier too) until none is left that can run
        at `now`; returns the crashes survived. A message whose process died is delivered
        again at once, or (`crashed_back_later`) at the next run, when the clock has moved on."""
        for queue, body in self.waiting:
            self._push(queue, body)
        self.waiting = []
        ctx, crashes = self.context(now, fuse), 0
        while (popped := self._pop()) is not None:
            queue, message_id, body = popped
            message = msgspec.json.decode(body)
            task_type, handler = self.HANDLERS[message["actor_name"]]
            task: Any = msgspec.convert(message["args"][0], task_type)
            try:
                handler(ctx, task, message.get("options", {}).get("lease_token") or message["message_id"], 0)
            except (NotArchivedYet, Busy):
                self.waiting.append((queue, body))  # sent again later, as the actor does
            except QuotaWait as wait:
                ctx.store.park(task.harvest_id, task.unit, wait.why)  # parked, as the actor does
                self.waiting.append((queue, body))
            except HarvestStopped as stopped:
                assert stopped.state == "cancelled"  # dropped, as the actor does
            except Crash:
                crashes += 1
                if crashed_back_later:
                    self.waiting.append((queue, body))
                else:
                    self._push(queue, body)  # redelivered, to a new process
                ctx = self.context(now, fuse)
        return crashes

    def _pop(self):
        for queue in ("pages", "pages.DQ", "users", "lists"):
            message_id = self.fake.lpop(f"{NAMESPACE}:{queue}")
            if message_id:
                body = self.fake.hget(f"{NAMESPACE}:{queue}.msgs", message_id)
                self.fake.hdel(f"{NAMESPACE}:{queue}.msgs", message_id)
                return queue, message_id, body
        return None

    def _push(self, queue: str, body: bytes) -> None:
        message_id = msgspec.json.decode(body)["message_id"]
        self.fake.hset(f"{NAMESPACE}:{queue}.msgs", message_id, body)
        self.fake.rpush(f"{NAMESPACE}:{queue}", message_id)


def submit(fleet: Fleet, period: str = "20261120-ongoing", now: float = SUBMITTED.timestamp(), **spec):
    settings = dataclasses.replace(fleet.settings, quota_clock_offset_s=now - time.time())
    data = {"id": "daily", "project": "climate", "period": period, "keywords": ["klimaat"],
            "collect": ["videos", "users"], **spec}
    plan = validate(data, load_credentials(settings.credentials_file), now=now)
    start(plan, settings, fleet.broker, redis=fleet.fake)
    return plan


def stored_videos(ctx, plan) -> list[str]:
    ids = []
    for path in ctx.storage.records_dir(plan).glob("tiktok_videos_*.json"):
        ids += [record["@id"] for record in json.loads(path.read_bytes())]
    return ids


def days_between(first: str, last: str) -> list[str]:
    day, found = windows.parse_day(first), []
    while day <= windows.parse_day(last):
        found.append(windows.format_day(day))
        day += dt.timedelta(days=1)
    return found
