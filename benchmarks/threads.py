"""Threads per worker process at 300 ms of API latency, and the midnight burst.

Calls wait on the network, so threads are cheap: for 4, 8, 16 and 32 threads per process
(2 processes) this measures a harvest's wall time (against one sequential client), worker
CPU and memory, and Redis commands per call. Then the burst at 00:00 UTC: KEYS projects,
each with its own key and a day of work, parked until midnight (or queued, the first
project's messages first, for a fleet that starts late); how long until every key's day is
spent, how late the last key got its first request (no key may starve the others), and how
far apart the keys' days ended.
"""

import datetime as dt
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from benchmarks.fleet_run import Bench, cpu_seconds, tear_down, wait_for_workers
from core.config import Settings
from core.keys import Keys
from core.messages import producer_broker
from harvest_cli.processes import Fleet, start_simulator
from producers.submission import prepare, start

KEYS = 50
PER_KEY = 40  # requests a key's day holds here (TikTok's is 1,000: the burst is scaled down 25 times)
LATENCY_MS = 300
TO_MIDNIGHT_S = 40.0  # the midnight burst: time to queue the work, start the fleet and park it all


@dataclass
class ThreadsRun:
    threads: int
    seconds: float
    requests: int
    worker_cpu_s: float
    worker_rss_mib: float
    redis_commands_per_call: float


@dataclass
class Burst:
    threads: int
    all_spent_s: float  # until every key's day was spent
    last_first_request_s: float  # the latest first request of any key
    spent_spread_s: float  # the first key's day spent to the last's
    worker_cpu_s: float


def measure_threads(bench: Bench, spec: dict, threads: int) -> ThreadsRun:
    r = bench.run(spec | {"id": f"bench_threads_{threads}"}, processes=2, threads=threads)
    return ThreadsRun(threads, r.seconds, r.requests, r.worker_cpu_s, r.worker_rss_mib, r.redis_commands / r.calls)


def measure_burst(workdir: Path, redis_url: str, spec: dict, threads: int, timeout_s: float = 900, *,
                  at_midnight: bool = False) -> Burst:
    """`at_midnight`: every key's day is spent when the work is queued, so the fleet parks it
    all until 00:00 UTC (the fleet's clock set TO_MIDNIGHT_S before one) and meets it as the
    buckets reset, each message back at midnight plus its jitter; times count from midnight.
    Otherwise the work waits queued in the order it was submitted and times count from the
    fleet's start (a fleet that was down at midnight)."""
    folder = workdir / f"burst-{threads}{'-midnight' if at_midnight else ''}"
    folder.mkdir(parents=True, exist_ok=True)
    credentials = _keys_file(folder / "credentials.toml")
    simulator, api_url = start_simulator(log_dir=folder, credentials=credentials,
                                         extra=["--daily-requests", "1000000", "--daily-records", "100000000"])
    client = redis.Redis.from_url(redis_url)
    namespace = f"bench-burst-{uuid.uuid4().hex[:8]}"
    keys = Keys(namespace)
    offset, midnight = 0.0, 0.0
    if at_midnight:
        now_s, now_us = client.time()
        now = now_s + now_us / 1e6
        offset = (now // 86400 + 1) * 86400 - now - TO_MIDNIGHT_S
        midnight = time.monotonic() + TO_MIDNIGHT_S
    settings = Settings(redis_url=redis_url, api_base_url=api_url, data_dir=folder / "data", namespace=namespace,
                        credentials_file=credentials, metrics_port=0, quota_clock_offset_s=offset)
    env = {"REDIS_URL": redis_url, "TIKTOK_API_BASE_URL": api_url, "HARVEST_DATA_DIR": str(settings.data_dir),
           "HARVEST_CREDENTIALS_FILE": str(credentials), "HARVEST_NAMESPACE": namespace,
           "HARVEST_METRICS_PORT": "0", "LOG_LEVEL": "WARNING", "HARVEST_QUOTA_CLOCK_OFFSET_S": str(offset)}
    fleet = None
    try:
        # The day's work is queued before midnight, the first project's messages first; the
        # fleet meets it all at once when the buckets open.
        broker = producer_broker(settings, client)
        day = int((time.time() + offset) // 86400)  # the UTC day number whose spending is watched
        if at_midnight:  # the day before midnight: its budgets spent
            for n in range(KEYS):
                client.hset(keys.quota(f"k{n:02d}"), mapping={"day": day, "requests": PER_KEY, "records": 0})
            day += 1
        for n in range(KEYS):
            start(prepare(spec | {"id": f"burst_{n:02d}", "project": f"p{n:02d}"}, settings), settings, broker,
                  redis=client)
        httpx.post(f"{api_url}/_sim/config", json={"latency_ms": LATENCY_MS}).raise_for_status()
        fleet = Fleet(dict(os.environ, **env), processes=2, threads=threads, log_path=folder / "workers.log").start()
        pids = wait_for_workers(fleet, 2)
        if at_midnight:
            if time.monotonic() > midnight - 2:
                raise RuntimeError("the fleet started too late to park the work before midnight")
            time.sleep(midnight - time.monotonic())
        began = time.monotonic()
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        first, spent = _watch(client, keys, began, timeout_s, day)
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        return Burst(threads, max(spent.values()), max(first.values()), max(spent.values()) - min(spent.values()),
                     cpu)
    finally:
        tear_down(fleet, simulator, client, namespace)


def _watch(client, keys: Keys, began: float, timeout_s: float,
           day: int) -> tuple[dict[str, float], dict[str, float]]:
    """When each key got its first request of `day` (the UTC day number), and when that day
    was spent (seconds from the start)."""
    names = [f"k{n:02d}" for n in range(KEYS)]
    first: dict[str, float] = {}
    spent: dict[str, float] = {}
    while len(spent) < KEYS:
        if time.monotonic() - began > timeout_s:
            raise RuntimeError(f"only {len(spent)} of {KEYS} keys spent after {timeout_s:.0f} s")
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(keys.quota(name), "day", "requests")
            used = [int(requests or 0) if int(bucket_day or -1) == day else 0
                    for bucket_day, requests in pipe.execute()]
        at = time.monotonic() - began
        for name, requests in zip(names, used, strict=True):
            if requests and name not in first:
                first[name] = at
            if requests >= PER_KEY and name not in spent:
                spent[name] = at
        time.sleep(0.1)
    return first, spent


def _keys_file(path: Path) -> Path:
    today = dt.datetime.now(dt.UTC).date()
    path.write_text("".join(
        f"[credentials.k{n:02d}]\nproject = \"p{n:02d}\"\nclient_key = \"burst-key-{n:02d}\"\n"
        f"client_secret = \"{secrets.token_urlsafe(16)}\"\naccess_start = {today - dt.timedelta(days=1)}\n"
        f"access_end = {today + dt.timedelta(days=700)}\ndaily_requests = {PER_KEY}\n\n"
        for n in range(KEYS)))
    return path
