"""The actor glue (workers/actors.py): a message that meets an empty bucket is parked — sent
again on the delay queue with the same message id, its unit in the harvest's parked set —
and burns no retry. Driven both directly (CurrentMessage set by hand) and through a real
Dramatiq worker on fakeredis."""

import time

import dramatiq
import pytest
import structlog
import structlog.testing
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage

from core import messages
from schemas.messages import PageTask, UserTask
from tests.unit.conftest import (
    CLIENT_SECRET,
    NAMESPACE,
    WINDOW,
    page_body,
    queued,
    run_worker,
    seconds_to_midnight,
    video,
)
from workers import actors
from workers.quota import Grant
from workers.tiktok.errors import QuotaWait


def exhaust(ctx, plan):
    limits = ctx.credentials.get(plan.credential)
    while ctx.quota.take(plan.credential, limits, plan.id, "someone-else", 1).granted:
        pass


def refill(ctx, plan):
    ctx.redis.delete(ctx.keys.quota(plan.credential))


def delayed(redis, queue) -> list[dramatiq.Message]:
    """Every message held for `queue`'s delay queue (waiting or fetched by a consumer)."""
    return [dramatiq.Message.decode(raw) for raw in redis.hgetall(f"{NAMESPACE}:{queue}.DQ.msgs").values()]


@pytest.fixture
def current():
    """Run an actor function as Dramatiq would: with its message as the current message."""
    middleware = CurrentMessage()

    def set_message(message: dramatiq.Message) -> MessageProxy:
        proxy = MessageProxy(message)
        middleware.before_process_message(None, proxy)
        return proxy

    yield set_message
    middleware.after_process_message(None, None)


def park_first_page(ctx, plan, fake, current) -> tuple[dramatiq.Message, dramatiq.Message]:
    """The first page meets an empty bucket and is parked: (the original, its parked copy)."""
    exhaust(ctx, plan)
    message = page_message(plan)
    current(message)
    actors.fetch_page(message.args[0])
    (parked,) = queued(fake, "pages.DQ")
    return message, parked


def page_message(plan, retries: int | None = None) -> dramatiq.Message:
    message = messages.build(PageTask(harvest_id=plan.id, window=WINDOW, page=0))
    if retries is not None:
        message = message.copy(options={"retries": retries})
    return message


# --- direct ------------------------------------------------------------------------------------


@pytest.mark.limits(daily_requests=2)
def test_fetch_page_parks_on_empty_bucket(global_context, plan, tiktok, fake, current):
    ctx = global_context
    exhaust(ctx, plan)
    message = page_message(plan, retries=2)
    current(message)
    before = time.time() * 1000
    actors.fetch_page(message.args[0])  # handled, no exception: the original is acknowledged

    assert tiktok.research_calls() == []
    assert queued(fake, "pages") == []
    (parked,) = queued(fake, "pages.DQ")
    assert parked.message_id == message.message_id  # keeps its lease
    assert parked.queue_name == "pages.DQ" and parked.actor_name == "fetch_page"
    assert parked.args == message.args
    assert parked.options["retries"] == 2  # no retry burnt
    wait_ms = seconds_to_midnight(ctx.settings.quota_clock_offset_s) * 1000
    assert before + wait_ms - 5000 <= parked.options["eta"] <= before + wait_ms + actors.PARK_JITTER_S[1] * 1000 + 5000

    assert fake.smembers(ctx.keys.parked(plan.id)) == {b"page:20240101-20240131:00000"}
    status = ctx.store.status(plan.id)
    assert (status.state, status.quota_waits, status.errors, status.requests) == ("waiting_for_quota", 1, 0, 0)


@pytest.mark.limits(daily_requests=2)
def test_parked_page_wakes_with_its_lease_and_runs(global_context, plan, tiktok, fake, current):
    ctx = global_context
    message, parked = park_first_page(ctx, plan, fake, current)

    refill(ctx, plan)  # a new day
    tiktok.add_video("20240101", "20240131", None, page_body([video(1)], cursor=100, has_more=False))
    woken = parked.copy(queue_name="pages")
    current(woken)
    actors.fetch_page(woken.args[0])
    assert len(tiktok.research_calls()) == 1
    assert ctx.store.is_done(plan.id, "page:20240101-20240131:00000")
    assert fake.smembers(ctx.keys.parked(plan.id)) == set()
    assert ctx.store.status(plan.id).state == "running"  # the author is still to be answered


@pytest.mark.limits(daily_requests=2)
def test_original_coming_back_after_a_crash_while_parking_is_dropped(global_context, plan, tiktok, fake, current):
    """The worker died after sending the parked copy, before acknowledging the original: the
    original comes back, but the lease went to the copy, so only the copy fetches the page."""
    ctx = global_context
    message, parked = park_first_page(ctx, plan, fake, current)
    assert parked.options["lease_token"] != message.message_id

    refill(ctx, plan)
    tiktok.add_video("20240101", "20240131", None, page_body([video(1)], cursor=100, has_more=False))
    current(message)  # the original, redelivered
    actors.fetch_page(message.args[0])
    assert tiktok.research_calls() == [] and queued(fake, "pages.DQ") == [parked]

    woken = parked.copy(queue_name="pages")
    current(woken)
    actors.fetch_page(woken.args[0])
    assert len(tiktok.research_calls()) == 1
    assert ctx.store.is_done(plan.id, "page:20240101-20240131:00000")


@pytest.mark.limits(daily_requests=2)
def test_fetch_user_parks_on_empty_bucket(global_context, plan, tiktok, fake, current):
    ctx = global_context
    exhaust(ctx, plan)
    message = messages.build(UserTask(harvest_id=plan.id, username="alice"))
    current(message)
    actors.fetch_user(message.args[0])
    assert queued(fake, "users") == []
    (parked,) = queued(fake, "users.DQ")
    assert parked.message_id == message.message_id and parked.actor_name == "fetch_user"
    assert "retries" not in parked.options
    assert fake.smembers(ctx.keys.parked(plan.id)) == {b"user:alice"}
    assert ctx.store.status(plan.id).state == "waiting_for_quota"


def test_park_delay_is_the_wait_plus_jitter_and_capped(global_context, plan, fake, monkeypatch):
    ctx = global_context
    message = page_message(plan)
    monkeypatch.setattr(actors.random, "uniform", lambda low, high: high)
    before = time.time() * 1000
    actors._park(ctx, plan.id, "page:x", message, QuotaWait(30))  # jitter: a tenth of the wait
    actors._park(ctx, plan.id, "page:y", message, QuotaWait(1))  # at least half a second
    actors._park(ctx, plan.id, "page:z", message, QuotaWait(3600))  # at most three seconds
    actors._park(ctx, plan.id, "page:w", message, QuotaWait(30 * 86400))
    after = time.time() * 1000
    delays = sorted(m.options["eta"] for m in queued(fake, "pages.DQ"))
    for eta, expected_s in zip(delays[:3], (1.5, 33, 3603), strict=True):
        assert before + expected_s * 1000 - 1000 <= eta <= after + expected_s * 1000
    assert actors.MAX_PARK_S * 1000 - 1000 <= delays[3] - before <= actors.MAX_PARK_S * 1000 + 1000
    assert ctx.store.status(plan.id).quota_waits == 4


# --- through a real Dramatiq worker ---------------------------------------------------------------




@pytest.mark.limits(daily_requests=2)
def test_worker_parks_message_acks_original_and_keeps_retries(worker_broker, ctx, plan, tiktok, fake):
    exhaust(ctx, plan)
    sent = messages.send(worker_broker, PageTask(harvest_id=plan.id, window=WINDOW, page=0))
    run_worker(worker_broker, lambda: delayed(fake, "pages"))

    (parked,) = delayed(fake, "pages")
    assert parked.message_id == sent.message_id
    assert parked.options.get("retries", 0) == 0
    assert fake.hlen(f"{NAMESPACE}:pages.msgs") == 0  # the original was acknowledged ...
    assert fake.zcard(f"{NAMESPACE}:pages.XQ") == 0  # ... not dead-lettered
    assert tiktok.research_calls() == []
    status = ctx.store.status(plan.id)
    assert (status.state, status.quota_waits, status.dead_letters) == ("waiting_for_quota", 1, 0)


def test_every_log_line_of_a_units_life_names_harvest_unit_window_page_and_credential(
        global_context, plan, tiktok, fake, current):
    ctx = global_context
    exhaust(ctx, plan)
    message = page_message(plan)
    current(message)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        actors.fetch_page(message.args[0])  # parked for quota
        refill(ctx, plan)
        tiktok.add_video("20240101", "20240131", None, page_body([video(1)], cursor=1, has_more=False))
        (parked,) = queued(fake, "pages.DQ")
        current(parked)
        actors.fetch_page(parked.args[0])  # stored
    assert {line["event"] for line in lines} >= {"parked_for_quota"}
    for line in lines:
        assert (line["harvest"], line["window"], line["page"], line["credential"]) == (
            plan.id, WINDOW, 0, plan.credential), line
        assert line["unit"] == f"page:{WINDOW}:00000"
        assert CLIENT_SECRET not in repr(line)


def test_fair_share_waits_that_repeat_back_off(global_context, plan, fake, current, monkeypatch):
    """A message that keeps meeting the fair share asks after 1, 2, 4 ... 30 s, not every second."""
    ctx = global_context
    monkeypatch.setattr(ctx.quota, "take", lambda *args, **kwargs: Grant(False, 0, 1.0, 50, 5000, "fair_share"))
    message, delays = page_message(plan), []
    for _ in range(7):
        current(message)
        before_ms = time.time() * 1000
        actors.fetch_page(message.args[0])
        (parked,) = [m for m in delayed(fake, "pages") if m.options["predecessor"] == actors.lease_token(message)]
        delays.append((parked.options["eta"] - before_ms) / 1000)
        message = parked
    for waited, expected in zip(delays, (1, 2, 4, 8, 16, 30, 30), strict=True):
        assert expected - 0.1 <= waited <= expected + 3.2, delays  # plus up to a tenth (1 to 10 s) of jitter
    assert message.options["fair_waits"] == 7
