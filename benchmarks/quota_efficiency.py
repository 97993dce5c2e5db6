"""The fair share against an idle budget: two harvests on one key from noon to midnight UTC,
on the real bucket (Lua, Redis) with its clock moved along in simulated seconds.

Harvest `slow` asks once every two minutes; harvest `eager` always has work: PARKED messages
that ask, are refused for the fair share and park again with the workers' back-off
(workers/actors.py: 1, 2, 4 ... 30 s, plus the same jitter), or are granted and give way to
the next message of its queue. Reported: the share of the day's budget used by midnight while
`eager` still had work queued (the budget left idle), and the bucket calls and Redis round
trips a parked message makes per minute (a wake: the take, then the enqueue of its copy,
the hand-over of its unit and the parked-set update: four round trips).
"""

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass

import redis as redis_py

from core.keys import Keys
from schemas.credentials import Credential
from workers.actors import FAIR_BACK_OFF_STEPS, MAX_FAIR_WAIT_S, PARK_JITTER_S
from workers.quota import QuotaBucket

DAY_LIMIT = 1000
PARKED = 50  # eager's messages waiting at any time
SLOW_EVERY_S = 120
ROUND_TRIPS_PER_WAKE = 4
KEY = Credential(project="bench", client_key="k", client_secret="s", access_start=dt.date(2025, 1, 1),
                 access_end=dt.date(2027, 12, 31), daily_requests=DAY_LIMIT, daily_records=10**9)


@dataclass
class QuotaEfficiency:
    used: int  # requests granted by midnight
    slow: int
    eager: int
    eager_refusals: int  # fair-share refusals met by eager's parked messages
    takes_per_parked_minute: float
    seconds: float  # wall time of the simulation


def measure_quota_efficiency(redis_url: str, *, start_hour: int = 12, seed: int = 5) -> QuotaEfficiency:
    client = redis_py.Redis.from_url(redis_url)
    keys = Keys(f"bench-quota-{uuid.uuid4().hex[:8]}")
    rng = random.Random(seed)
    midnight = (time.time() // 86400 + 1) * 86400
    began = time.perf_counter()
    try:
        start = midnight - (24 - start_hour) * 3600
        wakes = [(start + rng.uniform(0, 1), 0) for _ in range(PARKED)]  # (when, fair waits so far)
        counts = {"slow": 0, "eager": 0, "refused": 0, "eager_takes": 0}
        unit = 0
        for second in range(int(midnight - start)):
            now = start + second
            bucket = QuotaBucket(client, keys, clock_offset_s=now - time.time())
            if second % SLOW_EVERY_S == 0:
                unit += 1
                counts["slow"] += bucket.take("key", KEY, "slow", f"slow|{unit}", 1).granted
            due = [w for w in wakes if w[0] <= now]
            wakes = [w for w in wakes if w[0] > now]
            for _, repeats in due:
                unit += 1
                counts["eager_takes"] += 1
                grant = bucket.take("key", KEY, "eager", f"eager|{unit}", 1)
                if grant.granted:
                    counts["eager"] += 1
                    wakes.append((now + 0.01, 0))  # the next message of its queue
                elif grant.why == "fair_share":
                    counts["refused"] += 1
                    wait_s = min(grant.wait_s * 2 ** repeats, MAX_FAIR_WAIT_S)
                    jitter = min(PARK_JITTER_S[1], max(PARK_JITTER_S[0], wait_s / 10))
                    wakes.append((now + wait_s + rng.uniform(0, jitter), min(repeats + 1, FAIR_BACK_OFF_STEPS)))
                else:  # the day is spent: nothing more to ask until midnight
                    wakes.append((midnight, 0))
        minutes = (midnight - start) / 60
        return QuotaEfficiency(counts["slow"] + counts["eager"], counts["slow"], counts["eager"], counts["refused"],
                               counts["eager_takes"] / PARKED / minutes, time.perf_counter() - began)
    finally:
        for key in client.scan_iter(match=f"{keys.namespace}:*", count=1000):
            client.delete(key)
        client.close()
