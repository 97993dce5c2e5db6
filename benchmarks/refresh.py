"""What a compliance refresh costs: research requests per 10,000 stored videos, when 5% of
a harvest's videos were deleted on TikTok since (the share gone does not change the cost:
every stored video is asked about once)."""

import time
from dataclasses import dataclass

import httpx
import redis

from benchmarks.fleet_run import Bench, wait_for_workers
from core.keys import Keys
from core.messages import producer_broker
from harvest_cli.processes import Fleet
from producers import refresh
from producers.submission import prepare, start
from workers.progress import HarvestStore
from workers.retention import retention_s
from workers.storage import Storage
from workers.stored_videos import stored_videos

DELETED_EVERY = 20  # one video in 20: 5%


@dataclass(frozen=True)
class RefreshCost:
    videos: int  # stored, asked about
    requests: int
    batches: int
    gone: int
    seconds: float  # from `refresh` to the records moved

    @property
    def per_10k(self) -> float:
        return 10_000 * self.requests / self.videos


def measure_refresh(bench: Bench, spec: dict) -> RefreshCost:
    namespace, settings, env = bench.namespace()
    client = redis.Redis.from_url(bench.redis_url)
    store = HarvestStore(client, Keys(namespace))
    fleet = Fleet(env, processes=2, threads=4, log_path=bench.workdir / f"{namespace}.log").start()
    broker = producer_broker(settings, client)
    storage = Storage(settings.data_dir)
    try:
        wait_for_workers(fleet, 2)
        plan = prepare(spec, settings)
        start(plan, settings, broker, redis=client)
        while store.registered_status(plan.id).state != "done":
            time.sleep(0.05)
        dated, _ = stored_videos(storage, plan)
        gone = sorted(video_id for video_id, _ in dated)[::DELETED_EVERY]
        httpx.post(f"{bench.api_url}/_sim/delete_videos", json={"ids": gone}, timeout=60).raise_for_status()
        try:
            began = time.monotonic()
            refresh.start(client, Keys(namespace), broker, plan.id, lambda p: stored_videos(storage, p),
                          keep_s=retention_s(settings))
            while (done := store.registered_status(plan.id).refresh) is None or done.state != "done":
                if not fleet.alive():
                    raise RuntimeError(f"workers exited; see {fleet.log_path}")
                time.sleep(0.05)
            seconds = time.monotonic() - began
        finally:
            httpx.post(f"{bench.api_url}/_sim/restore_videos", json={"ids": gone}, timeout=60)
        assert done.gone == len(gone), done
        return RefreshCost(done.videos, done.requests, done.batches, done.gone, seconds)
    finally:
        fleet.stop()
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            client.delete(key)
