"""The credential's daily budget, shared by the whole fleet.

One Lua script per operation checks and changes the bucket atomically, with Redis `TIME` as
the clock, so every process on every host sees one budget that resets at 00:00 UTC. A call
reserves up to `max_count` records before it goes out and `settle` refunds what the page did
not use. Each take has a reservation of its own (harvest, unit, delivery, attempt): a call whose
worker died before settling keeps its whole reservation counted, never refunded by the next
attempt's settle, so the bucket never counts fewer records than TikTok served.

The bucket also watches TikTok's health: when calls of several units fail with an outage sign
(5xx, time-outs, the network) and none succeeds in between, the credential stops spending:
one probe goes out per interval (2 s, doubling to a minute while probes fail), every other
call waits (`api_down`), and the first answer from TikTok ends the outage. A single unit that
keeps failing while others succeed is the window's own problem: it is told `isolated`, the
evidence pages.py needs before splitting a window.

Harvests that share a credential share its day fairly: the bucket counts each harvest's
requests, and a harvest may take one more only while the requests left after it still let
every other active harvest catch up (see take.lua). A harvest alone gets the whole day.
"""

from dataclasses import dataclass

from core import lua
from core.keys import Keys
from schemas.credentials import Credential

# TikTok may go on answering 429 a little past midnight; wait this much longer.
RESET_MARGIN_S = 120
# Persistent 429s within this long after midnight pause the credential for GRACE_PAUSE_S
# only: TikTok's reset may lag behind ours.
GRACE_S = 3600
GRACE_PAUSE_S = 600
# A harvest counts as sharing the credential's day until it has not asked for this long:
# longer than one slow API call (the client waits up to 120 s for an answer), so a harvest
# whose only chain is waiting on TikTok keeps its share.
ACTIVE_S = 150
# A harvest that must let the others catch up asks again after this long.
FAIR_WAIT_S = 1.0
# What is held back for a harvest behind is at most what it can plausibly use before the
# reset: its requests in the last RATE_SLOT_S or so (ten minutes: a harvest asking every few
# minutes has a steady rate) as a rate, at least one per ACTIVE_S, times the time left, times
# PLAUSIBLE_FACTOR, plus PLAUSIBLE_SLACK.
RATE_SLOT_S = 600
PLAUSIBLE_FACTOR = 1.5
PLAUSIBLE_SLACK = 3
# An outage: this many distinct units failing with no success in between. Three, not two: a
# couple of concurrent random 500s (user info has them for no reason) is not an outage.
OUTAGE_AFTER_UNITS = 3
FIRST_PROBE_S = 2.0
MAX_PROBE_S = 60.0


@dataclass(frozen=True)
class Grant:
    granted: bool
    records: int  # records granted (the max_count to ask for)
    wait_s: float  # when not granted: how long until the bucket can serve again
    requests_left: int
    records_left: int
    why: str = ""  # when not granted: throttled, day_spent, fair_share, api_down, paused or cancelled
    probe: bool = False  # granted while TikTok looks down: this call finds out if it is back


@dataclass(frozen=True)
class FailureVerdict:
    outage: bool  # TikTok (or the way to it) looks down: wait, do not retry
    wait_s: float  # until the next probe may go
    isolated: bool  # the failure looks tied to this unit: evidence against its window


@dataclass(frozen=True)
class BucketView:
    requests_used: int
    records_used: int
    requests_left: int | None  # None when peeked without the limits
    records_left: int | None
    reset_in_s: float
    spent_for_s: float
    harvest_requests: int = 0  # the peeked harvest's requests today
    harvests_sharing: int = 0  # harvests that asked for this credential in the last ACTIVE_S
    tiktok_down_for_s: float = 0.0  # >0: calls across units fail; only probes go out
    next_probe_in_s: float = 0.0


class QuotaBucket:
    def __init__(self, redis, keys: Keys, *, clock_offset_s: float = 0.0):
        self._redis = redis
        self._keys = keys
        self._offset = str(clock_offset_s)
        self._take = lua.register(redis, "take", __package__, "")
        self._settle = lua.register(redis, "settle", __package__, "")
        self._mark_spent = lua.register(redis, "mark_spent", __package__, "")
        self._peek = lua.register(redis, "peek", __package__, "")
        self._api_failed = lua.register(redis, "api_failed", __package__, "")

    def take(self, credential: str, limits: Credential, harvest: str, reservation: str, want_records: int,
             least_records: int = 1) -> Grant:
        """One request and up to `want_records` records (at least `least_records`, or none)
        for `harvest`, reserved under `reservation` (one per take; see `reservation`)."""
        keys = self._keys
        ok, amount, requests_left, records_left, *more = self._take(
            keys=[keys.quota(credential), keys.reservations_prefix(credential), keys.quota_active(credential),
                  keys.quota_shares_prefix(credential), keys.meta(harvest), keys.buckets_used(harvest),
                  keys.quota_rate_prefix(credential)],
            args=[limits.daily_requests, limits.daily_records, want_records, reservation,
                  self._offset, least_records, harvest, ACTIVE_S, int(FAIR_WAIT_S * 1000), credential,
                  RATE_SLOT_S, PLAUSIBLE_FACTOR, PLAUSIBLE_SLACK],
        )
        if ok:
            return Grant(True, int(amount), 0.0, int(requests_left), int(records_left), probe=bool(int(more[0])))
        return Grant(False, 0, int(amount) / 1000, int(requests_left), int(records_left), _text(more[0]))

    def settle(self, credential: str, harvest: str, unit: str, reservation: str, used_records: int, *,
               unsent: bool = False, answered: bool = True) -> int:
        """Refund what `reservation` reserved beyond `used_records`; with `unsent`, the call
        never went out and its request is given back too. `answered`: TikTok answered with
        something other than an outage sign, so it is up. Returns the records refunded."""
        keys = self._keys
        return int(self._settle(
            keys=[keys.quota(credential), keys.reservations_prefix(credential), keys.quota_shares_prefix(credential),
                  keys.quota_failing(credential)],
            args=[reservation, used_records, self._offset, "1" if unsent else "0", harvest,
                  "1" if answered else "0", _member(harvest, unit)],
        ))

    def api_failed(self, credential: str, harvest: str, unit: str, *, probe: bool) -> FailureVerdict:
        """A call of `unit` failed with an outage sign: is TikTok down, or is it this unit?"""
        outage, wait_ms, isolated = self._api_failed(
            keys=[self._keys.quota(credential), self._keys.quota_failing(credential)],
            args=[_member(harvest, unit), self._offset, "1" if probe else "0", OUTAGE_AFTER_UNITS,
                  FIRST_PROBE_S, MAX_PROBE_S],
        )
        return FailureVerdict(bool(outage), int(wait_ms) / 1000, bool(isolated))

    def mark_spent(self, credential: str, margin_s: float = RESET_MARGIN_S) -> float:
        """The API says the day's quota is gone: stop the fleet asking until after midnight."""
        ms = self._mark_spent(keys=[self._keys.quota(credential)],
                              args=[self._offset, margin_s, GRACE_S, GRACE_PAUSE_S])
        return int(ms) / 1000

    def peek(self, credential: str, limits: Credential | None = None, harvest: str = "") -> BucketView:
        """Today's bucket; with `harvest`, also that harvest's requests today."""
        keys = self._keys
        requests, records, reset_ms, spent_ms, mine, sharing, down_ms, probe_ms = self._peek(
            keys=[keys.quota(credential), keys.quota_active(credential), keys.quota_shares_prefix(credential)],
            args=[self._offset, harvest, ACTIVE_S],
        )
        return BucketView(
            requests_used=int(requests),
            records_used=int(records),
            requests_left=max(0, limits.daily_requests - int(requests)) if limits else None,
            records_left=max(0, limits.daily_records - int(records)) if limits else None,
            reset_in_s=int(reset_ms) / 1000,
            spent_for_s=int(spent_ms) / 1000,
            harvest_requests=int(mine),
            harvests_sharing=int(sharing),
            tiktok_down_for_s=int(down_ms) / 1000,
            next_probe_in_s=int(probe_ms) / 1000,
        )


def reservation(harvest: str, unit: str, delivery: str, attempt: int) -> str:
    """One take's reservation: unit names repeat across harvests, and a unit is taken for
    again by every delivery and every resend."""
    return f"{harvest}|{unit}|{delivery}:{attempt}"


def _member(harvest: str, unit: str) -> str:
    return f"{harvest}|{unit}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
