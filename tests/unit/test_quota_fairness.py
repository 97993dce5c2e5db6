"""Harvests sharing a credential share its day: the bucket's fair-share rule."""

import datetime as dt
import itertools
import math
import random
import time

import pytest

from core.harvests import Harvests
from core.keys import Keys
from schemas.credentials import Credential
from tests.unit.conftest import noon_offset
from workers.quota import QuotaBucket
from workers.quota import bucket as quota_module

LIMITS = Credential(project="p", client_key="k", client_secret="s", access_start=dt.date(2025, 1, 1),
                    access_end=dt.date(2026, 12, 31), daily_requests=100, daily_records=100_000)


@pytest.fixture
def bucket(fake):
    return QuotaBucket(fake, Keys("fair"), clock_offset_s=noon_offset())


UNITS = itertools.count()


def take(bucket, harvest):
    """One request for a new unit of `harvest`."""
    return bucket.take("cred", LIMITS, harvest, f"page:{next(UNITS)}", 100)


def spend_until_refused(bucket, harvest) -> int:
    granted = 0
    while take(bucket, harvest).granted:
        granted += 1
    return granted


def test_a_harvest_alone_spends_the_whole_day(bucket):
    assert spend_until_refused(bucket, "a") == 100


def test_an_eager_harvest_leaves_half_the_day_to_one_that_asks_less_often(bucket):
    rng = random.Random(3)
    shares = {"a": 0, "b": 0}
    for _ in range(2000):
        harvest = "a" if rng.random() < 0.9 else "b"  # a asks nine times as often
        shares[harvest] += take(bucket, harvest).granted
    assert sum(shares.values()) == 100
    assert abs(shares["a"] - shares["b"]) <= 1, shares


def test_three_harvests_converge_on_equal_shares(bucket):
    shares = {"a": sum(take(bucket, "a").granted for _ in range(20)), "b": 0, "c": 0}
    assert shares["a"] == 20  # b and c arrive after a has run alone for a while
    for _ in range(300):
        for harvest in ("a", "b", "b", "c"):
            shares[harvest] += take(bucket, harvest).granted
    assert sum(shares.values()) == 100
    assert max(shares.values()) - min(shares.values()) <= 1, shares


def test_a_late_harvest_gets_what_is_left_when_the_first_has_had_its_share(bucket, fake):
    spend_until_refused(bucket, "a")  # alone: the whole day
    assert not take(bucket, "b").granted
    assert int(fake.hget(Keys("fair").quota("cred"), "requests")) == 100


def test_refusal_for_fairness_is_short_and_says_so_apart_from_an_empty_day(bucket):
    take(bucket, "b")
    spend_until_refused(bucket, "a")
    refused = take(bucket, "a")
    assert not refused.granted
    assert refused.wait_s == quota_module.FAIR_WAIT_S and refused.why == "fair_share"
    assert refused.requests_left > 0
    assert spend_until_refused(bucket, "b") > 0  # what a had to leave goes to b
    empty = take(bucket, "b")
    assert not empty.granted and empty.wait_s > 3600 and empty.why == "day_spent"  # now the day itself is spent


def test_the_harvest_furthest_behind_may_always_take(bucket):
    for _ in range(33):
        assert all(take(bucket, harvest).granted for harvest in "abc")
    # One request left and no room for anyone to run ahead of the others: the last request
    # still goes out, and nobody waits for a day that is spent.
    assert take(bucket, "b").granted
    assert all(take(bucket, harvest).wait_s > 3600 for harvest in "abc")


def test_a_harvest_that_stopped_asking_no_longer_holds_the_others_back(fake):
    early = QuotaBucket(fake, Keys("fair"), clock_offset_s=noon_offset())
    take(early, "b")
    later = QuotaBucket(fake, Keys("fair"), clock_offset_s=noon_offset() + quota_module.ACTIVE_S + 1)
    assert spend_until_refused(later, "a") == 99


def test_a_finished_harvest_leaves_at_once(bucket, fake):
    take(bucket, "b")
    first = spend_until_refused(bucket, "a")
    Harvests(fake, Keys("fair")).leave_quota("b")
    assert first + spend_until_refused(bucket, "a") == 99


def test_a_request_given_back_unsent_comes_off_the_harvests_share(bucket, fake):
    take(bucket, "b")
    grant = bucket.take("cred", LIMITS, "a", "page:x", 100)
    assert grant.granted
    bucket.settle("cred", "a", "page:x", "page:x", 0, unsent=True)
    shares_key = next(iter(fake.scan_iter("fair:quota:cred:shares:*")))
    assert int(fake.hget(shares_key, "a")) == 0
    assert int(fake.hget(shares_key, "b")) == 1
    bucket.settle("cred", "a", "page:x", "page:x", 0, unsent=True)  # repeated: nothing more comes off
    assert int(fake.hget(shares_key, "a")) == 0


def at(fake, hh: int, mm: int, ss: int = 0) -> QuotaBucket:
    """The bucket as seen at hh:mm:ss UTC today."""
    now = time.time()
    return QuotaBucket(fake, Keys("fair"), clock_offset_s=(now // 86400) * 86400 + hh * 3600 + mm * 60 + ss - now)


BIG_DAY = Credential(project="p", client_key="k", client_secret="s", access_start=dt.date(2025, 1, 1),
                     access_end=dt.date(2026, 12, 31), daily_requests=1000, daily_records=1_000_000)


def test_a_slow_harvest_holds_back_only_what_it_can_use_before_midnight(fake):
    """The review's case: a took 100 and now asks once every couple of minutes; b, eager, is
    no longer stopped level with a while 400 requests would lie idle at midnight."""
    def grant(bucket, harvest) -> bool:
        return bucket.take("cred", BIG_DAY, harvest, f"page:{next(UNITS)}", 1).granted

    early = at(fake, 20, 0)
    assert all(grant(early, "a") for _ in range(100))
    assert grant(at(fake, 22, 59, 0), "a")  # a's pace now: one request in the last minute
    late = at(fake, 22, 59, 30)
    b = 0
    while grant(late, "b"):
        b += 1
    # a's pace is taken as one request per ACTIVE_S at least (it asked once lately) for the
    # 60.5 minutes left, times 1.5, plus 3: 40 held for it, where the old rule held back a whole
    # catch-up (b would have stopped level with a, near 450).
    held_for_a = math.ceil(3630 / quota_module.ACTIVE_S * 1.5) + 3
    assert b == 1000 - 101 - held_for_a
    assert sum(grant(late, "a") for _ in range(held_for_a + 5)) == held_for_a  # a gets what was held


def test_a_harvest_asking_as_often_as_the_others_still_gets_an_equal_share(fake):
    bucket = at(fake, 12, 0)
    shares = {"a": 0, "b": 0}
    for _ in range(1500):
        for harvest in ("a", "b", "b"):  # b asks twice as often, a keeps asking
            shares[harvest] += bucket.take("cred", BIG_DAY, harvest, f"page:{next(UNITS)}", 1).granted
    assert sum(shares.values()) == 1000 and abs(shares["a"] - shares["b"]) <= 1, shares
