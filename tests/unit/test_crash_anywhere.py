"""A worker may die at any line. Here it dies at every step in turn — before and after
each call into Redis, the files, the queues and TikTok — and the message comes back to a
fresh process (the same message id, as Dramatiq redelivers it). Every time, the harvest
ends with exactly the records of a run that never crashed, each once, every author
answered, and the quota counting every request TikTok saw (at most one more: a call that
died between taking its quota and going out)."""

import json
from collections import Counter

import httpx
import msgspec
import pytest

from core import messages
from core.messages import producer_broker
from schemas.messages import CommentTask, PageTask, UserTask
from tests.unit.conftest import (
    BASE_URL,
    BIG,
    COMMENT_LIST,
    NAMESPACE,
    USER_INFO,
    VIDEO_QUERY,
    comment,
    comments_body,
    error_body,
    page_body,
    user_body,
    video,
)
from workers.comments import handle_comments
from workers.context import build_context
from workers.pages import handle_page
from workers.users import handle_user

PERIOD = "20240101-20240229"  # two windows
AUTHORS = ["alice", "bob", "carol"]


# Comments: video 2 has two pages of them, videos 5 and 40 (each met twice) one page.
COMMENTS = {2: 150, 5: 3, 40: 2}


def answers() -> dict:
    """Each window: three pages; video 5 on two pages of a window, video 40 in both windows,
    one short page; carol is an unknown account."""
    def vids(*numbers):
        return [video(n, username=AUTHORS[n % 3], comment_count=COMMENTS.get(n, 0)) for n in numbers]

    pages: dict[tuple[str, str, int | None], bytes] = {}
    for window, base in (("20240130-20240229", 0), ("20240101-20240129", 20)):
        start, end = window.split("-")
        pages[(start, end, None)] = page_body(vids(base + 1, base + 2, 5 if base == 0 else 40, base + 3),
                                              cursor=100, has_more=True, search_id=f"S{base}")
        pages[(start, end, 100)] = page_body(vids(base + 4, 5 if base == 0 else base + 5),
                                             cursor=200, has_more=True, search_id=f"S{base}")
        pages[(start, end, 200)] = page_body(vids(base + 6, 40), cursor=300, has_more=False)
    return pages


class FixedTikTok:
    """The same answer every time a request is repeated (a crash may repeat any call)."""

    def __init__(self):
        self.pages = answers()
        self.research_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token/"):
            return httpx.Response(200, json={"access_token": "clt.crash-test", "expires_in": 7200})
        self.research_calls += 1
        body = json.loads(request.content)
        if request.url.path == VIDEO_QUERY:
            return httpx.Response(200, content=self.pages[(body["start_date"], body["end_date"], body.get("cursor"))])
        if request.url.path == COMMENT_LIST:
            n, cursor = body["video_id"] - BIG, body["cursor"]
            served = range(cursor, min(COMMENTS[n], cursor + body["max_count"]))
            return httpx.Response(200, content=comments_body([comment(n * 1000 + i, n) for i in served],
                                                             cursor=served.stop, has_more=served.stop < COMMENTS[n]))
        assert request.url.path == USER_INFO
        if body["username"] == "carol":
            return httpx.Response(400, content=error_body("invalid_params", "Username carol cannot find the user"))
        return httpx.Response(200, content=user_body(display_name=body["username"]))


class Crash(BaseException):
    """The process dies here (BaseException: no handler of ours catches it)."""


class Fuse:
    def __init__(self, blow_at: int | None):
        self.blow_at = blow_at
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks == self.blow_at:
            self.blow_at = None  # one crash a run
            raise Crash()


def fused(fn, fuse: Fuse):
    """`fn` with a possible crash just before it and just after it."""
    def crashing(*args, **kwargs):
        fuse.tick()
        result = fn(*args, **kwargs)
        fuse.tick()
        return result
    return crashing


def instrument(ctx, fuse: Fuse) -> None:
    """A possible crash before and after every call the handlers make into Redis, the files
    and TikTok (the queues: see `harvest`)."""
    for part in (ctx.store, ctx.leases, ctx.quota, ctx.storage, ctx.tokens, ctx.client):
        for name in dir(part):
            if not name.startswith("_") and callable(getattr(part, name)):
                setattr(part, name, fused(getattr(part, name), fuse))


def harvest(settings, broker, fake, transport, plan_spec, fuse: Fuse, monkeypatch, register) -> int:
    """Run the harvest to its end, one message at a time; returns the crashes survived."""
    http = httpx.Client(base_url=BASE_URL, transport=transport)  # a pool holds no harvest state

    def new_process(crashing=True):
        ctx = build_context(settings, broker, redis=fake, http=http)
        if crashing:
            instrument(ctx, fuse)
        return ctx

    register(new_process(crashing=False))
    monkeypatch.setattr(messages, "send", fused(messages.send, fuse))
    ctx = new_process()
    crashes = 0
    handlers = {"pages": (PageTask, handle_page), "users": (UserTask, lambda c, t, m, r: handle_user(c, t, m)),
                "comments": (CommentTask, handle_comments)}
    while True:
        for queue in ("pages", "users", "comments"):
            message_id = fake.lpop(f"{NAMESPACE}:{queue}")
            if message_id:
                break
        else:
            return crashes
        message = msgspec.json.decode(fake.hget(f"{NAMESPACE}:{queue}.msgs", message_id))
        task_type, handler = handlers[queue]
        try:
            handler(ctx, msgspec.convert(message["args"][0], task_type), message["message_id"], 0)
        except Crash:
            crashes += 1
            fake.rpush(f"{NAMESPACE}:{queue}", message_id)  # redelivered, to a new process
            ctx = new_process()
            continue
        fake.hdel(f"{NAMESPACE}:{queue}.msgs", message_id)  # acknowledged


def outcome(ctx, plan) -> dict:
    stored: Counter[str] = Counter()
    authors: dict[str, tuple[str, str | None]] = {}
    for path in ctx.storage.records_dir(plan).glob("tiktok_videos_*.json"):
        for record in json.loads(path.read_bytes()):
            stored[record["@id"]] += 1
            authors[record["@id"]] = (record["author"]["alternateName"], record["author"].get("name"))
    people = sorted(path.name for path in ctx.storage.records_dir(plan).glob("tiktok_user_*.json"))
    comments: Counter[str] = Counter()
    for path in ctx.storage.records_dir(plan).glob("tiktok_comments_*.json"):
        comments.update(record["@id"] for record in json.loads(path.read_bytes()))
    status = ctx.store.status(plan.id)
    return {"videos": stored, "authors": authors, "people": people, "state": status.state, "records": status.records,
            "comments": comments, "comment_count": status.comments,
            "pages": status.pages, "users": (status.users_requested, status.users_done),
            "temporaries": [p.name for p in ctx.storage.root.rglob("*.tmp")],
            "finished_up": (ctx.redis.zscore(ctx.keys.quota_active(plan.credential), plan.id) is None,
                            ctx.redis.ttl(ctx.keys.owners(plan.id)) > 0)}


def run(tmp_path, name, settings_factory, fake_factory, broker_factory, plan_factory, monkeypatch, blow_at):
    settings = settings_factory(tmp_path / name)
    fake = fake_factory()
    broker = broker_factory(settings, fake)
    tiktok = FixedTikTok()
    fuse = Fuse(blow_at)
    holder = {}

    def register(ctx):
        if "plan" not in holder:
            holder["plan"] = plan_factory(ctx, settings)

    crashes = harvest(settings, broker, fake, httpx.MockTransport(tiktok), None, fuse, monkeypatch, register)
    ctx = build_context(settings, broker, redis=fake,
                        http=httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(tiktok)))
    bucket = ctx.quota.peek("climate-key")
    return outcome(ctx, holder["plan"]), crashes, fuse.ticks, tiktok.research_calls, bucket.requests_used


@pytest.fixture
def harness(settings, monkeypatch):
    import dataclasses

    import fakeredis

    from core.credentials import load_credentials
    from producers.spec import validate
    from producers.submission import start

    def settings_factory(root):
        return dataclasses.replace(settings, data_dir=root)

    def plan_factory(ctx, s):
        plan = validate({"id": "crash", "project": "climate", "period": PERIOD, "accounts": AUTHORS,
                         "collect": ["videos", "users", "comments"]},
                        load_credentials(s.credentials_file))
        assert start(plan, s, ctx.broker, redis=ctx.redis).created  # the producer, not under test
        return plan

    # The crashes here are of processes, not machines: what fsync guards against is not at stake.
    monkeypatch.setattr("os.fsync", lambda fd: None)

    def go(tmp_path, name, blow_at):
        with monkeypatch.context() as patch:
            return run(tmp_path, name, settings_factory, fakeredis.FakeRedis,
                       lambda s, f: producer_broker(s, f), plan_factory, patch, blow_at)

    return go


def test_a_crash_at_any_step_changes_nothing_in_the_result(harness, tmp_path):
    expected, crashes, steps, calls, used = harness(tmp_path, "clean", None)
    assert crashes == 0 and calls == used == 6 + 3 + 4  # pages, profiles, comment pages
    assert len(expected["comments"]) == expected["comment_count"] == sum(COMMENTS.values())
    assert set(expected["comments"].values()) == {1}
    assert expected["state"] == "done" and expected["records"] == len(expected["videos"]) == 13
    assert set(expected["videos"].values()) == {1}
    assert expected["users"] == (3, 3) and expected["temporaries"] == []
    assert expected["finished_up"] == (True, True)
    # Authors are expanded from their profiles once all are in; carol's name did not resolve.
    assert set(expected["authors"].values()) == {("alice", "alice"), ("bob", "bob"), ("carol", None)}
    assert steps > 300  # every step of every message is a place to die

    for blow_at in range(1, steps + 1):
        got, crashes, _, calls, used = harness(tmp_path, f"crash-{blow_at}", blow_at)
        assert crashes == 1, blow_at
        assert got == expected, f"crash at step {blow_at}"
        assert calls <= used <= calls + 1, f"crash at step {blow_at}: {calls} calls, {used} counted"
