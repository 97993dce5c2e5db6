"""TikTok down is not a window too big. When calls of several units fail and none succeeds in
between, the credential stops spending: the units wait (no retry burnt, nothing split), one
probe goes out per interval, backing off while probes fail, and the first answer from TikTok
ends it. A window is split only on evidence tied to it: its calls fail while others succeed."""

import httpx
import pytest

from schemas.messages import PageTask
from tests.unit.conftest import error_body, page_body, queued, video
from tests.unit.page_helpers import bucket, response
from workers.pages import handle_page
from workers.quota.bucket import FIRST_PROBE_S, MAX_PROBE_S, OUTAGE_AFTER_UNITS
from workers.tiktok.errors import QuotaWait, ServerSideError, Unreachable

PERIOD = "20240101-20240331"  # three windows: three chains at once
WINDOWS = {"20240301-20240331": ("20240301", "20240331"), "20240130-20240229": ("20240130", "20240229"),
           "20240101-20240129": ("20240101", "20240129")}


def down() -> httpx.Response:
    return response(503, error_body("internal_error", "Service Unavailable"))


def first_pages(plan) -> list[PageTask]:
    return [PageTask(plan.id, window, 0) for window in WINDOWS]


def script(tiktok, window: str, *answers) -> None:
    start, end = WINDOWS[window]
    tiktok.add_video(start, end, None, *answers)


def let_probe_go(ctx, plan) -> None:
    """The probe interval passes (the bucket's clock is Redis TIME; move the deadline instead)."""
    ctx.redis.hset(ctx.keys.quota(plan.credential), "probe_at", 0)


@pytest.fixture
def three(make_plan):
    return make_plan(period=PERIOD)


def test_failures_across_units_mean_an_outage_and_the_units_wait_instead_of_retrying(ctx, three, tiktok, fake):
    plan = three
    for window in WINDOWS:
        script(tiktok, window, down())
    tasks = first_pages(plan)
    for task in tasks[:OUTAGE_AFTER_UNITS - 1]:
        with pytest.raises(ServerSideError) as caught:  # one failing unit could be its own problem
            handle_page(ctx, task, "m", 0)
        assert not caught.value.isolated or task is tasks[0]
    with pytest.raises(QuotaWait) as waited:
        handle_page(ctx, tasks[OUTAGE_AFTER_UNITS - 1], "m", 0)
    assert waited.value.why == "api_down" and waited.value.wait_s == pytest.approx(FIRST_PROBE_S, abs=0.1)

    # Every other call waits for the probe, without a request.
    requests = bucket(ctx, plan).requests_used
    with pytest.raises(QuotaWait) as waited:
        handle_page(ctx, tasks[0], "m", 1)
    assert waited.value.why == "api_down"
    assert FIRST_PROBE_S <= waited.value.wait_s <= FIRST_PROBE_S * 1.5 + 0.1  # after the probe's answer
    assert bucket(ctx, plan).requests_used == requests
    assert all(ctx.store.window_state(plan.id, w) == "open" for w in WINDOWS)  # nothing split
    # What `status` shows of the credential: TikTok looks down, and when the next probe goes.
    view = bucket(ctx, plan)
    assert 0 < view.tiktok_down_for_s < 5 and 0 < view.next_probe_in_s <= FIRST_PROBE_S


def test_probes_back_off_while_they_fail_and_one_answer_ends_the_outage(ctx, three, tiktok, fake):
    plan = three
    tasks = first_pages(plan)
    for window in WINDOWS:
        script(tiktok, window, down())
    for task in tasks:
        with pytest.raises((ServerSideError, QuotaWait)):
            handle_page(ctx, task, "m", 0)

    intervals = []
    for _ in range(7):  # the probe goes out, fails, and the next one waits twice as long
        let_probe_go(ctx, plan)
        script(tiktok, "20240301-20240331", down())
        with pytest.raises(QuotaWait) as caught:
            handle_page(ctx, tasks[0], "m", 0)
        intervals.append(round(caught.value.wait_s))
    assert intervals == [4, 8, 16, 32, 60, 60, 60]
    assert MAX_PROBE_S == 60

    let_probe_go(ctx, plan)
    script(tiktok, "20240301-20240331", page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, tasks[0], "m", 0)  # the probe gets an answer: TikTok is back
    assert ctx.store.is_done(plan.id, tasks[0].unit)
    assert bucket(ctx, plan).tiktok_down_for_s == 0
    script(tiktok, "20240130-20240229", page_body([video(2)], cursor=100, has_more=False))
    handle_page(ctx, tasks[1], "m", 0)  # and everyone goes ahead at once
    assert ctx.store.is_done(plan.id, tasks[1].unit)
    assert ctx.store.status(plan.id).dead_letters == 0


def test_a_window_failing_while_others_succeed_is_split(ctx, three, tiktok, fake):
    plan = three
    big, *others = first_pages(plan)
    script(tiktok, big.window, *(down() for _ in range(4)))
    script(tiktok, others[0].window, page_body([video(1)], cursor=100, has_more=True, search_id="S"))
    script(tiktok, others[1].window, page_body([video(2)], cursor=100, has_more=True, search_id="T"))
    for retries in range(3):
        with pytest.raises(ServerSideError):
            handle_page(ctx, big, "m", retries)
        if retries < 2:
            handle_page(ctx, others[retries], "m", 0)  # TikTok answers the others meanwhile
    handle_page(ctx, big, "m", 3)  # failing on its own: split
    assert ctx.store.window_state(plan.id, big.window) == "split"


def test_a_window_is_not_split_while_every_unit_fails(ctx, three, tiktok, fake):
    plan = three
    tasks = first_pages(plan)[:2]  # two units failing in turn: below an outage, but no evidence either
    for task in tasks:
        script(tiktok, task.window, *(down() for _ in range(4)))
    for retries in range(4):
        for task in tasks:
            with pytest.raises(ServerSideError) as caught:
                handle_page(ctx, task, "m", retries)
    assert caught.value.isolated is False
    assert all(ctx.store.window_state(plan.id, task.window) == "open" for task in tasks)
    assert queued(fake, "pages") == []


def test_our_own_connection_failures_cost_no_quota_and_split_nothing(ctx, three, tiktok, fake):
    plan = three
    task = first_pages(plan)[0]
    script(tiktok, task.window, *(httpx.ConnectError("refused") for _ in range(2)))
    for retries in (3, 4):
        with pytest.raises(Unreachable):
            handle_page(ctx, task, "m", retries)
    assert bucket(ctx, plan).requests_used == 0  # never sent: given back
    assert ctx.store.window_state(plan.id, task.window) == "open"


def test_the_token_endpoint_down_counts_as_tiktok_down(ctx, three, tiktok, fake):
    plan = three
    failing = [response(503, b"<html>down</html>") for _ in range(OUTAGE_AFTER_UNITS)]
    tiktok.tokens.extend(failing)
    whys = []
    for task in first_pages(plan):
        try:
            handle_page(ctx, task, "m", 0)
        except QuotaWait as wait:
            whys.append(wait.why)
        except Exception as error:
            whys.append(type(error).__name__)
    assert whys == ["TokenUnavailable", "TokenUnavailable", "api_down"]
    assert bucket(ctx, plan).requests_used == 0 and tiktok.research_calls() == []
