"""The quota bucket (workers/quota) driven by random sequences of takes, settles, crashed
calls, 429 pauses and UTC day changes over several credentials and harvests, against a model
of it in Python. After every step the bucket's Redis state must equal the model's:

- the requests a credential granted on a day never exceed its daily limit, nor the records
  it granted net of refunds its records limit;
- a settle refunds at most what its own reservation reserved beyond the records used, and a
  reservation settled twice refunds once;
- no refund is lost and none is invented: the day's counts are the sum over that day's
  reservations of what each was granted less what it gave back (a call whose worker died
  before settling counts whole);
- a take is refused only for a reason the model shares (day spent, 429 pause, fair share),
  so the day is spent to the last request.

The clock only jumps (days or hours), and every time of day it lands on is minutes away from
any boundary (midnight, the 429 margin and grace, a harvest's activity), so real time
passing during a run never changes an outcome.
"""

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import fakeredis
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core.keys import Keys
from schemas.credentials import Credential
from workers.quota import QuotaBucket
from workers.quota.bucket import ACTIVE_S, FAIR_WAIT_S, GRACE_PAUSE_S, GRACE_S, RESET_MARGIN_S

DAY = 86400
BUCKETS = ("k1", "k2", "k2#follows")
HARVESTS = ("h1", "h2", "h3")
# Times of day the clock lands on: inside the 429 margin after midnight, inside the grace hour,
# and well inside the day, at least a minute from every boundary the bucket knows.
TIMES_OF_DAY = (60, 200, 1800, 30_000, 43_200, 86_000)
# A call asking for quota: (bucket, harvest, records wanted, fewest records it can use).
CALLS = st.tuples(st.sampled_from(BUCKETS), st.sampled_from(HARVESTS), st.integers(1, 150), st.integers(1, 150))
TOLERANCE_S = 5.0  # real time passing between the model's reading of the clock and the script's
MAY_WAIT = "fair_share?"  # the bucket may refuse for the others' fair share, or grant


def limits(requests: int, records: int) -> Credential:
    return Credential(project="p", client_key="k", client_secret="s", access_start=dt.date(2025, 1, 1),
                      access_end=dt.date(2026, 12, 31), daily_requests=requests, daily_records=records)


@dataclass
class Reservation:
    name: str
    bucket: str
    harvest: str
    day: int
    granted: int
    state: str = "open"  # open, settled or crashed (its worker died: never settled)
    refunded: int = 0
    request_back: bool = False  # settled unsent: its request was given back too
    removed: bool = False  # settled on its own day: gone from that day's reservations


@dataclass
class ModelBucket:
    limits: Credential
    day: int | None = None  # the day its counts are for (None: never taken from)
    requests: int = 0
    records: int = 0
    spent_until: float = 0.0
    active: dict[str, float] = field(default_factory=dict)  # harvest -> when it last asked
    shares: dict[int, dict[str, int]] = field(default_factory=dict)  # day -> harvest -> requests


class BucketMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.redis: Any = fakeredis.FakeRedis()  # answers bytes
        self.keys = Keys("machine")
        self.model: dict[str, ModelBucket] = {}
        self.reservations: list[Reservation] = []
        self.offset = 0.0
        self.bucket: QuotaBucket

    def teardown(self):
        self.redis.close()

    # --- the clock ----------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def today(self) -> int:
        return int(self.now() // DAY)

    def set_clock(self, day: int, time_of_day: int) -> None:
        self.offset = day * DAY + time_of_day - time.time()
        self.bucket = QuotaBucket(self.redis, self.keys, clock_offset_s=self.offset)

    @initialize(
        budgets=st.tuples(*[st.tuples(st.integers(1, 8), st.integers(1, 400)) for _ in BUCKETS]),
        time_of_day=st.sampled_from(TIMES_OF_DAY),
        calls=st.lists(CALLS, min_size=1, max_size=6),
    )
    def start(self, budgets, time_of_day, calls):
        """Small daily limits (spent within a few steps), and the fleet's first calls: every
        sequence has reservations to settle, lose or carry past midnight."""
        self.model = {name: ModelBucket(limits(*budget)) for name, budget in zip(BUCKETS, budgets, strict=True)}
        self.set_clock(int(time.time() // DAY), time_of_day)
        self.take(calls)

    @rule(days=st.integers(0, 2), time_of_day=st.sampled_from(TIMES_OF_DAY))
    def move_clock(self, days, time_of_day):
        """Days ahead (past midnight UTC), or later the same day when `days` is 0."""
        day = self.today() + days
        if day * DAY + time_of_day <= self.now() + 300:  # never back, never a few seconds ahead
            day += 1
        self.set_clock(day, time_of_day)

    # --- what workers do ------------------------------------------------------------------------
    @rule(calls=st.lists(CALLS, min_size=1, max_size=4))
    def take(self, calls):
        """Calls of several harvests asking for quota one after the other."""
        for bucket, harvest, want, least in calls:
            self.take_one(bucket, harvest, want, min(least, want))  # a caller never needs more than it asks

    def take_one(self, bucket: str, harvest: str, want: int, least: int) -> None:
        name = f"r{len(self.reservations)}"
        refusal = self.must_refuse(bucket, harvest, least)
        grant = self.bucket.take(bucket, self.model[bucket].limits, harvest, name, want, least)
        m, limit = self.model[bucket], self.model[bucket].limits
        event(f"take: {grant.why or 'granted'}")
        if refusal is None or (refusal[0] == MAY_WAIT and grant.granted):
            assert grant.granted, f"refused ({grant.why}) though the harvest is the furthest behind or the " \
                                  "day holds enough for the others to catch up"
            expected = min(want, limit.daily_records - m.records)
            assert grant.records == expected, "a grant must be all that is wanted, or all that is left"
            m.requests += 1
            m.records += expected
            shares = m.shares[self.today()]
            shares[harvest] = shares.get(harvest, 0) + 1
            self.reservations.append(Reservation(name, bucket, harvest, self.today(), expected))
        else:
            why, wait_s = refusal
            assert not grant.granted and grant.why == why.strip("?"), f"{grant} where the model says {why}"
            assert abs(grant.wait_s - wait_s) < TOLERANCE_S, (grant.wait_s, wait_s)
        assert (grant.requests_left, grant.records_left) == (limit.daily_requests - m.requests,
                                                             limit.daily_records - m.records)

    def must_refuse(self, bucket: str, harvest: str, least: int) -> tuple[str, float] | None:
        """Why take.lua must refuse the call and how long it says to wait (MAY_WAIT: it may
        refuse it for the others' fair share, or grant it); None when it must grant. The
        model's day and the harvests' activity are moved on as the script moves them."""
        m, now, day = self.model[bucket], self.now(), self.today()
        m.active[harvest] = now
        m.active = {h: t for h, t in m.active.items() if t >= now - ACTIVE_S}
        if m.day != day:
            m.day, m.requests, m.records = day, 0, 0
        limit = m.limits
        if now < m.spent_until:
            return "throttled", m.spent_until - now
        if m.requests >= limit.daily_requests or limit.daily_records - m.records < least:
            return "day_spent", (day + 1) * DAY - now
        # Fair share: the harvest furthest behind always takes, and any harvest takes while the
        # requests left after it let every other active one catch up. Beyond that the bucket may
        # hold back less than the others' whole catch-up (no more than they can plausibly use
        # before the reset), so a grant is allowed there too.
        shares = m.shares.setdefault(day, {})
        mine = shares.get(harvest, 0)
        others = [shares.get(other, 0) for other in m.active if other != harvest]
        lead = sum(max(0, mine + 1 - theirs) for theirs in others)
        if any(theirs < mine for theirs in others) and limit.daily_requests - m.requests - 1 < lead:
            return MAY_WAIT, FAIR_WAIT_S
        return None

    def open_reservations(self) -> list[Reservation]:
        return [r for r in self.reservations if r.state == "open"]

    @rule(data=st.data(), how=st.sampled_from(["settle", "settle unsent", "crash"]))
    def end_call(self, data, how):
        """A call taken for ends: settled with the records its page used (unsent: it never went
        out, its request is given back too), or its worker dies before settling (a crash: the
        reservation is never settled)."""
        r = self.pick(data, self.open_reservations())
        if r is None:
            return
        if how == "crash":
            r.state = "crashed"
            return
        unsent = how == "settle unsent"
        used = data.draw(st.integers(0, r.granted))
        refund = self.bucket.settle(r.bucket, r.harvest, "unit", r.name, used, unsent=unsent,
                                    answered=data.draw(st.booleans()))
        r.state = "settled"
        assert 0 <= refund <= r.granted - used, "a settle gave back more than its reservation kept"
        m = self.model[r.bucket]
        event(f"{how}: {'same day' if r.day == self.today() else 'a later day'}")
        if r.day != self.today():  # the day it was for is over: its counters are gone
            assert refund == 0
            return
        assert refund == r.granted - used
        r.refunded, r.removed = refund, True
        m.records -= refund
        if unsent:
            r.request_back = True
            m.requests -= 1
            m.shares[r.day][r.harvest] -= 1

    @rule(data=st.data(), used=st.integers(0, 150), unsent=st.booleans())
    def settle_again(self, data, used, unsent):
        """A redelivered settle (the worker died after settling, before acknowledging)."""
        r = self.pick(data, [r for r in self.reservations if r.state == "settled"])
        if r is None:
            return
        assert self.bucket.settle(r.bucket, r.harvest, "unit", r.name, min(used, r.granted), unsent=unsent) == 0

    @staticmethod
    def pick(data, reservations: list[Reservation]) -> Reservation | None:
        # A rule that finds nothing to do does nothing (rather than a precondition, which makes
        # Hypothesis give up on many sequences while it looks for an enabled rule).
        return data.draw(st.sampled_from(reservations)) if reservations else None

    @rule(bucket=st.sampled_from(BUCKETS), one_in_four=st.integers(0, 3))
    def mark_spent(self, bucket, one_in_four):
        """TikTok keeps answering 429 (now and then only: it stops the bucket for hours)."""
        if one_in_four:
            return
        m, now, day = self.model[bucket], self.now(), self.today()
        reopen = now + GRACE_PAUSE_S if now - day * DAY < GRACE_S else (day + 1) * DAY + RESET_MARGIN_S
        m.spent_until = max(m.spent_until, reopen)
        assert abs(self.bucket.mark_spent(bucket) - (m.spent_until - now)) < TOLERANCE_S

    # --- what must hold after every step --------------------------------------------------------
    @invariant()
    def bucket_counts_are_the_reservations_net_of_refunds(self):
        for name, m in self.model.items():
            stored = self.redis.hmget(self.keys.quota(name), "day", "requests", "records")
            if m.day is None:
                assert stored == [None, None, None]
                continue
            day, requests, records = (int(value) for value in stored)
            mine = [r for r in self.reservations if r.bucket == name and r.day == m.day]
            assert day == m.day
            assert requests == m.requests == sum(not r.request_back for r in mine)
            assert records == m.records == sum(r.granted - r.refunded for r in mine)

    @invariant()
    def no_day_grants_past_its_limits(self):
        for name, m in self.model.items():
            for day in {r.day for r in self.reservations if r.bucket == name}:
                of_day = [r for r in self.reservations if r.bucket == name and r.day == day]
                assert sum(not r.request_back for r in of_day) <= m.limits.daily_requests
                assert sum(r.granted - r.refunded for r in of_day) <= m.limits.daily_records

    @invariant()
    def unsettled_reservations_stay_until_settled_once(self):
        for name in self.model:
            for day in {r.day for r in self.reservations if r.bucket == name}:
                stored = self.redis.hgetall(self.keys.reservations(name, day))
                held = {r.name.encode(): str(r.granted).encode() for r in self.reservations
                        if r.bucket == name and r.day == day and not r.removed}
                assert stored == held

    @invariant()
    def shares_and_peek_agree_with_the_model(self):
        today = self.today()
        for name, m in self.model.items():
            for day, shares in m.shares.items():
                stored = self.redis.hgetall(self.keys.quota_shares(name, day))
                assert {h.decode(): int(n) for h, n in stored.items()} == shares
            view = self.bucket.peek(name, m.limits)
            counted = m.day == today
            assert (view.requests_used, view.records_used) == ((m.requests, m.records) if counted else (0, 0))


BucketMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=40, deadline=None, database=None)
TestQuotaBucketStateMachine = BucketMachine.TestCase
