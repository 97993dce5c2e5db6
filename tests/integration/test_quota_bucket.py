"""The shared quota bucket on the real Redis, under 8 concurrent processes."""

import datetime as dt
import multiprocessing
import time

import pytest
import redis

from core.keys import Keys
from schemas.credentials import Credential
from workers.quota import QuotaBucket

pytestmark = pytest.mark.integration
LIMITS = Credential(project="p", client_key="k", client_secret="s", access_start=dt.date(2025, 1, 1),
                    access_end=dt.date(2026, 12, 31), daily_requests=300, daily_records=20_000)


def _hammer(url, namespace, offset_s, want, until_s, results, harvest="h"):
    """Take from the bucket as fast as possible for `until_s` seconds."""
    bucket = QuotaBucket(redis.Redis.from_url(url), Keys(namespace), clock_offset_s=offset_s)
    granted_requests = granted_records = refused = 0
    deadline = time.monotonic() + until_s
    n = 0
    while time.monotonic() < deadline:
        n += 1
        grant = bucket.take("cred", LIMITS, harvest, f"unit-{multiprocessing.current_process().pid}-{n}", want)
        if grant.granted:
            granted_requests += 1
            granted_records += grant.records
        else:
            refused += 1
            assert grant.wait_s > 0
    results.put((harvest, granted_requests, granted_records, refused))


def run_processes(url, namespace, *, processes=8, offset_s=0.0, want=50, seconds=2.0, harvests=("h",),
                  by_harvest=False):
    """`processes` processes hammer the bucket, spread over `harvests`; the totals (by harvest)."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    workers = [ctx.Process(target=_hammer, args=(url, namespace, offset_s, want, seconds, results,
                                                 harvests[n % len(harvests)]))
               for n in range(processes)]
    for worker in workers:
        worker.start()
    totals = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    if by_harvest:
        return {harvest: sum(row[1] for row in totals if row[0] == harvest) for harvest in harvests}
    return [sum(column) for column in zip(*(row[1:] for row in totals), strict=True)]


def seconds_to_midnight(client) -> float:
    now_s, now_us = client.time()
    now = now_s + now_us / 1e6
    return (now // 86400 + 1) * 86400 - now


def test_eight_processes_never_get_more_than_the_daily_requests(redis_url, redis_client, namespace):
    offset = 0.0 if seconds_to_midnight(redis_client) > 60 else -3600  # stay inside one UTC day
    requests, records, refused = run_processes(redis_url, namespace, offset_s=offset, want=50, seconds=1.5)
    assert requests == LIMITS.daily_requests  # spent to the last request, never one over
    assert records == LIMITS.daily_requests * 50
    assert refused > 0


def test_records_limit_is_spent_to_the_last_record(redis_url, redis_client, namespace):
    offset = 0.0 if seconds_to_midnight(redis_client) > 60 else -3600
    # 20,000 records at 100 a call would need 200 calls of the 300 allowed: records run out first.
    requests, records, _ = run_processes(redis_url, namespace, offset_s=offset, want=97, seconds=1.5)
    assert records == LIMITS.daily_records
    assert requests == -(-LIMITS.daily_records // 97)  # the last call gets the remainder


def test_bucket_resets_at_utc_midnight_by_the_redis_clock(redis_url, redis_client, namespace):
    # Shift the bucket's clock (Redis TIME + offset) to 1.5 s before a UTC midnight: eight
    # processes spend the old day, cross midnight, and spend the new day — exactly once each.
    offset = seconds_to_midnight(redis_client) - 1.5
    requests, _, refused = run_processes(redis_url, namespace, offset_s=offset, want=10, seconds=3.0)
    assert requests == 2 * LIMITS.daily_requests
    assert refused > 0
    bucket = QuotaBucket(redis_client, Keys(namespace), clock_offset_s=offset)
    view = bucket.peek("cred", LIMITS)
    assert view.requests_used == LIMITS.daily_requests and view.requests_left == 0
    assert view.reset_in_s > 86400 - 10  # the new day has just begun


def test_refund_gives_back_unused_records_once(redis_client, namespace):
    bucket = QuotaBucket(redis_client, Keys(namespace))
    grant = bucket.take("cred", LIMITS, "h", "page-1", 100)
    assert grant.granted and grant.records == 100
    assert bucket.settle("cred", "h", "page-1", "page-1", 37) == 63
    assert bucket.settle("cred", "h", "page-1", "page-1", 37) == 0  # repeated settle refunds nothing
    assert bucket.peek("cred", LIMITS).records_used == 37


def test_two_harvests_split_the_day_evenly_however_unevenly_they_ask(redis_url, redis_client, namespace):
    offset = 0.0 if seconds_to_midnight(redis_client) > 60 else -3600
    bucket = QuotaBucket(redis_client, Keys(namespace), clock_offset_s=offset)
    for harvest in ("a", "b"):  # both are known to the bucket before the race starts
        assert bucket.take("cred", LIMITS, harvest, "first", 1).granted
    # Seven processes ask for harvest a, one for harvest b.
    shares = run_processes(redis_url, namespace, offset_s=offset, want=1, seconds=1.5, harvests=("a",) * 7 + ("b",),
                           by_harvest=True)
    assert shares["a"] + shares["b"] + 2 == LIMITS.daily_requests  # never one over
    assert abs(shares["a"] - shares["b"]) <= 1, shares
