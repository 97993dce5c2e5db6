"""Fixtures for the fast unit tests: fakeredis instead of Redis, a scripted fake TikTok
(httpx.MockTransport) instead of the network, a worker context built the way a worker
process builds it, and a registered harvest plan.

Nothing here touches the real Redis or the network; every test gets its own fake Redis,
data folder and credentials file.
"""

import datetime as dt
import json
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import fakeredis
import httpx
import msgspec
import pytest

from core.config import Settings
from core.credentials import load_credentials
from core.messages import producer_broker
from producers.spec import validate
from schemas.messages import PageTask, UserTask
from workers.broker import build_broker
from workers.context import build_context, set_context

NAMESPACE = "unit"
BASE_URL = "http://tiktok.test"
CREDENTIAL = "climate-key"
CLIENT_KEY = "KEY-climate-unit-4711"
CLIENT_SECRET = "S3CRET-climate-unit-do-not-leak-9f8e7d"
HARVEST_ID = "tiktok_query_unit01"
PERIOD = "20240101-20240131"
WINDOW = "20240101-20240131"  # the one window of PERIOD (31 inclusive days)
BIG = 7354321098765432000  # video ids above 2^53, as TikTok's are

VIDEO_QUERY = "/v2/research/video/query/"
USER_INFO = "/v2/research/user/info/"
COMMENT_LIST = "/v2/research/video/comment/list/"
FOLLOWERS = "/v2/research/user/followers/"
FOLLOWING = "/v2/research/user/following/"
TOKEN = "/v2/oauth/token/"


def pytest_configure(config):
    config.addinivalue_line("markers", "limits(daily_requests, daily_records): the unit credential's quota")


# --- bodies TikTok answers -------------------------------------------------------------------


def video(n: int, username: str | None = "alice", **fields) -> dict:
    """A video with id BIG + n (above 2^53)."""
    body = {
        "id": BIG + n,
        "video_description": f"video {n} #klimaat",
        "create_time": 1704200000 + n,
        "region_code": "BE",
        "view_count": 10 * n,
        "hashtag_names": ["klimaat"],
    }
    if username is not None:
        body["username"] = username
    body.update(fields)
    return body


def page_body(videos: list[dict], *, cursor: int | None, has_more: bool,
              search_id: str | int | None = None) -> bytes:
    """A video query answer exactly as TikTok frames it (ids stay exact: Python's json)."""
    data: dict[str, object] = {"videos": videos, "cursor": cursor, "has_more": has_more}
    if search_id is not None:
        data["search_id"] = search_id
    return json.dumps({"data": data, "error": {"code": "ok", "message": "",
                                               "log_id": "20240601123456ABCDEF0123456789ABCD"}}).encode()


def error_body(code: str, message: str = "") -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "log_id": "20240601123456ABCDEF"}}).encode()


def user_body(**fields) -> bytes:
    data = {"display_name": "Alice", "bio_description": "klimaat!", "avatar_url": "https://x.test/a.jpg",
            "is_verified": False, "follower_count": 12, "following_count": 3, "likes_count": 40,
            "video_count": 7, "bio_url": "https://alice.test"}
    data.update(fields)
    return json.dumps({"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}}).encode()


# --- the fake TikTok -------------------------------------------------------------------------


class FakeTikTok:
    """A scripted TikTok for httpx.MockTransport.

    `video[(start_date, end_date, cursor)]` and `users[username]` hold answers, used in
    order (a deque): bytes (a 200 with that body), an httpx.Response, an exception to raise
    (e.g. httpx.ReadTimeout) or a callable(request) returning one of those. A call with no
    scripted answer fails the test. `calls` records every request (token ones included).
    """

    def __init__(self):
        self.video: dict[tuple, deque] = {}
        self.users: dict[str, deque] = {}
        self.comments: dict[tuple, deque] = {}
        self.follows: dict[tuple, deque] = {}
        self.account_videos: dict[tuple, deque] = {}
        self.playlists: dict[tuple, deque] = {}
        self.tokens: deque = deque()
        self.calls: list[httpx.Request] = []
        self.token_counter = 0

    # scripting
    def add_video(self, start: str, end: str, cursor: int | None, *answers) -> None:
        self.video.setdefault((start, end, cursor), deque()).extend(answers)

    def add_user(self, username: str, *answers) -> None:
        self.users.setdefault(username, deque()).extend(answers)

    def add_follows(self, direction: str, username: str, cursor: int | None, *answers) -> None:
        self.follows.setdefault((direction, username, cursor), deque()).extend(answers)

    def add_account_videos(self, which: str, username: str, cursor: int | None, *answers) -> None:
        self.account_videos.setdefault((which, username, cursor), deque()).extend(answers)

    def add_playlist(self, playlist_id: int, cursor: int | None, *answers) -> None:
        self.playlists.setdefault((playlist_id, cursor), deque()).extend(answers)

    def add_comments(self, video_id: int, cursor: int, *answers) -> None:
        self.comments.setdefault((video_id, cursor), deque()).extend(answers)

    # reading
    def research_calls(self, path: str = VIDEO_QUERY) -> list[httpx.Request]:
        return [call for call in self.calls if call.url.path == path]

    def bodies(self, path: str = VIDEO_QUERY) -> list[dict]:
        return [json.loads(call.content) for call in self.research_calls(path)]

    def token_calls(self) -> list[httpx.Request]:
        return [call for call in self.calls if call.url.path == TOKEN]

    # answering
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path = request.url.path
        if path == TOKEN:
            if self.tokens:
                return self._answer(self.tokens.popleft(), request)
            self.token_counter += 1
            return httpx.Response(200, json={"access_token": f"clt.unit-token-{self.token_counter}",
                                             "expires_in": 7200, "token_type": "Bearer"})
        body = json.loads(request.content)
        key: tuple | str
        if path == VIDEO_QUERY:
            key = (body["start_date"], body["end_date"], body.get("cursor"))
            answers = self.video.get(key)
        elif path == USER_INFO:
            answers = self.users.get(key := body["username"])
        elif path == COMMENT_LIST:
            key = (body["video_id"], body.get("cursor", 0))
            answers = self.comments.get(key)
        elif path == "/v2/research/playlist/info/":
            key = (body["playlist_id"], body.get("cursor"))
            answers = self.playlists.get(key)
        elif path.endswith("_videos/"):
            key = (path.rstrip("/").rsplit("/", 1)[1].removesuffix("_videos"), body["username"], body.get("cursor"))
            answers = self.account_videos.get(key)
        elif path in (FOLLOWERS, FOLLOWING):
            key = (path.rstrip("/").rsplit("/", 1)[1], body["username"], body.get("cursor"))
            answers = self.follows.get(key)
        else:
            raise AssertionError(f"unexpected path {path}")
        if not answers:
            raise AssertionError(f"fake TikTok has no answer scripted for {path} {key}")
        return self._answer(answers.popleft(), request)

    @staticmethod
    def _answer(answer, request):
        if callable(answer) and not isinstance(answer, (bytes, httpx.Response)):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer, headers={"Content-Type": "application/json"})
        return answer


# --- credentials, settings, broker, context ---------------------------------------------------


def write_credentials(path: Path, *, daily_requests: int = 1000, daily_records: int = 100_000,
                      today: dt.date | None = None) -> Path:
    today = today or dt.datetime.now(dt.UTC).date()
    path.write_text(
        f"[credentials.{CREDENTIAL}]\n"
        f'project = "climate"\n'
        f'client_key = "{CLIENT_KEY}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f"access_start = {today - dt.timedelta(days=30)}\n"
        f"access_end = {today + dt.timedelta(days=600)}\n"
        f"daily_requests = {daily_requests}\n"
        f"daily_records = {daily_records}\n"
    )
    return path


@pytest.fixture
def fake() -> Iterator[fakeredis.FakeRedis]:
    """A Redis of this test's own."""
    client = fakeredis.FakeRedis()
    yield client
    client.close()


@pytest.fixture
def credentials_file(tmp_path, request) -> Path:
    marker = request.node.get_closest_marker("limits")
    limits = marker.kwargs if marker else {}
    return write_credentials(tmp_path / "credentials.toml", **limits)


def noon_offset() -> float:
    """A quota clock offset that puts the bucket at 12:00 UTC today, so no test meets a midnight."""
    now = time.time()
    return (now // 86400) * 86400 + 43200 - now


@pytest.fixture
def settings(tmp_path, credentials_file) -> Settings:
    return Settings(namespace=NAMESPACE, data_dir=tmp_path / "data", credentials_file=credentials_file,
                    metrics_port=0, api_base_url=BASE_URL, redis_url="redis://unused.invalid:1/0",
                    max_count=100, quota_clock_offset_s=noon_offset(),
                    # Holds lapse at once: a message coming back after a (simulated) crash is
                    # not put off. Tests of concurrent deliveries set a real hold.
                    lease_hold_s=0.0)


@pytest.fixture
def broker(settings, fake):
    return producer_broker(settings, fake)


@pytest.fixture
def tiktok() -> FakeTikTok:
    return FakeTikTok()


@pytest.fixture
def ctx(settings, broker, fake, tiktok):
    http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(tiktok))
    context = build_context(settings, broker, redis=fake, http=http)
    yield context
    context.close()


@pytest.fixture
def make_plan(ctx, settings):
    """Validate a spec (defaults below, overridden by keyword) and register it."""

    def make(**spec):
        data = {"id": HARVEST_ID, "project": "climate", "period": PERIOD,
                "accounts": ["@alice"], "keywords": ["klimaat", "#klimaat"]}
        data.update(spec)
        plan = validate(data, load_credentials(settings.credentials_file))
        assert ctx.store.register(plan)
        return plan

    return make


@pytest.fixture
def plan(make_plan):
    return make_plan()


@pytest.fixture
def worker_broker(settings, fake, ctx, monkeypatch):
    """The workers' broker (every middleware, actors declared) on fakeredis; the context its
    WorkerResources middleware installs when a worker boots is `ctx`."""
    import workers.middleware.resources as resources
    from workers import actors

    monkeypatch.setattr(resources, "build_context", lambda settings, broker: ctx)
    broker = build_broker(settings, client=fake)
    actors.declare(broker)
    yield broker
    set_context(None)


def run_worker(broker, until, timeout_s: float = 5.0) -> None:
    """Run a real Dramatiq worker (one thread) until `until()` holds, then stop it."""
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not until():
            assert time.monotonic() < deadline, "the worker did not get there in time"
            time.sleep(0.01)
    finally:
        worker.stop(timeout=5000)


@pytest.fixture
def global_context(ctx):
    """Make `ctx` the process's context (what actors and middleware read)."""
    set_context(ctx)
    yield ctx
    set_context(None)


# --- reading what the broker enqueued ----------------------------------------------------------


def queued(redis, queue: str) -> list[dramatiq.Message]:
    """Messages waiting on `queue` (or `<queue>.DQ`), in order, without taking them."""
    ids = redis.lrange(f"{NAMESPACE}:{queue}", 0, -1)
    bodies = redis.hgetall(f"{NAMESPACE}:{queue}.msgs")
    return [dramatiq.Message.decode(bodies[message_id]) for message_id in ids]


def take(redis, queue: str) -> list[dramatiq.Message]:
    """Messages waiting on `queue`, removed from it (as if a worker had fetched and acked them)."""
    messages = queued(redis, queue)
    redis.delete(f"{NAMESPACE}:{queue}", f"{NAMESPACE}:{queue}.msgs")
    return messages


def page_tasks(messages) -> list[PageTask]:
    return [msgspec.convert(message.args[0], PageTask) for message in messages]


def user_tasks(messages) -> list[UserTask]:
    return [msgspec.convert(message.args[0], UserTask) for message in messages]


def files(folder: Path) -> dict[str, bytes]:
    """Every file in a folder (hidden temporaries included), name -> bytes."""
    if not folder.exists():
        return {}
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def bucket_day(offset_s: float) -> int:
    """The UTC day number the quota bucket is in (its clock is shifted by `offset_s`)."""
    return int((time.time() + offset_s) // 86400)


def seconds_to_midnight(offset_s: float) -> float:
    """Seconds until the quota bucket's next UTC midnight."""
    now = time.time() + offset_s
    return (now // 86400 + 1) * 86400 - now


def comment(n: int, video: int, parent: int | None = None, **fields) -> dict:
    """Comment BIG + 500_000 + n under video BIG + `video` (a reply when `parent` is given)."""
    body = {"id": BIG + 500_000 + n, "video_id": BIG + video, "text": f"comment {n}",
            "like_count": n, "reply_count": 0, "create_time": 1704300000 + n,
            "parent_comment_id": BIG + 500_000 + parent if parent is not None else BIG + video}
    body.update(fields)
    return body


def comments_body(comments: list[dict], *, cursor: int, has_more: bool) -> bytes:
    data = {"comments": comments, "cursor": cursor, "has_more": has_more}
    return json.dumps({"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}}).encode()


def follows_body(direction: str, names: list[str], *, cursor: int | None, has_more: bool) -> bytes:
    listed = [{"username": name, "display_name": name.title()} for name in names]
    data = {f"user_{direction}": listed, "cursor": cursor, "has_more": has_more}
    return json.dumps({"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}}).encode()


def account_videos_body(list_name: str, videos: list[dict], *, cursor: int | None = None,
                        has_more: bool = False) -> bytes:
    data = {list_name: videos, "cursor": cursor, "has_more": has_more}
    return json.dumps({"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}}).encode()


def playlist_body(playlist_id: int, video_ids: list[int], *, cursor: int, has_more: bool, total: int = 0) -> bytes:
    data = {"playlist_id": playlist_id, "playlist_name": "Klimaat 🎬", "playlist_item_total": total or len(video_ids),
            "playlist_last_updated": 1704300000, "playlist_video_ids": video_ids, "cursor": cursor,
            "has_more": has_more}
    return json.dumps({"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}}).encode()
