"""Quota efficiency on a mixed set of specs sharing one key: a dense month (two big regions),
a sparse half year (one account), empty months (a word nobody uses) and very active accounts
with their authors' profiles. The key's day (LIMIT requests, TikTok's simulator holding the
same limit on the same clock) is spent before the work is, so the fleet parks at midnight
and finishes the next day.

Reported: the requests spent against the least any client could spend (one request per 100
videos of each window the harvests ask, at least one a window; one per distinct author, since
profiles are shared between a project's harvests), the share of the first day's budget used
while work was queued, and the 429s TikTok answered (ours to avoid: the bucket must never let
the fleet ask more than the day holds).
"""

import datetime as dt
import json
import math
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import redis

from benchmarks.fleet_run import tear_down, wait_for_workers
from core.config import Settings
from core.keys import Keys
from core.messages import producer_broker
from harvest_cli.processes import Fleet, start_simulator
from producers.submission import prepare, start
from workers.progress import HarvestStore
from workers.storage import Storage

LIMIT = 150  # the key's requests a day: below what the four harvests need together
TO_MIDNIGHT_S = 25.0  # the fleet starts this long before the (simulated) UTC midnight
SPECS: list[dict] = [
    {"id": "mixed_dense", "collect": ["videos"], "period": "20240301-20240331",
     "query": {"or": [{"field_name": "region_code", "operation": "IN", "field_values": ["BE", "NL"]}]}},
    {"id": "mixed_sparse", "accounts": ["hln_be"], "collect": ["videos"], "period": "20240101-20240630"},
    {"id": "mixed_empty", "keywords": ["zzyzxnooneusesthis"], "collect": ["videos"], "period": "20240101-20240430"},
    {"id": "mixed_active", "accounts": ["vrtnws", "hln_be"], "keywords": ["klimaat"], "regions": ["BE", "NL"],
     "collect": ["videos", "users"], "period": "20240401-20240410"},
]


@dataclass
class MixedRun:
    requests: int  # research requests the harvests spent
    lower_bound: int  # the least a client could spend on the same results
    first_day_used: int  # requests granted before midnight, while work was queued
    status_429: int  # TikTok's 429 answers: requests over its limit
    seconds: float
    per_harvest: dict[str, tuple[int, int]]  # id -> (requests, lower bound)


def measure_mixed_quota(workdir: Path, redis_url: str, timeout_s: float = 300) -> MixedRun:
    folder = workdir / "mixed-quota"
    folder.mkdir(parents=True, exist_ok=True)
    credentials = _key_file(folder / "credentials.toml")
    simulator, api_url = start_simulator(log_dir=folder, credentials=credentials,
                                         extra=["--daily-requests", str(LIMIT), "--daily-records", "100000000"])
    client = redis.Redis.from_url(redis_url)
    namespace = f"bench-mixed-{uuid.uuid4().hex[:8]}"
    now_s, now_us = client.time()
    now = now_s + now_us / 1e6
    offset = (now // 86400 + 1) * 86400 - now - TO_MIDNIGHT_S
    midnight = time.monotonic() + TO_MIDNIGHT_S
    # TikTok's day and ours turn at the same moment.
    httpx.post(f"{api_url}/_sim/clock", json={"offset_s": offset}).raise_for_status()
    settings = Settings(redis_url=redis_url, api_base_url=api_url, data_dir=folder / "data", namespace=namespace,
                        credentials_file=credentials, metrics_port=0, quota_clock_offset_s=offset)
    env = dict(os.environ, REDIS_URL=redis_url, TIKTOK_API_BASE_URL=api_url, HARVEST_DATA_DIR=str(settings.data_dir),
               HARVEST_CREDENTIALS_FILE=str(credentials), HARVEST_NAMESPACE=namespace, HARVEST_METRICS_PORT="0",
               LOG_LEVEL="WARNING", HARVEST_QUOTA_CLOCK_OFFSET_S=str(offset))
    store = HarvestStore(client, Keys(namespace))
    fleet = None
    try:
        broker = producer_broker(settings, client)
        plans = [prepare(spec | {"project": "mixed"}, settings) for spec in SPECS]
        fleet = Fleet(env, processes=2, threads=16, log_path=folder / "workers.log").start()
        wait_for_workers(fleet, 2)
        began = time.monotonic()
        for plan in plans:
            start(plan, settings, broker, redis=client)
        first_day = _used_until(client, Keys(namespace), midnight - 0.3)
        while not all(store.registered_status(plan.id).state in ("done", "failed") for plan in plans):
            if time.monotonic() - began > timeout_s:
                states = {p.id: (store.registered_status(p.id).state, store.registered_status(p.id).requests)
                          for p in plans}
                raise RuntimeError(f"the mixed harvests did not finish in {timeout_s:.0f} s: {states}")
            time.sleep(0.2)
        seconds = time.monotonic() - began
        stats = httpx.get(f"{api_url}/_sim/stats").json()["clients"]["key-mixed"]
        per_harvest: dict[str, tuple[int, int]] = {}
        pages, authors = 0, set[str]()
        for plan in plans:
            own_pages = sum(max(1, math.ceil(len(_truth(api_url, plan, window)) / 100)) for window in plan.windows)
            own_authors = _authors(Storage(settings.data_dir), plan) if "users" in plan.collect else set()
            per_harvest[plan.id] = (store.registered_status(plan.id).requests, own_pages + len(own_authors))
            pages, authors = pages + own_pages, authors | own_authors
        requests = sum(spent for spent, _ in per_harvest.values())
        lower = pages + len(authors)
        return MixedRun(requests, lower, first_day, stats["status_429"], seconds, per_harvest)
    finally:
        tear_down(fleet, simulator, client, namespace)


def _used_until(client, keys: Keys, moment: float) -> int:
    """The key's requests granted by `moment` (monotonic), just before the bucket's day turns."""
    used = 0
    while time.monotonic() < moment:
        used = int(client.hget(keys.quota("mixed"), "requests") or 0)
        time.sleep(0.1)
    return used


def _truth(api_url: str, plan, window: str) -> list[str]:
    start_date, end_date = window.split(".")[0].split("-")
    response = httpx.post(f"{api_url}/_sim/ground_truth", timeout=60, json={
        "query": msgspec.to_builtins(plan.query), "start_date": start_date, "end_date": end_date})
    response.raise_for_status()
    return response.json()["ids"]


def _authors(storage: Storage, plan) -> set[str]:
    found = set()
    for path in storage.source_dir(plan).glob(Storage.PAGE_FILES):
        found |= {v["username"] for v in json.loads(path.read_bytes())["data"]["videos"] if v.get("username")}
    return found


def _key_file(path: Path) -> Path:
    today = dt.datetime.now(dt.UTC).date()
    path.write_text(f"[credentials.mixed]\nproject = \"mixed\"\nclient_key = \"key-mixed\"\n"
                    f"client_secret = \"{secrets.token_urlsafe(16)}\"\naccess_start = {today - dt.timedelta(days=1)}\n"
                    f"access_end = {today + dt.timedelta(days=700)}\ndaily_requests = {LIMIT}\n")
    return path
