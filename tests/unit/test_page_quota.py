"""Pages and the quota bucket: waiting for quota, 429 streaks, refunds, the day spent
to the last request, the reset at UTC midnight."""

import time

import pytest

from tests.unit.conftest import (
    CREDENTIAL,
    bucket_day,
    error_body,
    files,
    page_body,
    page_tasks,
    queued,
    seconds_to_midnight,
    take,
    video,
)
from tests.unit.page_helpers import (
    END,
    START,
    bucket,
    exhaust_bucket,
    first,
    response,
    source,
)
from workers.pages import handle_page
from workers.quota import QuotaBucket
from workers.quota.bucket import RESET_MARGIN_S
from workers.tiktok.errors import QuotaWait, ServerSideError

# --- quota ---------------------------------------------------------------------------------------


@pytest.mark.limits(daily_requests=3)
def test_empty_bucket_waits_before_any_research_call(ctx, plan, tiktok, fake):
    ctx.tokens.get(plan.credential, ctx.credentials.get(plan.credential))  # the fleet already has a token
    exhaust_bucket(ctx, plan)
    calls = len(tiktok.calls)
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, first(plan), "m0", 0)
    assert len(tiktok.calls) == calls and caught.value.why == "day_spent"  # no HTTP call at all
    assert abs(caught.value.wait_s - seconds_to_midnight(ctx.settings.quota_clock_offset_s)) < 5
    assert files(source(ctx, plan)) == {} and queued(fake, "pages") == []
    assert not ctx.store.is_done(plan.id, first(plan).unit)
    status = ctx.store.status(plan.id)
    assert (status.requests, status.errors) == (0, 0)


@pytest.mark.limits(daily_requests=3)
def test_empty_bucket_waits_before_even_a_token_request(ctx, plan, tiktok, fake):
    # Was a (minor) bug: paid_call fetched the token before taking quota.
    exhaust_bucket(ctx, plan)
    with pytest.raises(QuotaWait):
        handle_page(ctx, first(plan), "m0", 0)
    assert tiktok.calls == []


def test_429_pauses_briefly_then_three_in_a_row_spend_the_credential(ctx, plan, tiktok, fake):
    limited = response(429, error_body("rate_limit_exceeded", "API rate limit exceeded"))
    tiktok.add_video(START, END, None, limited, limited, limited)
    waits = []
    for _ in range(3):
        with pytest.raises(QuotaWait) as caught:
            handle_page(ctx, first(plan), "m0", 0)  # the parked message comes back with the same id
        waits.append(caught.value.wait_s)
        assert caught.value.why == "throttled"
    assert waits[:2] == [5, 30]
    assert abs(waits[2] - (seconds_to_midnight(ctx.settings.quota_clock_offset_s) + RESET_MARGIN_S)) < 5
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (3, 0)  # every 429 cost a request, no records
    assert abs(view.spent_for_s - (seconds_to_midnight(ctx.settings.quota_clock_offset_s) + RESET_MARGIN_S)) < 5
    # the credential is now spent: the next attempt waits without calling TikTok
    calls = len(tiktok.calls)
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, first(plan), "m0", 0)
    assert len(tiktok.calls) == calls and caught.value.why == "throttled"
    assert abs(caught.value.wait_s - (seconds_to_midnight(ctx.settings.quota_clock_offset_s) + RESET_MARGIN_S)) < 5
    assert ctx.store.status(plan.id).errors == 0  # waiting is not failing


def test_one_burst_of_429s_across_the_fleet_does_not_spend_the_day(ctx, make_plan, tiktok, fake):
    plan = make_plan(period="20240101-20240331")  # three windows: three chains in parallel
    limited = response(429, error_body("rate_limit_exceeded", "API rate limit exceeded"))
    waits = []
    for window in plan.windows:
        start, end = window.split("-")
        tiktok.add_video(start, end, None, limited)
        with pytest.raises(QuotaWait) as caught:
            handle_page(ctx, first(plan, window), f"m-{window}", 0)
        waits.append(caught.value.wait_s)
    assert max(waits) <= 30  # short-term throttling: a pause, not the rest of the day
    assert bucket(ctx, plan).spent_for_s == 0


def test_a_success_ends_the_429_streak(ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    limited = response(429, error_body("rate_limit_exceeded"))
    tiktok.add_video(START, END, None, limited, limited,
                     page_body([video(1)], cursor=100, has_more=True, search_id="S"))
    tiktok.add_video(START, END, 100, limited)
    for _ in range(2):
        with pytest.raises(QuotaWait):
            handle_page(ctx, first(plan), "m0", 0)
    handle_page(ctx, first(plan), "m0", 0)
    (task,) = page_tasks(take(fake, "pages"))
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, task, "m1", 0)
    assert caught.value.wait_s == 5  # a fresh streak: a short pause, not the rest of the day
    assert bucket(ctx, plan).spent_for_s == 0


def test_reserved_records_are_refunded_to_what_the_page_used(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None,
                     page_body([video(3), video(2), video(1)], cursor=100, has_more=True, search_id="S"))
    handle_page(ctx, first(plan), "m0", 0)
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (1, 3)
    assert fake.hgetall(ctx.keys.reservations(CREDENTIAL, bucket_day(ctx.settings.quota_clock_offset_s))) == {}


def test_failed_call_refunds_all_reserved_records(ctx, plan, tiktok, fake):
    tiktok.add_video(START, END, None, response(500, error_body("internal_error")))
    with pytest.raises(ServerSideError):
        handle_page(ctx, first(plan), "m0", 0)
    view = bucket(ctx, plan)
    assert (view.requests_used, view.records_used) == (1, 0)


@pytest.mark.limits(daily_records=40)
def test_a_page_waits_for_a_full_page_of_records(ctx, plan, tiktok, fake):
    # A search whose page size changed midway may be refused, so a page never asks for less
    # than max_count; the day's remainder is left to profile calls (1 record each).
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=True, search_id="S"))
    with pytest.raises(QuotaWait) as caught:
        handle_page(ctx, first(plan), "m0", 0)
    assert caught.value.wait_s > 0
    assert tiktok.research_calls() == []
    assert (bucket(ctx, plan).requests_used, bucket(ctx, plan).records_used) == (0, 0)


@pytest.mark.limits(daily_requests=3)
def test_the_day_is_spent_to_the_last_request_never_one_over(ctx, make_plan, tiktok, fake):
    plan = make_plan(period="20240101-20240430", collect=["videos"])  # four windows
    assert len(plan.windows) == 4
    for n, window in enumerate(plan.windows):
        start, end = window.split("-")
        tiktok.add_video(start, end, None, page_body([video(n)], cursor=100, has_more=False))
    for window in plan.windows[:3]:
        handle_page(ctx, first(plan, window), f"m-{window}", 0)
    with pytest.raises(QuotaWait):
        handle_page(ctx, first(plan, plan.windows[3]), "m-last", 0)
    assert len(tiktok.research_calls()) == 3
    view = bucket(ctx, plan)
    assert (view.requests_used, view.requests_left) == (3, 0)


@pytest.mark.limits(daily_requests=2)
def test_bucket_reopens_at_utc_midnight_and_old_reservations_refund_nothing(ctx, plan, fake):
    limits = ctx.credentials.get(plan.credential)
    now = time.time()
    before_midnight = (now // 86400 + 1) * 86400 - 1.0 - now  # 23:59:59 UTC by the bucket's clock
    late = QuotaBucket(fake, ctx.keys, clock_offset_s=before_midnight)
    assert late.take(plan.credential, limits, plan.id, "u1", 100).granted
    assert late.take(plan.credential, limits, plan.id, "u2", 100).granted
    refused = late.take(plan.credential, limits, plan.id, "u3", 100)
    assert not refused.granted and 0 < refused.wait_s <= 1.0
    after = QuotaBucket(fake, ctx.keys, clock_offset_s=before_midnight + 2.0)  # 00:00:01, the next day
    grant = after.take(plan.credential, limits, plan.id, "u3", 100)
    assert grant.granted and (grant.requests_left, grant.records_left) == (1, limits.daily_records - 100)
    # yesterday's reservation: nothing to give back today
    assert after.settle(plan.credential, plan.id, "u1", "u1", 0) == 0
    assert after.peek(plan.credential, limits).records_used == 100


def test_a_call_whose_worker_died_before_settling_keeps_its_records_counted(ctx, plan, tiktok, fake, monkeypatch):
    """TikTok served a page, the worker died before the answer was stored; the page is
    called again and served again. The bucket counts both pages' records: the second
    settle refunds only what its own take reserved beyond its own page."""
    full = page_body([video(n) for n in range(1, 101)], cursor=100, has_more=False)
    tiktok.add_video(START, END, None, full, full)

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed before the answer was stored")

    write_raw = ctx.storage.write_raw
    monkeypatch.setattr(ctx.storage, "write_raw", killed)
    with pytest.raises(RuntimeError):
        handle_page(ctx, first(plan), "m0", 0)
    monkeypatch.setattr(ctx.storage, "write_raw", write_raw)
    handle_page(ctx, first(plan), "m0", 1)  # redelivered: calls again
    view = bucket(ctx, plan)
    assert len(tiktok.research_calls()) == 2
    assert (view.requests_used, view.records_used) == (2, 200)  # what TikTok served, never less
