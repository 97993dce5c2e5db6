"""Two deliveries of one unit at the same time. Delivery A runs step by step; at one of its
steps it stalls, and meanwhile delivery B of the same unit runs its whole journey — the same
message handed back by Dramatiq (a worker that looked dead), or a duplicate message for the
same unit. A's hold lapses at once here (`lease_hold_s=0`), the worst case: B may take the
unit over. Then A goes on. Every step of A is tried in turn, and every time:

- TikTok is never called for a unit that is already done;
- each video is stored once, every page's records are what its stored raw page gives (a
  second call may answer differently: TikTok's results change), and the status counts
  exactly what is stored;
- every author is answered once and expanded in the video records, and no late write by A
  undoes that.

A parked message's hand-over, the third race, is at the end."""

import json
from collections import Counter
from collections.abc import Callable

import dramatiq
import httpx
import msgspec
import pytest

from core import messages
from core.messages import producer_broker
from schemas.messages import PageTask, UserTask
from tests.unit.conftest import (
    BASE_URL,
    BIG,
    NAMESPACE,
    USER_INFO,
    VIDEO_QUERY,
    page_body,
    user_body,
    video,
)
from workers import actors
from workers.context import build_context
from workers.lease import Busy, LeaseLost
from workers.pages import handle_page
from workers.users import handle_user

PERIOD = "20240101-20240131"
WINDOW = "20240101-20240131"


class ChangingTikTok:
    """Answers change between calls of the same page, as TikTok's do (a video deleted and
    another one appearing); records every research call with whether its unit was done."""

    def __init__(self, fake, keys):
        self.fake, self.keys = fake, keys
        self.calls: Counter = Counter()
        self.calls_for_done_units = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token/"):
            return httpx.Response(200, json={"access_token": "clt.concurrent", "expires_in": 7200})
        body = json.loads(request.content)
        if request.url.path == USER_INFO:
            unit = f"user:{body['username']}"
            answer = user_body(display_name=body["username"].title())
        else:
            assert request.url.path == VIDEO_QUERY
            page = body.get("cursor", 0) // 100
            unit = f"page:{WINDOW}:{page:05d}"
            answer = self._page(page, self.calls[unit])
        if self.fake.sismember(self.keys.done("h"), unit):
            self.calls_for_done_units += 1
        self.calls[unit] += 1
        return httpx.Response(200, content=answer)

    @staticmethod
    def _page(page: int, earlier_calls: int) -> bytes:
        if page == 0:
            third = 3 if earlier_calls == 0 else 6  # video 3 is gone on a second look, 6 is new
            return page_body([video(1, "alice"), video(2, "bob"), video(third, "alice")], cursor=100,
                             has_more=True, search_id="S")
        return page_body([video(4, "bob"), video(5, "carol")], cursor=200, has_more=False, search_id="S")


class Stall(BaseException):
    pass


class Stepper:
    """Counts A's steps; at step `stall_at` runs `meanwhile()` before the step goes on.

    One place is left out, as workers/lease.py states: between the last check of the hold
    and the call to TikTok it guards (`ensure`, then `call_started`, a counter, then the
    call) a delivery is assumed not to stall for longer than the hold's margin. A stall anywhere
    else is covered."""

    GUARDED = {("ensure", "call_started"), ("call_started", "query_videos"), ("call_started", "user_info")}

    def __init__(self, stall_at: int | None, meanwhile):
        self.stall_at, self.meanwhile, self.steps = stall_at, meanwhile, 0
        self.previous = ""

    def wrap(self, name: str, fn):
        def step(*args, **kwargs):
            self.steps += 1
            guarded = (self.previous, name) in self.GUARDED
            self.previous = name
            if self.steps == self.stall_at and not guarded:
                self.meanwhile()
            return fn(*args, **kwargs)
        return step


def instrument(ctx, stepper: Stepper) -> None:
    for part in (ctx.store, ctx.leases, ctx.quota, ctx.storage, ctx.tokens, ctx.client):
        for name in dir(part):
            if not name.startswith("_") and callable(getattr(part, name)):
                setattr(part, name, stepper.wrap(name, getattr(part, name)))


HANDLERS: dict[str, tuple[type, Callable[..., None]]] = {
    "pages": (PageTask, handle_page), "users": (UserTask, handle_user)}


def deliver(ctx, queue: str, message: dict) -> str:
    """One delivery as the actor glue runs it; returns how it ended."""
    task_type, handle = HANDLERS[queue]
    options = message["options"]
    try:
        handle(ctx, msgspec.convert(message["args"][0], task_type),
               options.get("lease_token") or message["message_id"], 0, predecessor=options.get("predecessor", ""))
    except (Busy, LeaseLost) as put_off:
        # Sent again later, as workers/actors.py does: the copy keeps its token.
        ctx.broker.enqueue(dramatiq.Message(**{**message, "options": options}))
        return type(put_off).__name__
    return "ok"


def pop(fake, queue: str) -> dict | None:
    message_id = fake.lpop(f"{NAMESPACE}:{queue}")
    if message_id is None:
        return None
    body = fake.hget(f"{NAMESPACE}:{queue}.msgs", message_id)
    fake.hdel(f"{NAMESPACE}:{queue}.msgs", message_id)
    return msgspec.json.decode(body)


def drain(new_ctx, fake) -> None:
    for _ in range(200):
        for queue in ("pages", "users"):
            message = pop(fake, queue)
            if message is not None:
                deliver(new_ctx(), queue, message)
                break
        else:
            return
    raise AssertionError("the queues never emptied")


def outcome(ctx, plan) -> dict:
    """What a researcher would find, checked for consistency on the way."""
    stored: Counter[str] = Counter()
    authors: dict[str, tuple[str, str | None]] = {}
    records_dir, source_dir = ctx.storage.records_dir(plan), ctx.storage.source_dir(plan)
    for path in sorted(records_dir.glob("tiktok_videos_*.json")):
        raw_ids = {str(v["id"]) for v in json.loads((source_dir / path.name).read_bytes())["data"]["videos"]}
        for record in json.loads(path.read_bytes()):
            video_id = record["@id"].removeprefix("iCANDID_tiktok_")
            assert video_id in raw_ids, f"{path.name} holds a video its stored raw page does not"
            stored[video_id] += 1
            authors[video_id] = (record["author"]["alternateName"], record["author"].get("name"))
    status = ctx.store.status(plan.id)
    assert set(stored.values()) <= {1}, "a video stored twice"
    assert status.records == len(stored), "the status counts what is not stored"
    people = sorted(p.name for p in records_dir.glob("tiktok_user_*.json"))
    return {"state": status.state, "authors": authors, "people": people,
            "users": (status.users_requested, status.users_done)}


@pytest.fixture
def race(settings, tmp_path, monkeypatch):
    import dataclasses

    import fakeredis

    from core.credentials import load_credentials
    from core.keys import Keys
    from producers.spec import validate
    from producers.submission import start

    monkeypatch.setattr("os.fsync", lambda fd: None)

    def run(name: str, unit_queue: str, second: str, stall_at: int | None):
        """Harvest with A stalled at `stall_at` while B runs; returns (outcome, A's steps,
        how A ended, calls for done units)."""
        s = dataclasses.replace(settings, data_dir=tmp_path / name)
        fake = fakeredis.FakeRedis()
        broker = producer_broker(s, fake)
        tiktok = ChangingTikTok(fake, Keys(NAMESPACE))
        http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(tiktok))

        def new_ctx():
            return build_context(s, broker, redis=fake, http=http)

        plan = validate({"id": "h", "project": "climate", "period": PERIOD, "accounts": ["alice", "bob", "carol"]},
                        load_credentials(s.credentials_file))
        start(plan, s, broker, redis=fake)
        # Bring the harvest to the unit under test: page 0 first, for the users' race.
        if unit_queue == "users":
            first_page = pop(fake, "pages")
            assert first_page is not None
            deliver(new_ctx(), "pages", first_page)
        message = pop(fake, unit_queue)
        assert message is not None
        if second == "same message":
            other = message
        else:
            other = {**message, "message_id": "a-duplicate-message"}

        stepper = Stepper(stall_at, lambda: deliver(new_ctx(), unit_queue, other))
        a = new_ctx()
        instrument(a, stepper)
        ended = deliver(a, unit_queue, message)
        drain(new_ctx, fake)
        return outcome(new_ctx(), plan), stepper.steps, ended, tiktok.calls_for_done_units

    return run


@pytest.mark.parametrize("unit_queue", ["pages", "users"])
@pytest.mark.parametrize("second", ["same message", "duplicate message"])
def test_a_second_delivery_at_any_step_of_the_first_changes_nothing_and_calls_nothing_twice(race, unit_queue, second):
    expected, steps, ended, late_calls = race("alone", unit_queue, second, None)
    assert expected["state"] == "done" and ended == "ok" and late_calls == 0
    assert expected["users"] == (3, 3) and len(expected["people"]) == 3
    assert all(name is not None for _, name in expected["authors"].values())  # every author expanded
    assert steps > 15

    for stall_at in range(1, steps + 1):
        got, _, ended, late_calls = race(f"stall-{stall_at}", unit_queue, second, stall_at)
        where = f"A stalled at step {stall_at} ({ended})"
        assert late_calls == 0, f"{where}: TikTok called for a unit already done"
        assert got["state"] == "done", where
        assert got["users"] == expected["users"] and got["people"] == expected["people"], where
        # Which videos page 0 holds depends on whose call stored it; each is expanded.
        assert all(name is not None for _, name in got["authors"].values()), where
        assert {str(BIG + 4), str(BIG + 5)} <= set(got["authors"]), where


def test_a_delivery_holding_the_unit_makes_a_second_one_wait_instead_of_doing_it_too(ctx, plan, tiktok, fake):
    ctx.leases.hold_s = 30.0  # a real hold: A is alive and renewing
    begun = ctx.leases.begin(plan.id, f"page:{WINDOW}:00000", WINDOW, "m-1")
    assert begun.verdict == "granted"
    with pytest.raises(Busy) as caught:
        handle_page(ctx, PageTask(plan.id, WINDOW, 0), "m-1", 0)  # the same message, handed back
    assert 29 < caught.value.wait_s <= 30
    handle_page(ctx, PageTask(plan.id, WINDOW, 0), "another-message", 0)  # a duplicate: dropped
    assert tiktok.calls == []
    ctx.leases.end(begun.delivery, completed=False)  # A gave up (failed, to be retried)
    tiktok.add_video("20240101", "20240131", None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, PageTask(plan.id, WINDOW, 0), "m-1", 1)  # the retry goes ahead at once
    assert ctx.store.is_done(plan.id, f"page:{WINDOW}:00000")


def test_a_parked_copy_that_wakes_before_the_hand_over_takes_the_unit_over(global_context, plan, tiktok, fake,
                                                                           monkeypatch):
    """The parking thread stalls after enqueueing the copy and before handing the unit over;
    the copy's delay passes. The copy must neither be dropped (leaving a unit nobody holds)
    nor run beside its predecessor."""
    ctx = global_context
    limits = ctx.credentials.get(plan.credential)
    while ctx.quota.take(plan.credential, limits, plan.id, "someone-else", 1).granted:
        pass
    message = messages.build(PageTask(harvest_id=plan.id, window=WINDOW, page=0))
    woken = []

    def stalled_hand_over(harvest, unit, old, new):
        # Meanwhile, the bucket reopens and the copy runs.
        ctx.redis.delete(ctx.keys.quota(plan.credential))
        (copy,) = [dramatiq.Message.decode(raw) for raw in fake.hvals(f"{NAMESPACE}:pages.DQ.msgs")]
        tiktok.add_video("20240101", "20240131", None, page_body([video(1)], cursor=100, has_more=False))
        woken.append(copy)
        handle_page(ctx, PageTask(**copy.args[0]), copy.options["lease_token"], 0,
                    predecessor=copy.options["predecessor"])
        return hand_over(harvest, unit, old, new)

    hand_over = ctx.leases.hand_over
    monkeypatch.setattr(ctx.leases, "hand_over", stalled_hand_over)
    from dramatiq.broker import MessageProxy
    from dramatiq.middleware import CurrentMessage

    CurrentMessage().before_process_message(None, MessageProxy(message))
    actors.fetch_page(message.args[0])  # meets the empty bucket, parks, hands over (stalled)
    assert woken and woken[0].options["predecessor"] == message.message_id
    assert len(tiktok.research_calls()) == 1  # the copy did the page, once
    assert ctx.store.is_done(plan.id, f"page:{WINDOW}:00000")
